"""The Sync component alone: ``python -m edgechat.sync [--greengrass]``.

Standalone (``edgechat up`` runs it as a child process when ``sync_url`` is
set), it connects to the cloud with the MQTT5 client and the thing's
certificate; under the nucleus, through IPC (the nucleus's IoT Core
connection).  Same data directory as the Router: the store and the system
account's password are there.  Any configuration change restarts it."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from edgechat.entry import main, serve
from edgechat.greengrass.catalogue import SYNC
from edgechat.router.wiring import open_store
from edgechat.settings import Settings
from edgechat.sync.wiring import sync_service


class SyncComponent:
    name = "sync"
    live: frozenset[str] = frozenset()

    def __init__(self) -> None:
        self.ipc: Any = None  # set by edgechat.entry under the nucleus

    async def run(self, settings: Settings, ready: asyncio.Event) -> None:
        store = open_store(settings)
        try:
            service = sync_service(settings, store, self.ipc)
            await serve(service.run(), service.ready, ready, "sync-service")
        finally:
            store.close()

    def apply(self, settings: Settings) -> None:  # nothing is live: every change restarts
        pass


if __name__ == "__main__":
    sys.exit(main(SyncComponent(), SYNC.settings, None, "python -m edgechat.sync", __doc__ or ""))
