"""The Stream component alone: ``python -m edgechat.stream [--greengrass]``.

Typing, reactions, read marks and device readings from ``chat/stream/+``, in
micro-batches, over the Broker's loopback listener (same data directory: the
system account's password is there).  Under the nucleus it may export through
Stream Manager; anything else restarts the service in-process."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from edgechat.entry import main, serve
from edgechat.greengrass.catalogue import STREAM
from edgechat.settings import Settings
from edgechat.stream.service import StreamService
from edgechat.stream.wiring import open_store, stream_service


def _stream_manager() -> Any:
    # Imported and built only here: its constructor connects to the nucleus's
    # Stream Manager (127.0.0.1:8088), which exists only under Greengrass.
    from stream_manager import StreamManagerClient

    return StreamManagerClient()


class StreamComponent:
    name = "stream"
    live: frozenset[str] = frozenset()

    def __init__(self, greengrass: bool = False) -> None:
        self.greengrass = greengrass
        self.service: StreamService | None = None

    async def run(self, settings: Settings, ready: asyncio.Event) -> None:
        store = open_store(settings)
        try:
            self.service = stream_service(settings, store, _stream_manager if self.greengrass else None)
            await serve(self.service.run(), self.service.ready, ready, "stream-service")
        finally:
            self.service = None
            store.close()

    def apply(self, settings: Settings) -> None:
        pass


if __name__ == "__main__":
    component = StreamComponent(greengrass="--greengrass" in sys.argv)
    sys.exit(main(component, STREAM.settings, None, "python -m edgechat.stream", __doc__ or ""))
