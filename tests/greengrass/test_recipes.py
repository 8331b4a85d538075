"""The recipe builder (pure) and what `gg build` writes."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import jsonschema
import pytest
import yaml

from edgechat.greengrass import catalogue, recipe
from edgechat.greengrass.build import PROJECT_ROOT, build_all, build_for_gdk, gdk_project, make_recipe
from edgechat.greengrass.catalogue import CATALOGUE, Component, Permission
from edgechat.settings import Settings

from .conftest import FakeWheels, reference_schema

ARCHES = ("amd64", "aarch64")


@pytest.fixture
def built(tmp_path: Path, project: Path) -> dict[str, Path]:
    out = tmp_path / "greengrass-build"
    return {b.name: b.recipe for b in build_all(out, source=FakeWheels(), root=project)}


def test_every_recipe_is_valid_for_gdk_and_small(built: dict[str, Path]) -> None:
    schema = reference_schema("gdk-recipe-schema.json")
    for name, path in built.items():
        text = path.read_text()
        assert len(text.encode()) < recipe.MAX_RECIPE_BYTES, name
        jsonschema.validate(recipe.lower_keys(yaml.safe_load(text)), schema)


def test_recipes_have_the_shape_both_nuclei_accept(built: dict[str, Path]) -> None:
    """The schema's own equivalent, kept here so it runs without ../shared."""
    assert set(built) == {c.name for c in CATALOGUE}
    for name, path in built.items():
        text = path.read_text()
        data = yaml.safe_load(text)
        assert data["RecipeFormatVersion"] == "2020-01-25"
        assert data["ComponentName"] == name
        assert 'ComponentVersion: "1.0.0"' in text  # quoted, never a YAML number
        arches = catalogue.by_name(name).architectures
        assert [m["Platform"]["architecture"] for m in data["Manifests"]] == list(arches)
        for manifest in data["Manifests"]:
            assert manifest["Platform"]["os"] == "linux"
            assert set(manifest["Lifecycle"]) <= {"install", "run", "shutdown", "startup", "recover"}
            assert 'python3" -u -m' in manifest["Lifecycle"]["run"]["Script"]
            assert "@" not in json.dumps(manifest["Lifecycle"]).replace("$@", "")  # all placeholders filled
            for artifact in manifest["Artifacts"]:
                assert set(artifact) == {"Uri", "Unarchive"}
                assert artifact["Uri"].startswith("s3://BUCKET_NAME/COMPONENT_NAME/COMPONENT_VERSION/")
        for dep in data.get("ComponentDependencies", {}).values():
            assert 'VersionRequirement: ">=1.0.0 <2.0.0"' in text
            assert dep["DependencyType"] == "HARD"


def test_default_configuration_maps_onto_settings(built: dict[str, Path]) -> None:
    from edgechat.greengrass import configuration

    for component in CATALOGUE:
        data = yaml.safe_load(built[component.name].read_text())
        config = data["ComponentConfiguration"]["DefaultConfiguration"]
        settings = configuration.apply(Settings(), config, allowed=component.settings)
        assert settings.to_json()  # every key is a Settings field with a valid value
        # only Sync calls an authorized operation (IoT Core through the nucleus)
        assert ("accessControl" in config) == bool(component.permissions)
    sync = yaml.safe_load(built["edgechat.Sync"].read_text())["ComponentConfiguration"]
    policies = sync["DefaultConfiguration"]["accessControl"]["aws.greengrass.ipc.mqttproxy"].values()
    allowed = {(op, r) for p in policies for op in p["operations"] for r in p["resources"]}
    assert allowed == {
        ("aws.greengrass#PublishToIoTCore", "sync/{iot:thingName}/up"),
        ("aws.greengrass#SubscribeToIoTCore", "sync/{iot:thingName}/down"),
        ("aws.greengrass#SubscribeToIoTCore", "chat/pub/+"),
    }


def test_broker_installs_mosquitto_and_owns_the_data_dir(built: dict[str, Path]) -> None:
    data = yaml.safe_load(built["edgechat.Broker"].read_text())
    assert data["ComponentConfiguration"]["DefaultConfiguration"]["dataDir"] == "/var/lib/edgechat"
    install = data["Manifests"][0]["Lifecycle"]["install"]
    assert install["RequiresPrivilege"] is True
    assert "apt-get install" in install["Script"] and "mosquitto" in install["Script"]
    router = yaml.safe_load(built["edgechat.Router"].read_text())
    assert "{edgechat.Broker:configuration:/dataDir}" in router["Manifests"][0]["Lifecycle"]["run"]["Script"]


def test_artifacts_are_written_per_architecture(tmp_path: Path, project: Path) -> None:
    out = tmp_path / "b"
    (web,) = build_all(out, names=["Web"], version="1.2.3", source=FakeWheels(), root=project)
    assert web.artifacts == out / "artifacts" / "edgechat.Web" / "1.2.3"
    assert sorted(p.name for p in web.artifacts.iterdir()) == [
        "web-dist.zip", "wheels-aarch64.zip", "wheels-amd64.zip", "wheels-any.zip",
    ]  # fmt: skip
    assert zipfile.ZipFile(web.artifacts / "web-dist.zip").namelist() == ["index.html"]
    assert zipfile.ZipFile(web.artifacts / "wheels-aarch64.zip").namelist() == ["fake-aarch64.whl"]


def test_builder_fills_permissions_and_aws_dependencies() -> None:
    """What a later component (Sync) declares comes out as accessControl."""
    sync = Component(
        name="edgechat.Broker",  # reuses the Broker's template; only the catalogue side differs
        module="edgechat.sync",
        description="sync",
        aws_requires={"aws.greengrass.TokenExchangeService": ">=2.0.0 <3.0.0"},
        permissions=(Permission("aws.greengrass.ipc.mqttproxy", ("aws.greengrass#PublishToIoTCore",),
                                ("edgechat/site-a/up",)),),
    )  # fmt: skip
    data = make_recipe(sync, "1.0.1")
    acl = data["ComponentConfiguration"]["DefaultConfiguration"]["accessControl"]
    assert acl == {"aws.greengrass.ipc.mqttproxy": {"edgechat.Broker:mqttproxy:1": {
        "policyDescription": "Broker: aws.greengrass#PublishToIoTCore",
        "operations": ["aws.greengrass#PublishToIoTCore"],
        "resources": ["edgechat/site-a/up"],
    }}}  # fmt: skip
    assert data["ComponentDependencies"]["aws.greengrass.TokenExchangeService"]["DependencyType"] == "HARD"


@pytest.mark.parametrize("version", ["1.0", "2.0.0", "v1.0.0", "1.0.0.0"])
def test_bad_versions_are_refused(version: str) -> None:
    with pytest.raises(recipe.RecipeError):
        recipe.check_version(version)


def test_unknown_placeholder_is_an_error() -> None:
    with pytest.raises(recipe.RecipeError, match="@nope@"):
        recipe.fill("run @nope@", {})


def test_oversize_recipe_is_refused() -> None:
    with pytest.raises(recipe.RecipeError, match="bytes"):
        recipe.render({"ComponentName": "x", "ComponentDescription": "x" * recipe.MAX_RECIPE_BYTES})


def test_gdk_config_is_valid(tmp_path: Path) -> None:
    schema = reference_schema("gdk-config-schema.json")
    for path in [PROJECT_ROOT / "gdk-config.json", *sorted((PROJECT_ROOT / "gdk").glob("*/gdk-config.json"))]:
        jsonschema.validate(json.loads(path.read_text()), schema)


def test_gdk_projects_match_the_builder() -> None:
    """The committed GDK projects (root: the Broker; gdk/<Name>/: the others)
    are what the builder makes; GDK's own rules checked without its schema."""
    projects = {catalogue.BROKER.name: PROJECT_ROOT}
    projects.update({c.name: PROJECT_ROOT / "gdk" / c.name for c in CATALOGUE if c is not catalogue.BROKER})
    for name, folder in projects.items():
        expected = gdk_project(catalogue.by_name(name))
        for file, text in expected.items():
            assert (folder / file).read_text() == text, f"{folder / file} is stale: edgechat gg gdk-projects"
        config = json.loads(expected["gdk-config.json"])
        assert list(config["component"]) == [name] and config["gdk_version"].count(".") == 2
        entry = config["component"][name]
        assert {"author", "version", "build", "publish"} <= set(entry)
        assert entry["build"]["build_system"] == "custom" and entry["build"]["custom_build_command"]
        assert entry["publish"]["bucket"]


def test_gdk_custom_build_writes_what_gdk_publishes(tmp_path: Path, project: Path) -> None:
    folder = tmp_path / "gdk-router"
    folder.mkdir()
    for file, text in gdk_project(catalogue.ROUTER).items():
        (folder / file).write_text(text)
    (done,) = build_for_gdk(folder, source=FakeWheels(), root=project)
    assert done.recipe == folder / "greengrass-build" / "recipes" / "recipe.yaml"
    assert done.artifacts == folder / "greengrass-build" / "artifacts" / "edgechat.Router" / "NEXT_PATCH"
    assert (done.artifacts / "wheels-any.zip").exists()


def test_gg_build_command_writes_recipes(tmp_path: Path) -> None:
    from edgechat.cli import main

    out = tmp_path / "gb"
    assert main(["gg", "build", "--no-wheels", "--component", "Router", "--out", str(out)]) == 0
    assert (out / "recipes" / "edgechat.Router.yaml").exists()
    assert main(["gg", "build", "--no-wheels", "--version", "2.0.0", "--out", str(out)]) == 2
