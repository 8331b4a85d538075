"""What a running ``edgechat up`` tells other commands on the same data dir:
its pid, the broker's pid and the settings it runs with (runtime.json)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from edgechat.settings import Paths, Settings


@dataclass(frozen=True, slots=True)
class Runtime:
    pid: int
    broker_pid: int | None
    started_ms: int
    settings: Settings

    def to_json(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "brokerPid": self.broker_pid,
            "startedMs": self.started_ms,
            "settings": self.settings.to_json(),
        }

    def write(self) -> None:
        path = self.settings.paths.runtime
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=2))
        os.replace(tmp, path)


def read_runtime(paths: Paths) -> Runtime | None:
    """The runtime of a live ``edgechat up`` on this data dir, or None."""
    try:
        raw = json.loads(paths.runtime.read_text())
        runtime = Runtime(
            pid=int(raw["pid"]),
            broker_pid=raw.get("brokerPid"),
            started_ms=int(raw["startedMs"]),
            settings=Settings.from_json(raw["settings"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return runtime if _alive(runtime.pid) else None


def clear_runtime(paths: Paths) -> None:
    paths.runtime.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
