"""The Web service's shell: an aiohttp server with ``async with`` lifecycle.

Issuing a credential blocks (it writes the password file, reloads the broker
and waits until the broker takes the credential), so it runs in a thread."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from types import TracebackType

from aiohttp import web

from edgechat import tls
from edgechat.broker.credentials import Credentials, issue
from edgechat.settings import Settings
from edgechat.web.app import make_app

log = logging.getLogger(__name__)

# The repository's web/dist, where `make web-build` puts the app.  Under
# Greengrass the component's artifact folder is passed with --dist instead.
DEFAULT_DIST = Path(__file__).resolve().parents[3] / "web" / "dist"


class WebService:
    def __init__(self, settings: Settings, *, dist: Path = DEFAULT_DIST, host: str | None = None) -> None:
        self.settings = settings
        self.dist = dist
        self.host = host or settings.host
        self._runner: web.AppRunner | None = None

    async def _issue(self, nick: str, address: str) -> Credentials:
        return await asyncio.to_thread(issue, self.settings, nick, address=address)

    async def start(self) -> None:
        if not (self.dist / "index.html").is_file():
            log.warning("the web app is not built in %s: run `make web-build`", self.dist)
        app = make_app(self.settings, self.dist, self._issue)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        # With TLS on, the page is https:// and so (mixed content) must the broker be: wss://.
        ssl_context = tls.server_context(tls.certificate(self.settings)) if self.settings.tls else None
        site = web.TCPSite(
            runner, self.host, self.settings.http_port, reuse_address=True, ssl_context=ssl_context
        )
        try:
            await site.start()
        except OSError:
            await runner.cleanup()
            raise
        self._runner = runner
        scheme = "https" if ssl_context else "http"
        log.info("web: serving %s on %s://%s:%d/", self.dist, scheme, self.host, self.settings.http_port)

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> WebService:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()
