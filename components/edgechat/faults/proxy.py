"""A TCP proxy between a site and the cloud broker that a test can cut, delay and
restore.  It runs its own asyncio loop on a thread, so synchronous tests and
benchmarks drive it with plain calls.

* ``up``: connections forwarded (after ``delay_s`` each way), new ones accepted.
* ``cut``: every connection reset (RST), as a dropped uplink; new ones refused
  (nothing listens).
* ``blackhole``: a silent partition: nothing forwarded, nothing closed, new
  connections accepted and held.  TCP keeps the bytes, so a heal before the
  peers give up loses nothing.

``restore()`` returns to ``up`` on the same port; held bytes then flow.  Delay
is added once per direction to every chunk, order kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

log = logging.getLogger(__name__)

CHUNK: Final = 64 * 1024


class LinkState(StrEnum):
    UP = "up"
    CUT = "cut"
    BLACKHOLE = "blackhole"


@dataclass
class LinkStats:
    accepted: int = 0
    reset: int = 0
    bytes_up: int = 0  # site -> cloud
    bytes_down: int = 0


class _Pipe:
    """One proxied connection: two pumps, each a reader and a delayed writer."""

    def __init__(self, proxy: LinkProxy, client: tuple[asyncio.StreamReader, asyncio.StreamWriter]) -> None:
        self.proxy = proxy
        self.client_reader, self.client_writer = client
        self.upstream_writer: asyncio.StreamWriter | None = None
        self.tasks: list[asyncio.Task[None]] = []

    async def run(self) -> None:
        await self.proxy._flowing()  # a blackhole holds new connections too
        try:
            up_reader, self.upstream_writer = await asyncio.open_connection(*self.proxy.target)
        except OSError as exc:
            log.info("proxy: upstream %s refused: %s", self.proxy.target, exc)
            self.abort()
            return
        self.tasks = [
            asyncio.create_task(self._pump(self.client_reader, self.upstream_writer, "bytes_up")),
            asyncio.create_task(self._pump(up_reader, self.client_writer, "bytes_down")),
        ]
        await asyncio.wait(self.tasks, return_when=asyncio.FIRST_COMPLETED)
        self.abort()

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, counter: str) -> None:
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def write() -> None:
            while True:
                due, data = await queue.get()
                if not data:
                    return
                if (wait := due - time.monotonic()) > 0:
                    await asyncio.sleep(wait)
                await self.proxy._flowing()
                setattr(self.proxy.stats, counter, getattr(self.proxy.stats, counter) + len(data))
                writer.write(data)
                await writer.drain()

        writer_task = asyncio.create_task(write())
        try:
            while True:
                await self.proxy._flowing()
                data = await reader.read(CHUNK)
                await queue.put((time.monotonic() + self.proxy.delay_s, data))
                if not data:
                    break
            await writer_task
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            writer_task.cancel()

    def abort(self) -> None:
        """Close both sides at once, with a reset: the peers see the link drop."""
        for task in self.tasks:
            task.cancel()
        for w in (self.client_writer, self.upstream_writer):
            if w is not None and w.transport is not None:
                w.transport.abort()
        self.proxy._pipes.discard(self)


class LinkProxy:
    """``LinkProxy((host, port)).start()`` listens on ``self.port`` (free by default)
    and forwards to ``target``.  Usable as a context manager."""

    def __init__(self, target: tuple[str, int], *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.target = target
        self.host, self.port = host, port
        self.delay_s = 0.0
        self.state = LinkState.UP
        self.stats = LinkStats()
        self._pipes: set[_Pipe] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="link-proxy", daemon=True)
        self._server: asyncio.Server | None = None
        self._open: asyncio.Event | None = None

    # -- control, from any thread

    def start(self) -> LinkProxy:
        self._thread.start()
        self._call(self._listen())
        return self

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        self._call(self._close_all(refuse=True))
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    def cut(self) -> None:
        """Drop every connection (reset) and refuse new ones until ``restore``."""
        self._call(self._cut())

    def blackhole(self) -> None:
        """Forward nothing, close nothing, until ``restore``."""
        self._call(self._blackhole())

    def delay(self, seconds: float) -> None:
        """Add ``seconds`` of latency each way (0 to remove it)."""
        if seconds < 0:
            raise ValueError("delay: seconds >= 0")
        self.delay_s = seconds

    def restore(self) -> None:
        self._call(self._restore())

    @property
    def connections(self) -> int:
        return len(self._pipes)

    def __enter__(self) -> LinkProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the loop's side

    def _call(self, coro: Coroutine[Any, Any, None], timeout_s: float = 10.0) -> None:
        asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout_s)

    async def _flowing(self) -> None:
        assert self._open is not None
        await self._open.wait()

    async def _listen(self) -> None:
        if self._open is None:
            self._open = asyncio.Event()
            self._open.set()
        self._server = await asyncio.start_server(self._accept, self.host, self.port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.state is LinkState.CUT:  # accepted in the instant before the listener closed
            writer.transport.abort()
            return
        self.stats.accepted += 1
        pipe = _Pipe(self, (reader, writer))
        self._pipes.add(pipe)
        await pipe.run()

    async def _close_all(self, *, refuse: bool) -> None:
        if refuse and self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1.0)
            self._server = None
        for pipe in list(self._pipes):
            pipe.abort()
            self.stats.reset += 1

    async def _cut(self) -> None:
        self.state = LinkState.CUT
        await self._close_all(refuse=True)
        assert self._open is not None
        self._open.set()  # nothing is held in a cut: held connections were reset

    async def _blackhole(self) -> None:
        if self.state is LinkState.CUT:
            await self._listen()
        self.state = LinkState.BLACKHOLE
        assert self._open is not None
        self._open.clear()

    async def _restore(self) -> None:
        if self.state is LinkState.CUT:
            await self._listen()
        self.state = LinkState.UP
        assert self._open is not None
        self._open.set()
