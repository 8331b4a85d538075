from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import pytest

from edgechat.greengrass.build import PROJECT_ROOT

SHARED_REFERENCE = PROJECT_ROOT.parent / "shared" / "reference"


def reference_schema(name: str) -> dict:
    path = SHARED_REFERENCE / name
    if not path.exists():
        pytest.skip(f"{path} is absent (GDK's schemas live beside the project)")
    return json.loads(path.read_text())


ARCHES = ("amd64", "aarch64")


class FakeWheels:
    """Stands in for pip: one small file per folder, no network."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []  # the extras of each fetch

    def fetch(
        self, dest: Path, *, extras: tuple[str, ...] = (), architectures: tuple[str, ...] = ARCHES
    ) -> Mapping[str, Path]:
        self.calls.append(extras)
        folders = {}
        for key in ("any", *architectures):
            folder = dest / key
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"fake-{key}.whl").write_bytes(b"wheel")
            folders[key] = folder
        return folders


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project root with the real recipe templates and a built web app."""
    root = tmp_path / "project"
    root.mkdir()
    (root / "recipes").symlink_to(PROJECT_ROOT / "recipes")
    (root / "web" / "dist").mkdir(parents=True)
    (root / "web" / "dist" / "index.html").write_text("<!doctype html><title>edgechat</title>")
    return root
