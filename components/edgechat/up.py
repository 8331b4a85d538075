"""``edgechat up``: the broker and every service of one edge core, in the
foreground, until Ctrl-C or SIGTERM.  Under Greengrass each component runs on
its own; this is the standalone shape of the same parts."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sqlite3
import time
from dataclasses import asdict
from typing import Any

from edgechat.broker import Broker, BrokerError
from edgechat.broker.credentials import expire, urls
from edgechat.router import RouterService
from edgechat.router.wiring import open_store, router_service
from edgechat.runtime import Runtime, clear_runtime, read_runtime
from edgechat.settings import Settings
from edgechat.store import StoreError
from edgechat.stream import StreamService, StreamStore
from edgechat.stream import wiring as stream_wiring
from edgechat.sync.process import SyncProcess
from edgechat.web import WebService

log = logging.getLogger(__name__)

STATUS_EVERY_S = 2.0
# How long the services get to stop once cancelled before the broker goes
# anyway (aiomqtt's exit waits without a bound for the broker to close the
# connection; stopping the broker closes it).
STOP_TIMEOUT_S = 5.0


class StartupError(Exception):
    """edgechat cannot start: the message says why and what to do."""


def _write_status(settings: Settings, service: RouterService, broker: Broker) -> None:
    router = service.router
    status: dict[str, Any] = {
        "updatedMs": time.time_ns() // 1_000_000,
        "broker": {"pid": broker.pid, "running": broker.running},
        "router": {
            "connected": service.ready.is_set(),
            "sessions": router.session_count,
            "rooms": {room: len(who) for room, who in router.presence.rooms.items()},
            **asdict(service.stats),
        },
    }
    path = settings.paths.root / "run" / "status.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(status))
    os.replace(tmp, path)


async def _supervise_broker(broker: Broker, settings: Settings, runtime: Runtime) -> None:
    """Restart the broker if it dies: a chat whose broker crashed should heal."""
    delay = 0.5
    while True:
        code = await broker.wait()
        if broker.stopping:
            return
        log.error("mosquitto exited with %s; restarting in %.1f s", code, delay)
        await asyncio.sleep(delay)
        try:
            await broker.start()
        except BrokerError as exc:
            log.error("%s", exc)
            delay = min(delay * 2, 30.0)
            continue
        delay = 0.5
        Runtime(runtime.pid, broker.pid, runtime.started_ms, settings).write()


async def _status_loop(settings: Settings, service: RouterService, broker: Broker) -> None:
    while True:
        try:
            _write_status(settings, service, broker)
        except OSError as exc:
            log.warning("could not write status: %s", exc)
        await asyncio.sleep(STATUS_EVERY_S)


async def _expire_credentials(settings: Settings, broker: Broker) -> None:
    """Remove expired client credentials: at start, then ten times per lifetime
    (at most every minute)."""
    every_s = max(1.0, min(60.0, settings.credential_ttl_hours * 360))
    while True:
        try:
            gone = await asyncio.to_thread(expire, settings, time.time_ns() // 1_000_000)
        except OSError as exc:
            log.warning("could not expire credentials: %s", exc)
        else:
            if gone:
                log.info("expired %d client credentials", len(gone))
                broker.reload()
        await asyncio.sleep(every_s)


def _open_stream_store(settings: Settings, store: Any) -> StreamStore:
    try:
        return stream_wiring.open_store(settings)
    except sqlite3.Error as exc:
        store.close()
        raise StartupError(f"the stream store cannot open: {exc}") from None


def _labeler(settings: Settings) -> tuple[Any, Any] | None:
    """The Labeler (service, label cache) when it is on and its extra is installed."""
    if not settings.labeler:
        return None
    from edgechat.labeler.wiring import extra_installed, labeler_service

    if not extra_installed():
        log.info("labeler: off (pip install 'edgechat[labeler]' to label pictures)")
        return None
    return labeler_service(settings)


def _stream_service(settings: Settings, stream_store: StreamStore) -> StreamService:
    try:
        return stream_wiring.stream_service(settings, stream_store)
    except ValueError as exc:
        raise StartupError(str(exc)) from None


async def run_up(settings: Settings, *, ready_timeout_s: float = 15.0) -> None:  # noqa: PLR0915 - one start order
    paths = settings.paths
    other = read_runtime(paths)
    if other is not None and other.pid != os.getpid():
        raise StartupError(f"edgechat is already running on {paths.root} (pid {other.pid})")
    paths.root.mkdir(parents=True, exist_ok=True)
    try:
        store = open_store(settings)
    except StoreError as exc:
        raise StartupError(str(exc)) from None

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    broker = Broker(settings)
    web = WebService(settings)
    stream_store = _open_stream_store(settings, store)
    labeler: tuple[Any, Any] | None = None  # docs/labeler.md
    sync = SyncProcess(settings) if settings.sync_url else None  # docs/sync.md
    tasks: list[asyncio.Task[Any]] = []
    try:
        try:
            await broker.start()
        except BrokerError as exc:
            raise StartupError(str(exc)) from None
        runtime = Runtime(os.getpid(), broker.pid, time.time_ns() // 1_000_000, settings)
        runtime.write()
        service = router_service(settings, store)
        stream = _stream_service(settings, stream_store)
        tasks = [
            asyncio.create_task(service.run(), name="router"),
            asyncio.create_task(stream.run(), name="stream"),
            asyncio.create_task(_supervise_broker(broker, settings, runtime), name="broker"),
            asyncio.create_task(_status_loop(settings, service, broker), name="status"),
            asyncio.create_task(_expire_credentials(settings, broker), name="credentials"),
        ]
        try:
            await asyncio.wait_for(service.ready.wait(), ready_timeout_s)
            await asyncio.wait_for(stream.ready.wait(), ready_timeout_s)
        except TimeoutError:
            raise StartupError("the router or the stream did not connect to the broker in time") from None
        try:
            await web.start()
        except OSError as exc:
            raise StartupError(f"the web service cannot listen on port {settings.http_port}: {exc}") from None
        if sync is not None:
            await sync.start()
            tasks.append(asyncio.create_task(sync.supervise(), name="sync"))
        labeler = _labeler(settings)  # after the broker: it needs the system account
        if labeler is not None:  # its models load with the first picture
            tasks.append(asyncio.create_task(labeler[0].run(), name="labeler"))
            try:
                await asyncio.wait_for(labeler[0].ready.wait(), ready_timeout_s)
            except TimeoutError:
                log.warning("labeler: not connected yet; pictures are labelled once it is")
        where = urls(settings)
        print(f"edgechat ready {where.mqtt} {where.ws} {where.http} data={paths.root}", flush=True)
        await stop.wait()
        log.info("edgechat: stopping")
    finally:
        await web.stop()
        if sync is not None:
            await sync.stop()
        for task in tasks:
            task.cancel()
        done, stuck = await asyncio.wait(tasks, timeout=STOP_TIMEOUT_S) if tasks else (set(), set())
        await asyncio.gather(*done, return_exceptions=True)  # their errors were logged where they rose
        for task in stuck:
            log.warning("edgechat: %s still stopping after %.0f s", task.get_name(), STOP_TIMEOUT_S)
        await broker.stop()
        if stuck:  # their connections are gone now
            late, _ = await asyncio.wait(stuck, timeout=STOP_TIMEOUT_S)
            await asyncio.gather(*late, return_exceptions=True)
        store.close()
        stream_store.close()
        if labeler is not None:
            labeler[1].close()
        clear_runtime(paths)
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
