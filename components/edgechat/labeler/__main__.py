"""The Labeler component alone: ``python -m edgechat.labeler [--greengrass]``.

Labels the pictures that chat messages carry, over the Broker's loopback
listener (same data directory: the system account's password, the picture
store and the label cache are there).  Needs the ``labeler`` extra."""

from __future__ import annotations

import asyncio
import sys

from edgechat.entry import main, serve
from edgechat.settings import Settings


class LabelerComponent:
    name = "labeler"
    live: frozenset[str] = frozenset()

    async def run(self, settings: Settings, ready: asyncio.Event) -> None:
        from edgechat.labeler.wiring import labeler_service

        service, cache = labeler_service(settings)  # the models load with the first picture
        try:
            await serve(service.run(), service.ready, ready, "labeler-service")
        finally:
            cache.close()

    def apply(self, settings: Settings) -> None:
        """Nothing changes live."""


if __name__ == "__main__":
    sys.exit(
        main(
            LabelerComponent(),
            ("data_dir", "internal_port"),
            None,
            "python -m edgechat.labeler",
            __doc__ or "",
        )
    )
