"""The Router component alone: ``python -m edgechat.router [--greengrass]``.

The chat rules and the message store, over the Broker's loopback listener
(same data directory: the system account's password is there).  Limits, rate
and retention change live; anything else restarts the service in-process."""

from __future__ import annotations

import asyncio
import sys

from edgechat.entry import main, serve
from edgechat.greengrass.catalogue import ROUTER
from edgechat.router.service import RouterService
from edgechat.router.wiring import open_store, router_service
from edgechat.settings import Settings


class RouterComponent:
    name = "router"
    live = frozenset({"limits", "rate", "retention_days"})

    def __init__(self) -> None:
        self.service: RouterService | None = None

    async def run(self, settings: Settings, ready: asyncio.Event) -> None:
        store = open_store(settings)
        try:
            self.service = router_service(settings, store)
            await serve(self.service.run(), self.service.ready, ready, "router-service")
        finally:
            self.service = None
            store.close()

    def apply(self, settings: Settings) -> None:
        if self.service is not None:
            self.service.router.config = settings.router
            self.service.retention_ms = settings.retention_ms


if __name__ == "__main__":
    sys.exit(main(RouterComponent(), ROUTER.settings, None, "python -m edgechat.router", __doc__ or ""))
