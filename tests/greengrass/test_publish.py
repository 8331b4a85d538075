"""`gg publish` and `gg deploy`: S3 through moto's server, Greengrass v2
through botocore's Stubber (moto has no Greengrass v2); every request checked
against botocore's service model."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from botocore.stub import ANY, Stubber
from botocore.validate import validate_parameters

from edgechat.greengrass import deploy as deploys
from edgechat.greengrass.build import build_all
from edgechat.greengrass.publish import PublishError, bucket_name, for_publishing, next_patch, publish
from tests.support.moto import running_moto

from .conftest import FakeWheels

REGION = "eu-west-1"
ACCOUNT = "123456789012"  # moto's
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": REGION}


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    """A moto_server of this module's own: publish tests want fresh buckets."""
    with running_moto() as url:
        yield url


def aws(service: str, url: str | None = None) -> Any:
    return boto3.client(service, endpoint_url=url, **CREDENTIALS)


def checked(client: Any, operation: str, params: dict[str, Any]) -> dict[str, Any]:
    """``params`` validated against the service model, as the expectation for a stub."""
    shape = client.meta.service_model.operation_model(operation).input_shape
    validate_parameters(params, shape)
    return params


@pytest.fixture
def built(tmp_path: Path, project: Path) -> Path:
    out = tmp_path / "greengrass-build"
    build_all(out, names=["Broker", "Router"], version="1.0.4", source=FakeWheels(), root=project)
    return out


def test_next_patch_and_bucket_naming_follow_gdk() -> None:
    assert next_patch([]) == "1.0.0"
    assert next_patch(["1.0.0", "1.0.9", "1.0.10", "0.9.0", "2.0.0-beta"]) == "1.0.11"
    assert bucket_name("edgechat", REGION, ACCOUNT) == "edgechat-eu-west-1-123456789012"


def test_publish_uploads_and_creates_component_versions(built: Path, moto_url: str) -> None:
    s3, gg = aws("s3", moto_url), aws("greengrassv2")
    arn = f"arn:aws:greengrass:{REGION}:{ACCOUNT}:components:"
    recipes_sent: list[dict[str, Any]] = []
    with Stubber(gg) as stub:
        for name in ("edgechat.Broker", "edgechat.Router"):  # sorted, as publish goes
            stub.add_response(
                "list_component_versions",
                {
                    "componentVersions": [
                        {"componentName": name, "componentVersion": "1.0.7", "arn": arn + name}
                    ],
                },
                checked(gg, "ListComponentVersions", {"arn": arn + name}),
            )
            stub.add_response(
                "create_component_version",
                {
                    "arn": f"{arn}{name}:versions:1.0.8",
                    "componentName": name,
                    "componentVersion": "1.0.8",
                    "creationTimestamp": 0,
                    "status": {"componentState": "REQUESTED"},
                },
                {"inlineRecipe": ANY},
            )
        gg.meta.events.register(
            "provide-client-params.greengrassv2.CreateComponentVersion",
            lambda params, **_: recipes_sent.append(yaml.safe_load(params["inlineRecipe"])),
        )
        done = publish(
            built,
            s3=s3,
            greengrass=gg,
            sts=aws("sts", moto_url),
            bucket="edgechat",
            region=REGION,
            next_patch_version=True,
        )
        stub.assert_no_pending_responses()
    assert [(n, v) for n, v, _ in done] == [("edgechat.Broker", "1.0.8"), ("edgechat.Router", "1.0.8")]
    bucket = f"edgechat-{REGION}-{ACCOUNT}"
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"])
    assert keys == [
        f"{n}/1.0.8/{f}"
        for n in ("edgechat.Broker", "edgechat.Router")
        for f in ("wheels-aarch64.zip", "wheels-amd64.zip", "wheels-any.zip")
    ]
    assert len(recipes_sent) == 2
    for recipe in recipes_sent:
        assert recipe["ComponentVersion"] == "1.0.8"
        uris = [a["Uri"] for m in recipe["Manifests"] for a in m["Artifacts"]]
        assert all(u.startswith(f"s3://{bucket}/{recipe['ComponentName']}/1.0.8/") for u in uris)
    assert json.loads((built / "published.json").read_text()) == {
        "edgechat.Broker": "1.0.8",
        "edgechat.Router": "1.0.8",
    }


def test_publish_keeps_a_fixed_version_and_an_exact_bucket(built: Path, moto_url: str) -> None:
    s3, gg = aws("s3", moto_url), aws("greengrassv2")
    with Stubber(gg) as stub:
        stub.add_response(
            "create_component_version",
            {
                "arn": "arn:aws:greengrass:eu-west-1:123456789012:components:edgechat.Router:versions:1.0.4",
                "componentName": "edgechat.Router",
                "componentVersion": "1.0.4",
                "creationTimestamp": 0,
                "status": {"componentState": "REQUESTED"},
            },
            {"inlineRecipe": ANY},
        )
        done = publish(
            built,
            s3=s3,
            greengrass=gg,
            sts=aws("sts", moto_url),
            bucket="my-exact-bucket",
            region=REGION,
            exact_bucket=True,
            names=["Router"],
        )
    assert [(n, v) for n, v, _ in done] == [("edgechat.Router", "1.0.4")]
    assert s3.head_object(Bucket="my-exact-bucket", Key="edgechat.Router/1.0.4/wheels-any.zip")


def test_publish_without_built_artifacts_says_so(tmp_path: Path, project: Path, moto_url: str) -> None:
    out = tmp_path / "b"
    build_all(out, names=["Router"], fetch=False, root=project)
    with pytest.raises(PublishError, match="no --no-wheels"):
        publish(
            out,
            s3=aws("s3", moto_url),
            greengrass=aws("greengrassv2"),
            sts=aws("sts", moto_url),
            bucket="edgechat",
            region=REGION,
        )


def test_for_publishing_rewrites_only_s3_uris() -> None:
    recipe = {
        "ComponentName": "c",
        "ComponentVersion": "NEXT_PATCH",
        "Manifests": [
            {
                "Artifacts": [
                    {"Uri": "s3://BUCKET_NAME/COMPONENT_NAME/COMPONENT_VERSION/a.zip"},
                    {"Uri": "docker:x/y"},
                ]
            }
        ],
    }
    out = for_publishing(recipe, bucket="b", version="1.0.1")
    assert [a["Uri"] for a in out["Manifests"][0]["Artifacts"]] == ["s3://b/c/1.0.1/a.zip", "docker:x/y"]
    assert recipe["ComponentVersion"] == "NEXT_PATCH"  # the input is left alone


def test_deploy_merges_and_resets_configuration(built: Path) -> None:
    gg = aws("greengrassv2")
    target = f"arn:aws:iot:{REGION}:{ACCOUNT}:thinggroup/edgechat-pis"
    request = deploys.plan(
        target,
        deploys.built_versions(built),
        merges={"edgechat.Router": {"siteId": "site-a", "retentionDays": 7}},
        resets={"edgechat.Broker": ["/maxConnections"]},
    )
    with Stubber(gg) as stub:
        stub.add_response(
            "create_deployment", {"deploymentId": "d-1"}, checked(gg, "CreateDeployment", request)
        )
        assert deploys.deploy(gg, request) == "d-1"
    components = request["components"]
    assert components["edgechat.Broker"] == {
        "componentVersion": "1.0.4",
        "configurationUpdate": {"reset": ["/maxConnections"]},
    }
    assert json.loads(components["edgechat.Router"]["configurationUpdate"]["merge"]) == {
        "siteId": "site-a",
        "retentionDays": 7,
    }
    assert request["deploymentPolicies"]["failureHandlingPolicy"] == "ROLLBACK"


def test_deploy_refuses_what_it_cannot_mean(built: Path) -> None:
    with pytest.raises(deploys.DeployError, match="thing"):
        deploys.plan("arn:aws:iot:eu-west-1:1:policy/x", {"edgechat.Router": "1.0.0"})
    with pytest.raises(deploys.DeployError, match="not deployed"):
        deploys.plan(
            "arn:aws:iot:eu-west-1:1:thing/pi", {"edgechat.Router": "1.0.0"}, merges={"edgechat.Web": {}}
        )
