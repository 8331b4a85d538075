"""``edgechat gg publish``: what ``gdk component publish`` does, for every
built component: upload its artifacts to S3 under ``<Name>/<Version>/``, put
the bucket and version into the recipe, and create the component version.

GDK's rules, kept: the bucket is ``<prefix>-<region>-<account>`` unless given
exactly (created if missing); ``NEXT_PATCH`` means one patch above the highest
version already in the account, or 1.0.0 for a new component.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import yaml

from edgechat.greengrass import recipe as recipes
from edgechat.greengrass.catalogue import by_name
from edgechat.greengrass.deploy import PUBLISHED

_SEMVER = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")
FIRST_VERSION = "1.0.0"


class PublishError(Exception):
    """Publishing cannot go on; the message says why."""


# -- pure


def bucket_name(prefix: str, region: str, account: str) -> str:
    return f"{prefix}-{region}-{account}"


def next_patch(published: list[str]) -> str:
    """One patch above the highest released version (pre-releases ignored)."""
    versions = [tuple(int(x) for x in m.groups()) for v in published if (m := _SEMVER.match(v))]
    if not versions:
        return FIRST_VERSION
    major, minor, patch = max(versions)
    return f"{major}.{minor}.{patch + 1}"


def artifact_files(recipe: dict[str, Any]) -> list[str]:
    """File names of the recipe's S3 artifacts, each once, in recipe order."""
    files: list[str] = []
    for manifest in recipe.get("Manifests", []):
        for artifact in manifest.get("Artifacts", []):
            uri = artifact.get("Uri") or artifact.get("URI", "")
            name = uri.rsplit("/", 1)[-1]
            if uri.startswith("s3://") and name not in files:
                files.append(name)
    return files


def for_publishing(recipe: dict[str, Any], *, bucket: str, version: str) -> dict[str, Any]:
    """The recipe with its version and artifact URIs set, as GDK rewrites it."""
    out = copy.deepcopy(recipe)
    out["ComponentVersion"] = version
    prefix = f"s3://{bucket}/{out['ComponentName']}/{version}"
    for manifest in out.get("Manifests", []):
        for artifact in manifest.get("Artifacts", []):
            key = "Uri" if "Uri" in artifact else "URI"
            uri = artifact.get(key, "")
            if uri.startswith("s3://"):
                artifact[key] = f"{prefix}/{uri.rsplit('/', 1)[-1]}"
    return out


# -- AWS calls


def _ensure_bucket(s3: Any, bucket: str, region: str) -> None:
    from botocore.exceptions import ClientError

    try:
        s3.head_bucket(Bucket=bucket)
        return
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket", "NotFound"):
            raise PublishError(f"bucket {bucket}: {exc}") from None
    kwargs: dict[str, Any] = {"Bucket": bucket}
    if region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
    s3.create_bucket(**kwargs)


def _published_versions(greengrass: Any, arn: str) -> list[str]:
    from botocore.exceptions import ClientError

    versions: list[str] = []
    token: str | None = None
    try:
        while True:
            page = greengrass.list_component_versions(arn=arn, **({"nextToken": token} if token else {}))
            versions += [v["componentVersion"] for v in page.get("componentVersions", [])]
            token = page.get("nextToken")
            if not token:
                return versions
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return []
        raise PublishError(f"listing versions of {arn}: {exc}") from None


def publish(
    build_dir: Path,
    *,
    s3: Any,
    greengrass: Any,
    sts: Any,
    bucket: str,
    region: str,
    exact_bucket: bool = False,
    names: list[str] | None = None,
    next_patch_version: bool = False,
) -> list[tuple[str, str, str]]:
    """Publish the built components; returns (name, version, ARN) for each."""
    from botocore.exceptions import BotoCoreError, ClientError

    recipe_paths = sorted((build_dir / "recipes").glob("*.yaml"))
    if names:
        wanted = {by_name(n).name for n in names}
        recipe_paths = [p for p in recipe_paths if p.stem in wanted]
    if not recipe_paths:
        raise PublishError(f"nothing built in {build_dir}: run `edgechat gg build` first")
    done: list[tuple[str, str, str]] = []
    try:
        account = sts.get_caller_identity()["Account"]
        target = bucket if exact_bucket else bucket_name(bucket, region, account)
        _ensure_bucket(s3, target, region)
        for path in recipe_paths:
            built = yaml.safe_load(path.read_text())
            name, built_version = built["ComponentName"], built["ComponentVersion"]
            version = built_version
            if next_patch_version or built_version == recipes.NEXT_PATCH:
                partition = greengrass.meta.partition
                arn = f"arn:{partition}:greengrass:{region}:{account}:components:{name}"
                version = next_patch(_published_versions(greengrass, arn))
            artifacts = build_dir / "artifacts" / name / built_version
            for file in artifact_files(built):
                source = artifacts / file
                if not source.is_file():
                    raise PublishError(f"{name}: {source} is missing: build with wheels (no --no-wheels)")
                s3.upload_file(str(source), target, f"{name}/{version}/{file}")
            text = recipes.render(for_publishing(built, bucket=target, version=version))
            created = greengrass.create_component_version(inlineRecipe=text.encode())
            done.append((name, version, created["arn"]))
    except (ClientError, BotoCoreError) as exc:
        raise PublishError(str(exc)) from None
    published = build_dir / PUBLISHED
    record = json.loads(published.read_text()) if published.exists() else {}
    record.update({name: version for name, version, _ in done})
    published.write_text(json.dumps(record, indent=2) + "\n")
    return done
