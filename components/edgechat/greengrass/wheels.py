"""The wheels a component installs on a core with no internet: edgechat's own
wheel and every runtime dependency, for each target architecture.

Pure-Python wheels go to ``any`` (shipped once for every manifest); the rest
(awscrt) go to the architecture's folder.  pip resolves for the target with
``--platform``/``--python-version``, pinned by constraints.txt.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from edgechat.greengrass.catalogue import ARCHITECTURES, TARGET_PYTHON


class WheelError(Exception):
    """pip could not build or download the wheels."""


class WheelSource(Protocol):
    def fetch(
        self,
        dest: Path,
        *,
        extras: tuple[str, ...] = (),
        architectures: tuple[str, ...] = tuple(ARCHITECTURES),
    ) -> Mapping[str, Path]:
        """Fill ``dest`` with edgechat's wheel and its dependencies (with those
        pip extras) and return the folder for ``any`` and each architecture."""
        ...


def _pip(*args: str) -> None:
    cmd = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-8:])
        raise WheelError(f"pip {args[0]} failed:\n{tail}")


class PipWheels:
    """Builds edgechat's wheel from the project and downloads the rest from the
    package index (the build machine needs it; the core does not)."""

    def __init__(self, project_root: Path) -> None:
        self.project_root = project_root

    def fetch(
        self,
        dest: Path,
        *,
        extras: tuple[str, ...] = (),
        architectures: tuple[str, ...] = tuple(ARCHITECTURES),
    ) -> Mapping[str, Path]:
        dest.mkdir(parents=True, exist_ok=True)
        folders = {"any": dest / "any", **{arch: dest / arch for arch in architectures}}
        for folder in folders.values():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
        with tempfile.TemporaryDirectory() as tmp:
            own = Path(tmp) / "own"
            _pip("wheel", "--no-deps", "-w", str(own), str(self.project_root))
            wheel = next(own.glob("edgechat-*.whl"))
            constraints = self.project_root / "constraints.txt"
            requirement = f"{wheel}[{','.join(extras)}]" if extras else str(wheel)
            for arch in architectures:
                platforms = ARCHITECTURES[arch]
                got = Path(tmp) / arch
                args = ["download", requirement, "-d", str(got), "--only-binary=:all:",
                        "--python-version", TARGET_PYTHON, "--implementation", "cp"]  # fmt: skip
                for platform in platforms:
                    args += ["--platform", platform]
                if constraints.exists():
                    args += ["-c", str(constraints)]
                _pip(*args)
                for file in got.iterdir():
                    universal = file.name.endswith("-none-any.whl")
                    target = folders["any"] if universal else folders[arch]
                    shutil.copy2(file, target / file.name)
        return folders
