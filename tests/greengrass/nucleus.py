"""What the Greengrass nucleus does with a built recipe, enough to run it here:
pick the manifest for this machine, unpack the artifacts, merge the
configuration, substitute the recipe variables, run ``install`` to completion
and ``run`` in the background (``sh -c``, as the nucleus does on Linux)."""

from __future__ import annotations

import copy
import json
import os
import platform
import re
import signal
import subprocess
import threading
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from edgechat.greengrass.ipc import STAND_IN_ENV

_VARIABLE = re.compile(
    r"\{(?:([A-Za-z0-9._-]+):)?(artifacts:path|artifacts:decompressedPath|work:path|"
    r"configuration:(/[^}]*)|kernel:rootPath|iot:thingName)\}"
)
ARCH = {"x86_64": "amd64", "aarch64": "aarch64", "arm64": "aarch64"}[platform.machine()]


def pointer(config: Any, path: str) -> Any:
    for part in path.strip("/").split("/") if path.strip("/") else []:
        config = config[part.replace("~1", "/").replace("~0", "~")]
    return config


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


@dataclass
class Deployed:
    name: str
    version: str
    recipe: dict[str, Any]
    manifest: dict[str, Any]
    configuration: dict[str, Any]
    artifacts: Path
    unpacked: Path
    work: Path
    process: subprocess.Popen[str] | None = None
    output: list[str] = field(default_factory=list)


class Nucleus:
    def __init__(self, build_dir: Path, root: Path, env: dict[str, str] | None = None) -> None:
        self.build_dir, self.root = build_dir, root
        self.env = env or {}
        self.components: dict[str, Deployed] = {}

    def deploy(self, name: str, merge: dict[str, Any] | None = None) -> Deployed:
        recipe = yaml.safe_load((self.build_dir / "recipes" / f"{name}.yaml").read_text())
        for dep in recipe.get("ComponentDependencies", {}):
            assert dep in self.components, f"{name} needs {dep} deployed first"
        version = recipe["ComponentVersion"]
        manifest = next(
            m
            for m in recipe["Manifests"]
            if m["Platform"]["os"] == "linux" and m["Platform"]["architecture"] == ARCH
        )
        config = copy.deepcopy(recipe.get("ComponentConfiguration", {}).get("DefaultConfiguration", {}))
        config.update(merge or {})
        artifacts = self.root / "packages" / "artifacts" / name / version
        unpacked = self.root / "packages" / "artifacts-unarchived" / name / version
        artifacts.mkdir(parents=True)
        for artifact in manifest.get("Artifacts", []):
            file = artifact["Uri"].rsplit("/", 1)[-1]
            source = self.build_dir / "artifacts" / name / version / file
            (artifacts / file).write_bytes(source.read_bytes())
            if artifact.get("Unarchive") == "ZIP":
                zipfile.ZipFile(source).extractall(unpacked / file.removesuffix(".zip"))
        work = self.root / "work" / name
        work.mkdir(parents=True)
        deployed = Deployed(name, version, recipe, manifest, config, artifacts, unpacked, work)
        self.components[name] = deployed
        return deployed

    def substitute(self, me: Deployed, text: str) -> str:
        def one(match: re.Match[str]) -> str:
            owner = self.components[match.group(1)] if match.group(1) else me
            what = match.group(2)
            if match.group(3) is not None:
                return _text(pointer(owner.configuration, match.group(3)))
            return {
                "artifacts:path": str(owner.artifacts),
                "artifacts:decompressedPath": str(owner.unpacked),
                "work:path": str(owner.work),
                "kernel:rootPath": str(self.root),
                "iot:thingName": "test-core",
            }[what]

        return _VARIABLE.sub(one, text)

    def _script(self, me: Deployed, step: str) -> str | None:
        entry = me.manifest["Lifecycle"].get(step)
        if entry is None:
            return None
        return self.substitute(me, entry if isinstance(entry, str) else entry["Script"])

    def _env(self, me: Deployed) -> dict[str, str]:
        stand_in = me.work.parent.parent / f"{me.name}.configuration.json"
        stand_in.write_text(json.dumps(me.configuration))
        return {**os.environ, **self.env, STAND_IN_ENV: str(stand_in)}

    def install(self, name: str, timeout_s: float = 600) -> float:
        me = self.components[name]
        script = self._script(me, "install")
        started = time.monotonic()
        if script:
            done = subprocess.run(
                ["sh", "-c", script],
                cwd=me.work,
                env=self._env(me),
                capture_output=True,
                text=True,
                timeout=timeout_s,
                check=False,
            )
            assert done.returncode == 0, f"{name} install failed:\n{done.stdout}\n{done.stderr}"
        return time.monotonic() - started

    def run(self, name: str, ready: str, timeout_s: float = 30) -> None:
        """Start ``run``; wait until its output has a line containing ``ready``."""
        me = self.components[name]
        script = self._script(me, "run")
        assert script
        me.process = subprocess.Popen(
            ["sh", "-c", script],
            cwd=me.work,
            env=self._env(me),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        seen = threading.Event()

        def pump() -> None:
            assert me.process is not None and me.process.stdout is not None
            for line in me.process.stdout:
                me.output.append(line)
                if ready in line:
                    seen.set()

        threading.Thread(target=pump, daemon=True).start()
        deadline = time.monotonic() + timeout_s
        while not seen.wait(0.05):
            assert me.process.poll() is None, f"{name} exited:\n{''.join(me.output)}"
            assert time.monotonic() < deadline, f"{name} not ready:\n{''.join(me.output)}"

    def stop_all(self) -> None:
        for me in reversed(self.components.values()):
            proc = me.process
            if proc is None or proc.poll() is not None:
                continue
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
