"""The Web component alone: ``python -m edgechat.web [--greengrass] [--dist DIR]``.

Standalone, settings come from ``--config``/``--set``/``--data-dir``; under the
nucleus, from the component's configuration through IPC, with the Broker's
data directory, host, ports and TLS handed over as ``--set`` flags by the
recipe.  The broker must run on the same data dir for the issued credentials
to work.  Any configuration change restarts the service in-process."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from edgechat.entry import main as component_main
from edgechat.greengrass.catalogue import WEB
from edgechat.settings import Settings
from edgechat.web.service import DEFAULT_DIST, WebService


class WebComponent:
    name = "web"
    live: frozenset[str] = frozenset()

    def __init__(self, dist: Path) -> None:
        self.dist = dist

    async def run(self, settings: Settings, ready: asyncio.Event) -> None:
        async with WebService(settings, dist=self.dist):
            ready.set()
            await asyncio.Event().wait()  # until cancelled

    def apply(self, settings: Settings) -> None:  # nothing is live: every change restarts
        pass


def main(argv: list[str] | None = None) -> int:
    # --dist is this component's own flag (where the built app is); the rest are
    # every component's flags (edgechat.entry).
    own = argparse.ArgumentParser(add_help=False)
    own.add_argument("--dist", type=Path, default=DEFAULT_DIST)
    known, rest = own.parse_known_args(argv)
    return component_main(
        WebComponent(known.dist), WEB.settings, rest, "python -m edgechat.web", __doc__ or ""
    )


if __name__ == "__main__":
    sys.exit(main())
