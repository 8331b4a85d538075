"""Recipes from templates (pure: data in, data and text out).

A template (``recipes/<name>.yaml``) holds what a person writes: description,
lifecycle scripts, one manifest for ``@arch@``.  The builder fills in what
follows from the catalogue: version, DefaultConfiguration, accessControl,
dependencies, one manifest per architecture and its artifacts.  Placeholders
are ``@name@`` so they never clash with Greengrass's ``{recipe:variables}``.

Casing is the one both the classic nucleus and Nucleus Lite accept: PascalCase
recipe keys, ``Uri``, lower-case lifecycle steps (``install``, ``run``), and
versions quoted.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from edgechat.greengrass import configuration
from edgechat.greengrass.catalogue import COMPATIBLE, MAJOR, Component

RECIPE_FORMAT = "2020-01-25"
MAX_RECIPE_BYTES = 16_000  # Greengrass rejects larger recipes
# GDK replaces these in artifact URIs at publish; `edgechat gg publish` does the same.
URI_PREFIX = "s3://BUCKET_NAME/COMPONENT_NAME/COMPONENT_VERSION"
NEXT_PATCH = "NEXT_PATCH"
_PLACEHOLDER = re.compile(r"@([a-z_]+)@")
_SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$")


class RecipeError(ValueError):
    """A template or catalogue entry cannot make a valid recipe."""


@dataclass(frozen=True, slots=True)
class Artifact:
    """One archive in ``artifacts/<Name>/<Version>/``, unzipped by the nucleus."""

    file: str  # e.g. wheels-aarch64.zip
    architecture: str | None = None  # None: every manifest


def artifacts_for(component: Component) -> tuple[Artifact, ...]:
    """The archives a component ships: wheels that run anywhere, wheels per
    architecture, and its extra folders."""
    out = [Artifact("wheels-any.zip")]
    out += [Artifact(f"wheels-{arch}.zip", arch) for arch in component.architectures]
    out += [Artifact(f"{zip_name}.zip") for zip_name in component.extra_artifacts]
    return tuple(out)


def check_version(version: str) -> None:
    if version == NEXT_PATCH:
        return
    match = _SEMVER.match(version)
    if not match:
        raise RecipeError(f"component version {version!r} is not semver (major.minor.patch)")
    if int(match.group(1)) != MAJOR:
        raise RecipeError(
            f"component version {version} is not in major {MAJOR}: edgechat's components of one "
            "major work together; change catalogue.MAJOR for a breaking change"
        )


def fill(text: str, values: Mapping[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in values:
            raise RecipeError(f"unknown placeholder @{key}@")
        return values[key]

    return _PLACEHOLDER.sub(one, text)


def _fill_all(node: Any, values: Mapping[str, str]) -> Any:
    if isinstance(node, dict):
        return {fill(k, values): _fill_all(v, values) for k, v in node.items()}
    if isinstance(node, list):
        return [_fill_all(v, values) for v in node]
    if isinstance(node, str):
        return fill(node, values)
    return node


def access_control(component: Component) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for i, perm in enumerate(component.permissions, start=1):
        policy: dict[str, Any] = {
            "policyDescription": perm.description or f"{component.short}: {', '.join(perm.operations)}",
            "operations": list(perm.operations),
            "resources": list(perm.resources),
        }
        out.setdefault(perm.service, {})[f"{component.name}:{perm.service.rsplit('.', 1)[-1]}:{i}"] = policy
    return out


def default_configuration(component: Component) -> dict[str, Any]:
    config = configuration.defaults(component.settings)
    config.update({configuration.camel(k): v for k, v in component.core_defaults.items()})
    acl = access_control(component)
    if acl:
        config["accessControl"] = acl
    return config


def broker_flags(component: Component, broker_name: str) -> str:
    """Run flags that hand this component the Broker's settings it shares, by
    recipe interpolation: a change there restarts this component too."""
    return " ".join(
        f"--set '{configuration.camel(f)}={{{broker_name}:configuration:/{configuration.camel(f)}}}'"
        for f in component.from_broker
    )


def build_recipe(
    template: Mapping[str, Any],
    component: Component,
    *,
    version: str,
    fragments: Mapping[str, str],
    package_version: str,
    broker_name: str,
) -> dict[str, Any]:
    """The recipe for ``component`` at ``version``, from its template."""
    check_version(version)
    if template.get("ComponentName") != component.name:
        raise RecipeError(f"template names {template.get('ComponentName')!r}, not {component.name!r}")
    manifests = template.get("Manifests")
    if not isinstance(manifests, list) or len(manifests) != 1:
        raise RecipeError(f"{component.name}: the template needs exactly one manifest, for @arch@")
    values = {
        "module": component.module,
        "package_version": package_version,
        "extras": f"[{','.join(component.extras)}]" if component.extras else "",
        "broker_flags": broker_flags(component, broker_name),
        **fragments,
    }
    recipe: dict[str, Any] = {
        "RecipeFormatVersion": RECIPE_FORMAT,
        "ComponentName": component.name,
        "ComponentVersion": version,
        "ComponentDescription": template.get("ComponentDescription", component.description),
        "ComponentPublisher": template.get("ComponentPublisher", "edgechat"),
        "ComponentConfiguration": {"DefaultConfiguration": default_configuration(component)},
    }
    dependencies = {name: {"VersionRequirement": COMPATIBLE, "DependencyType": "HARD"}
                    for name in component.requires}  # fmt: skip
    dependencies.update({name: {"VersionRequirement": req, "DependencyType": "HARD"}
                         for name, req in component.aws_requires.items()})  # fmt: skip
    if dependencies:
        recipe["ComponentDependencies"] = dependencies
    recipe["Manifests"] = []
    # Two passes: fragments hold placeholders themselves (the venv installer's @arch@).
    for arch in component.architectures:
        manifest = copy.deepcopy(manifests[0])
        per_arch = {**values, "arch": arch}
        filled = _fill_all(_fill_all(manifest, per_arch), per_arch)
        filled["Platform"] = {"os": "linux", "architecture": arch, "runtime": "*"}
        filled["Artifacts"] = [
            # No Permission key: the default (read by the owner, the component's user) is right.
            {"Uri": f"{URI_PREFIX}/{a.file}", "Unarchive": "ZIP"}
            for a in artifacts_for(component)
            if a.architecture in (None, arch)
        ]
        recipe["Manifests"].append(filled)
    return recipe


class _Quoted(str):
    """A string YAML must quote (versions: 1.0 would otherwise read as a number)."""


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


def _quoted(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:str", str(data), style='"')


_Dumper.add_representer(str, _str)
_Dumper.add_representer(_Quoted, _quoted)
_VERSION_KEYS = frozenset({"RecipeFormatVersion", "ComponentVersion", "VersionRequirement"})


def _quote_versions(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _Quoted(v) if k in _VERSION_KEYS and isinstance(v, str) else _quote_versions(v)
                for k, v in node.items()}  # fmt: skip
    if isinstance(node, list):
        return [_quote_versions(v) for v in node]
    return node


def render(recipe: Mapping[str, Any]) -> str:
    text = yaml.dump(_quote_versions(dict(recipe)), Dumper=_Dumper, sort_keys=False, width=1000)
    size = len(text.encode())
    if size >= MAX_RECIPE_BYTES:
        raise RecipeError(f"{recipe.get('ComponentName')}: recipe is {size} bytes, over {MAX_RECIPE_BYTES}")
    return text


def lower_keys(node: Any) -> Any:
    """Keys lower-cased, recursively, as GDK does before validating a recipe."""
    if isinstance(node, dict):
        return {str(k).lower(): lower_keys(v) for k, v in node.items()}
    if isinstance(node, list):
        return [lower_keys(v) for v in node]
    return node
