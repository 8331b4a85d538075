"""``edgechat gg build``: GDK's build layout for every component.

    greengrass-build/recipes/<Name>.yaml
    greengrass-build/artifacts/<Name>/<Version>/wheels-any.zip, wheels-<arch>.zip, …

The artifacts carry every wheel the component installs, so a core needs no
internet at deploy time (Mosquitto itself comes from the core's Debian mirror,
or is preinstalled).
"""

from __future__ import annotations

import json
import shutil
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

import edgechat
from edgechat.greengrass import recipe as recipes
from edgechat.greengrass.catalogue import BROKER, CATALOGUE, DEFAULT_VERSION, Component, by_name, select
from edgechat.greengrass.wheels import PipWheels, WheelError, WheelSource

PROJECT_ROOT = Path(edgechat.__file__).resolve().parents[2]
FRAGMENTS = {"venv": "venv-install.sh"}


class BuildError(Exception):
    """The build cannot complete; the message says what to do."""


@dataclass(frozen=True, slots=True)
class Built:
    name: str
    version: str
    recipe: Path
    artifacts: Path


def load_template(component: Component, root: Path = PROJECT_ROOT) -> dict[str, Any]:
    path = root / "recipes" / f"{component.name}.yaml"
    try:
        return yaml.safe_load(path.read_text())
    except OSError as exc:
        raise BuildError(f"{component.name}: no recipe template at {path}: {exc}") from None


def load_fragments(root: Path = PROJECT_ROOT) -> dict[str, str]:
    return {key: (root / "recipes" / file).read_text().rstrip("\n") for key, file in FRAGMENTS.items()}


def make_recipe(component: Component, version: str, root: Path = PROJECT_ROOT) -> dict[str, Any]:
    try:
        return recipes.build_recipe(
            load_template(component, root),
            component,
            version=version,
            fragments=load_fragments(root),
            package_version=edgechat.__version__,
            broker_name=BROKER.name,
        )
    except recipes.RecipeError as exc:
        raise BuildError(str(exc)) from None


def _zip_folder(folder: Path, archive: Path) -> None:
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        for file in sorted(folder.rglob("*")):
            if file.is_file():
                out.write(file, file.relative_to(folder))


def write_artifacts(
    component: Component, dest: Path, wheels: Mapping[str, Path] | None, root: Path = PROJECT_ROOT
) -> None:
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    for artifact in recipes.artifacts_for(component):
        stem = artifact.file.removesuffix(".zip")
        if stem.startswith("wheels-"):
            if wheels is None:
                continue  # --no-wheels: recipes only
            source = wheels[stem.removeprefix("wheels-")]
        else:
            source = root / component.extra_artifacts[stem]
            if not source.is_dir():
                raise BuildError(f"{component.name}: {source} is missing (build it first: make web-build)")
        _zip_folder(source, dest / artifact.file)


def build_component(
    component: Component,
    out: Path,
    version: str,
    wheels: Mapping[str, Path] | None,
    *,
    recipe_file: str | None = None,
    root: Path = PROJECT_ROOT,
) -> Built:
    recipe = make_recipe(component, version, root)
    try:
        text = recipes.render(recipe)
    except recipes.RecipeError as exc:
        raise BuildError(str(exc)) from None
    recipe_path = out / "recipes" / (recipe_file or f"{component.name}.yaml")
    recipe_path.parent.mkdir(parents=True, exist_ok=True)
    artifacts = out / "artifacts" / component.name / version
    write_artifacts(component, artifacts, wheels, root)
    recipe_path.write_text(text)
    return Built(component.name, version, recipe_path, artifacts)


def _wheels(
    out: Path, source: WheelSource | None, fetch: bool, component: Component | None = None
) -> Mapping[str, Path] | None:
    """The wheels most components share, or a component's own set when it
    installs pip extras (the Labeler's are large)."""
    if not fetch:
        return None
    try:
        if component is None or not component.extras:
            return (source or PipWheels(PROJECT_ROOT)).fetch(out / "wheels")
        return (source or PipWheels(PROJECT_ROOT)).fetch(
            out / f"wheels-{'-'.join(component.extras)}",
            extras=component.extras,
            architectures=component.architectures,
        )
    except WheelError as exc:
        raise BuildError(str(exc)) from None


def build_all(
    out: Path,
    *,
    names: list[str] | None = None,
    version: str | None = None,
    fetch: bool = True,
    source: WheelSource | None = None,
    root: Path = PROJECT_ROOT,
) -> list[Built]:
    try:
        components = select(names)
    except KeyError as exc:
        raise BuildError(str(exc.args[0])) from None
    shared = _wheels(out, source, fetch) if any(not c.extras for c in components) else None
    built = []
    for c in components:
        wheels = _wheels(out, source, fetch, c) if c.extras else shared
        built.append(build_component(c, out, version or DEFAULT_VERSION, wheels, root=root))
    return built


def read_gdk_config(project_dir: Path) -> tuple[str, str]:
    """(component name, version) from a GDK project's gdk-config.json."""
    try:
        config = json.loads((project_dir / "gdk-config.json").read_text())
        name, entry = next(iter(config["component"].items()))
        return name, entry["version"]
    except (OSError, ValueError, KeyError, StopIteration) as exc:
        raise BuildError(f"cannot read {project_dir / 'gdk-config.json'}: {exc}") from None


def project_recipe_file(project_dir: Path) -> str:
    """GDK publishes greengrass-build/recipes/<the project's recipe file name>."""
    for name in ("recipe.json", "recipe.yaml"):
        if (project_dir / name).exists():
            return name
    return "recipe.yaml"


def build_for_gdk(
    project_dir: Path, *, fetch: bool = True, source: WheelSource | None = None, root: Path = PROJECT_ROOT
) -> list[Built]:
    """GDK's custom build: the one component in ./gdk-config.json, into
    ./greengrass-build, its artifacts under the version GDK will look for
    (``NEXT_PATCH`` literally, when so configured)."""
    name, version = read_gdk_config(project_dir)
    try:
        component = by_name(name)
    except KeyError as exc:
        raise BuildError(str(exc.args[0])) from None
    out = project_dir / "greengrass-build"
    wheels = _wheels(out, source, fetch, component)
    recipe_file = project_recipe_file(project_dir)
    return [build_component(component, out, version, wheels, recipe_file=recipe_file, root=root)]


def gdk_project(component: Component, *, author: str = "edgechat", bucket: str = "edgechat-components",
                region: str = "us-east-1") -> dict[str, str]:  # fmt: skip
    """The files of a GDK project for ``component``: gdk-config.json (custom
    build running this builder) and the recipe GDK requires beside it."""
    config = {
        "component": {
            component.name: {
                "author": author,
                "version": recipes.NEXT_PATCH,
                "build": {
                    "build_system": "custom",
                    "custom_build_command": ["edgechat", "gg", "build", "--gdk"],
                },
                "publish": {"bucket": bucket, "region": region},
            }
        },
        "gdk_version": "1.6.2",
    }
    return {
        "gdk-config.json": json.dumps(config, indent=2) + "\n",
        "recipe.yaml": recipes.render(make_recipe(component, recipes.NEXT_PATCH)),
    }


def write_gdk_projects(root: Path = PROJECT_ROOT) -> list[Path]:
    """GDK handles one component per project: the root project is the Broker,
    ``gdk/<Name>/`` holds one for each other component."""
    written = []
    for component in CATALOGUE:
        folder = root if component is BROKER else root / "gdk" / component.name
        folder.mkdir(parents=True, exist_ok=True)
        for file, text in gdk_project(component).items():
            (folder / file).write_text(text)
            written.append(folder / file)
    return written
