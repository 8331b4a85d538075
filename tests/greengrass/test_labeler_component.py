"""The Labeler as a Greengrass component: separately deployable, its own
environment with the `labeler` extra, for a Pi as for an x86 box."""

from __future__ import annotations

import zipfile
from pathlib import Path

import yaml

from edgechat.greengrass import catalogue
from edgechat.greengrass.build import build_all

from .conftest import FakeWheels


def test_the_labeler_installs_its_extra_in_its_own_environment(tmp_path: Path, project: Path) -> None:
    wheels = FakeWheels()
    out = tmp_path / "b"
    built = build_all(out, names=["Router", "Labeler"], version="1.0.1", source=wheels, root=project)
    router, labeler = built
    assert wheels.calls == [(), ("labeler",)]  # the chat's wheels, then the Labeler's own set
    recipe = yaml.safe_load(labeler.recipe.read_text())
    manifests = {m["Platform"]["architecture"]: m for m in recipe["Manifests"]}
    assert sorted(manifests) == ["aarch64", "amd64"]  # ai-edge-litert 1.4 has an aarch64 wheel
    manifest = manifests["aarch64"]
    install = manifest["Lifecycle"]["install"]["Script"]
    assert '"edgechat[labeler]==' in install
    assert "-m edgechat.labeler --greengrass" in manifest["Lifecycle"]["run"]["Script"]
    assert "dataDir={edgechat.Broker:configuration:/dataDir}" in manifest["Lifecycle"]["run"]["Script"]
    assert sorted(p.name for p in labeler.artifacts.iterdir()) == [
        "wheels-aarch64.zip", "wheels-amd64.zip", "wheels-any.zip",
    ]  # fmt: skip
    assert list(recipe["ComponentDependencies"]) == [catalogue.BROKER.name]
    # The Router's environment has no extra and ships for both architectures.
    router_recipe = yaml.safe_load(router.recipe.read_text())
    assert '"edgechat==' in router_recipe["Manifests"][0]["Lifecycle"]["install"]["Script"]
    assert len(router_recipe["Manifests"]) == 2
    assert zipfile.ZipFile(router.artifacts / "wheels-aarch64.zip").namelist() == ["fake-aarch64.whl"]
    assert catalogue.LABELER.heavy and not catalogue.ROUTER.heavy
