"""``edgechat gg deploy``: one CreateDeployment for a thing or thing group.

A deployment replaces the target's previous one: a component left out is
removed from the cores.  So by default every built component is deployed
together, at the versions in greengrass-build/.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from edgechat.greengrass import recipe as recipes

ARN_PREFIXES = (":thing/", ":thinggroup/")
PUBLISHED = "published.json"  # written by `gg publish`: name -> version


class DeployError(Exception):
    """The deployment cannot be made; the message says why."""


def built_versions(build_dir: Path) -> dict[str, str]:
    """What `gg publish` last published from ``build_dir``, else what was built."""
    published = build_dir / PUBLISHED
    if published.exists():
        return dict(json.loads(published.read_text()))
    versions = {}
    for path in sorted((build_dir / "recipes").glob("*.yaml")):
        recipe = yaml.safe_load(path.read_text())
        name, version = recipe["ComponentName"], recipe["ComponentVersion"]
        if version == recipes.NEXT_PATCH:
            raise DeployError(f"{name} was built as NEXT_PATCH: publish it first, or pass --component")
        versions[name] = version
    if not versions:
        raise DeployError(f"nothing built in {build_dir}: run `edgechat gg build` or pass --component")
    return versions


def plan(
    target_arn: str,
    versions: Mapping[str, str],
    *,
    merges: Mapping[str, Any] | None = None,
    resets: Mapping[str, list[str]] | None = None,
    name: str = "edgechat",
    rollback: bool = True,
) -> dict[str, Any]:
    """The CreateDeployment request (pure).  ``merges``: configuration merged
    per component; ``resets``: JSON pointers put back to the recipe's default
    (reset runs before merge)."""
    if not target_arn.startswith("arn:") or not any(p in target_arn for p in ARN_PREFIXES):
        raise DeployError(f"{target_arn!r} is not a thing or thing group ARN")
    merges, resets = merges or {}, resets or {}
    unknown = (set(merges) | set(resets)) - set(versions)
    if unknown:
        raise DeployError(f"configuration for components not deployed: {', '.join(sorted(unknown))}")
    components: dict[str, Any] = {}
    for component, version in versions.items():
        entry: dict[str, Any] = {"componentVersion": version}
        update: dict[str, Any] = {}
        if component in merges:
            update["merge"] = json.dumps(merges[component])
        if component in resets:
            update["reset"] = list(resets[component])
        if update:
            entry["configurationUpdate"] = update
        components[component] = entry
    return {
        "targetArn": target_arn,
        "deploymentName": name,
        "components": components,
        "deploymentPolicies": {
            # A core that cannot run the new versions goes back to the previous ones.
            "failureHandlingPolicy": "ROLLBACK" if rollback else "DO_NOTHING",
            "componentUpdatePolicy": {"timeoutInSeconds": 60, "action": "NOTIFY_COMPONENTS"},
            "configurationValidationPolicy": {"timeoutInSeconds": 30},
        },
    }


def deploy(client: Any, request: Mapping[str, Any]) -> str:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return str(client.create_deployment(**request)["deploymentId"])
    except (ClientError, BotoCoreError) as exc:
        raise DeployError(str(exc)) from None
