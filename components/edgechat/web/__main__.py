"""Run the Web service alone: ``python -m edgechat.web --data-dir D``.

The broker (``edgechat up``, or the Broker component) must run on the same data
dir for the issued credentials to work."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from edgechat.settings import Settings
from edgechat.web.service import DEFAULT_DIST, WebService


async def _serve(settings: Settings, dist: Path) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with WebService(settings, dist=dist):
        print(f"edgechat web ready http://{settings.host}:{settings.http_port}/", flush=True)
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m edgechat.web", description=__doc__)
    parser.add_argument("--data-dir", help="edgechat's data directory (default var/edgechat)")
    parser.add_argument("--config", help="a JSON settings file")
    parser.add_argument("--host", help="address to bind (default 0.0.0.0)")
    parser.add_argument("--http-port", type=int, help="port (default 8080)")
    parser.add_argument("--dist", type=Path, default=DEFAULT_DIST, help="the built app (default web/dist)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings.load(Path(args.config) if args.config else None).with_overrides(
        data_dir=args.data_dir, host=args.host, http_port=args.http_port
    )
    asyncio.run(_serve(settings, args.dist))
    return 0


if __name__ == "__main__":
    sys.exit(main())
