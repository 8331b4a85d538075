"""An ``edgechat up`` under test: a child process on free loopback ports, with
the per-client rate limit off (a benchmark is one client sending a lot), and
what it costs read from /proc."""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from edgechat.broker.config import SYSTEM_USER
from edgechat.broker.credentials import Credentials, issue_many
from edgechat.settings import Settings

PAGE = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def descendants(pid: int) -> list[int]:
    """``pid`` and every process under it (the broker, any later service)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out


def rss_bytes(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
    except (OSError, IndexError):
        return 0


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def proc_name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return "?"


class Stack:
    """``with Stack(data_dir) as stack:``: edgechat runs inside the block."""

    def __init__(
        self,
        data_dir: Path,
        *,
        extra: dict[str, Any] | None = None,
        ready_s: float = 30.0,
        env: dict[str, str] | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.env = env  # added to the child's environment (e.g. PYTHONPATH: another version of the code)
        self.ready_s = ready_s
        self.mqtt_port, self.ws_port = free_port(), free_port()
        self.http_port, self.internal_port = free_port(), free_port()
        # The Labeler is measured apart (`edgechat bench labeler`; what it costs
        # the Router's process in `edgechat up`: `edgechat bench labeler-cost`).
        self.config = {"rate": {"per_second": 0, "burst": 1}, "labeler": False, **(extra or {})}
        self.proc: subprocess.Popen[str] | None = None
        self.startup_s = 0.0

    @property
    def settings(self) -> Settings:
        return Settings.from_json(self.config).with_overrides(
            data_dir=self.data_dir, host="127.0.0.1", mqtt_port=self.mqtt_port, ws_port=self.ws_port,
            http_port=self.http_port, internal_port=self.internal_port,
        )  # fmt: skip

    def __enter__(self) -> Stack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = self.data_dir / "bench-settings.json"
        config.write_text(json.dumps(self.config))
        cmd = [
            sys.executable, "-m", "edgechat", "up", "--data-dir", str(self.data_dir), "--config", str(config),
            "--host", "127.0.0.1", "--mqtt-port", str(self.mqtt_port), "--ws-port", str(self.ws_port),
            "--http-port", str(self.http_port), "--internal-port", str(self.internal_port),
        ]  # fmt: skip
        log = open(self.data_dir / "edgechat.log", "ab")  # noqa: SIM115 - handed to the child
        t0 = time.perf_counter()
        try:
            env = {**os.environ, **self.env} if self.env else None
            self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, text=True, env=env)
        finally:
            log.close()
        assert self.proc.stdout is not None
        deadline = t0 + self.ready_s
        while time.perf_counter() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.05)
            if ready:
                line = self.proc.stdout.readline()
                if line.startswith("edgechat ready"):
                    self.startup_s = time.perf_counter() - t0
                    return
                if not line and self.proc.poll() is not None:
                    break
        self.stop()
        raise RuntimeError(f"edgechat up did not get ready; see {self.data_dir / 'edgechat.log'}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def pids(self) -> dict[int, str]:
        return {p: proc_name(p) for p in descendants(self.pid)}

    def rss(self) -> dict[str, int]:
        """Resident bytes of every process of the stack, by name, and the total."""
        out: dict[str, int] = {}
        for pid, name in self.pids().items():
            out[f"{name}:{pid}"] = rss_bytes(pid)
        out["total"] = sum(out.values())
        return out

    def cpu(self) -> dict[str, float]:
        out = {f"{name}:{pid}": cpu_seconds(pid) for pid, name in self.pids().items()}
        out["total"] = sum(out.values())
        return out

    def credentials(self, count: int) -> list[Credentials]:
        return issue_many(self.settings, count)

    def system_password(self) -> str:
        return json.loads((self.data_dir / "secrets" / "system.json").read_text())["password"]

    system_user = SYSTEM_USER
