"""Sync as a child process of ``edgechat up``, restarted if it dies.

A process of its own, as under Greengrass: it can be killed (-9) and restarted
alone, which is what it must survive (docs/sync.md), and a hung cloud link
cannot stall the Router.  The child dies with ``edgechat up`` (PDEATHSIG)."""

from __future__ import annotations

import asyncio
import ctypes
import json
import logging
import signal
import sys

from edgechat.settings import Settings

log = logging.getLogger(__name__)


def _die_with_parent() -> None:
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class SyncProcess:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.proc: asyncio.subprocess.Process | None = None
        self.stopping = False
        self.restarts = 0

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None and self.proc.returncode is None else None

    async def start(self) -> None:
        path = self.settings.paths.root / "run" / "sync-settings.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        (self.settings.paths.root / "run" / "sync.json").unlink(missing_ok=True)  # a dead one's state
        path.write_text(json.dumps(self.settings.to_json()))
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-u", "-m", "edgechat.sync", "--config", str(path),
            preexec_fn=_die_with_parent,  # prctl only: safe before exec
        )  # fmt: skip

    async def supervise(self) -> None:
        """Restart the child whenever it exits, until ``stop``."""
        delay = 0.5
        while True:
            assert self.proc is not None
            started = asyncio.get_running_loop().time()
            code = await self.proc.wait()
            if self.stopping:
                return
            if asyncio.get_running_loop().time() - started > 30:
                delay = 0.5  # it ran well: a new failure starts a new backoff
            log.error("sync exited with %s; restarting in %.1f s", code, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)
            self.restarts += 1
            await self.start()

    async def stop(self) -> None:
        self.stopping = True
        proc = self.proc
        if proc is None or proc.returncode is not None:
            return
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 10)
        except TimeoutError:
            proc.kill()
            await proc.wait()
