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
        from edgechat.broker import system_password
        from edgechat.broker.config import SYSTEM_USER
        from edgechat.labeler.cache import CachedProvider, LabelCache
        from edgechat.labeler.cli import cache_path
        from edgechat.labeler.intake import PictureStore
        from edgechat.labeler.offline import OfflineProvider
        from edgechat.labeler.service import LabelerService

        offline = await asyncio.to_thread(OfflineProvider)  # verifies hashes, loads models (seconds)
        cache = LabelCache(cache_path(settings.paths.root))
        service = LabelerService(
            CachedProvider(offline, cache),
            PictureStore.in_data_dir(settings.paths.root),
            host="127.0.0.1",
            port=settings.internal_port,
            username=SYSTEM_USER,
            password=system_password(settings),
        )
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
