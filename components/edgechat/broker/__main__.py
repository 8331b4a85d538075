"""The Broker component alone: ``python -m edgechat.broker [--greengrass]``.

Renders Mosquitto's files from the settings and runs it in the foreground until
SIGINT/SIGTERM (then stops it).  It records its pid and the broker's in the data
directory's runtime file, as ``edgechat up`` does, so that issuing a credential
(the Web component, ``edgechat credentials new``) reloads this broker."""

from __future__ import annotations

import asyncio
import os
import sys
import time

from edgechat.broker.process import Broker
from edgechat.entry import main
from edgechat.greengrass.catalogue import BROKER
from edgechat.runtime import Runtime, clear_runtime
from edgechat.settings import Settings


class BrokerExited(Exception):
    """Mosquitto stopped by itself; the nucleus (or the operator) restarts us."""


class BrokerComponent:
    name = "broker"
    live: frozenset[str] = frozenset()  # Mosquitto re-reads listeners only on a restart

    async def run(self, settings: Settings, ready: asyncio.Event) -> None:
        settings.paths.root.mkdir(parents=True, exist_ok=True)
        try:
            async with Broker(settings) as broker:
                Runtime(os.getpid(), broker.pid, time.time_ns() // 1_000_000, settings).write()
                ready.set()
                code = await broker.wait()
                raise BrokerExited(f"mosquitto exited with {code}; see {broker.files.log}")
        finally:
            clear_runtime(settings.paths)

    def apply(self, settings: Settings) -> None:
        raise AssertionError("no live settings")


if __name__ == "__main__":
    sys.exit(main(BrokerComponent(), BROKER.settings, None, "python -m edgechat.broker", __doc__ or ""))
