"""A component's main, shared by ``python -m edgechat.<component>``.

Standalone, settings come from a JSON file and flags.  Under the nucleus
(``--greengrass``), from the component's configuration through IPC, then the
flags the recipe passes (the data directory, what it shares with the Broker).
A configuration update is applied in place when only fields the service can
change live differ, and otherwise restarts the service inside this process
(the nucleus does not restart a component whose run line did not change).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Coroutine, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from edgechat.greengrass import configuration
from edgechat.settings import Settings

log = logging.getLogger(__name__)


class Service(Protocol):
    """One component's service, started and stopped by ``host``."""

    name: str
    live: frozenset[str]  # Settings fields ``apply`` takes without a restart

    async def run(self, settings: Settings, ready: asyncio.Event) -> None:
        """Serve until cancelled; set ``ready`` once serving.  Returning or
        raising means the service died."""
        ...

    def apply(self, settings: Settings) -> None: ...


@dataclass(frozen=True, slots=True)
class Overrides:
    """What the command line sets, applied over the file or the nucleus's configuration."""

    assignments: Mapping[str, Any] = field(default_factory=dict)
    data_dir: str | None = None

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Overrides:
        return cls(dict(configuration.parse_assignment(a) for a in args.set), args.data_dir)

    def apply(self, settings: Settings) -> Settings:
        return configuration.apply(settings, self.assignments).with_overrides(data_dir=self.data_dir)


async def serve(run: Coroutine[Any, Any, None], own_ready: asyncio.Event, ready: asyncio.Event,
                name: str) -> None:  # fmt: skip
    """Run a service's ``run()`` until it ends, setting ``ready`` once the
    service sets its own ready event (the shape every component's run has)."""
    task = asyncio.create_task(run, name=name)
    waiter = asyncio.create_task(own_ready.wait())
    try:
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        if waiter.done():
            ready.set()
        await task
    finally:
        for t in (task, waiter):
            t.cancel()
        await asyncio.gather(task, waiter, return_exceptions=True)


def parser(prog: str, description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description=description)
    p.add_argument("--config", help="a JSON settings file (standalone)")
    p.add_argument("--data-dir", help="edgechat's data directory")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a setting by its configuration key, e.g. --set mqttPort=1884")  # fmt: skip
    p.add_argument("--greengrass", action="store_true", help="take configuration from the nucleus (IPC)")
    p.add_argument("-v", "--verbose", action="store_true")
    return p


async def _next_settings(ipc: Any, current: Settings, allowed: Iterable[str], overrides: Overrides,
                         queue: asyncio.Queue[Settings]) -> None:  # fmt: skip
    async with ipc.configuration_updates() as updates:
        async for keys in updates:
            try:
                new = overrides.apply(configuration.apply(current, await ipc.get_configuration(), allowed))
            except (ValueError, TypeError) as exc:
                log.error("configuration update %s refused, keeping the current settings: %s", keys, exc)
                continue
            current = new
            await queue.put(new)


async def host(service: Service, settings: Settings, *, ipc: Any = None, allowed: Iterable[str] = (),
               overrides: Overrides | None = None, ready_timeout_s: float = 30.0) -> int:  # fmt: skip
    """Run ``service`` until SIGINT/SIGTERM; 0 on a clean stop, 1 if it died."""
    loop = asyncio.get_running_loop()
    if hasattr(service, "ipc"):  # a service that uses the nucleus beyond configuration (Sync: IoT Core)
        service.ipc = ipc
    run = _Run(service, ipc, ready_timeout_s)
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, run.stop.set)
    watcher = None
    if ipc is not None:
        watch = _next_settings(ipc, settings, allowed, overrides or Overrides(), run.updates)
        watcher = asyncio.create_task(watch)
    try:
        while (restart := await run.once(settings)) is not None:
            settings = restart
        return 0 if run.stop.is_set() else 1
    finally:
        if watcher is not None:
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


class _Run:
    def __init__(self, service: Service, ipc: Any, ready_timeout_s: float) -> None:
        self.service, self.ipc, self.ready_timeout_s = service, ipc, ready_timeout_s
        self.stop = asyncio.Event()
        self.updates: asyncio.Queue[Settings] = asyncio.Queue()

    async def once(self, settings: Settings) -> Settings | None:
        """Serve one incarnation; the settings to restart with, or None to exit."""
        name = self.service.name
        ready = asyncio.Event()
        task = asyncio.create_task(self.service.run(settings, ready), name=name)
        waiting_ready = asyncio.create_task(ready.wait())
        stopping = asyncio.create_task(self.stop.wait())
        deadline = asyncio.get_running_loop().time() + self.ready_timeout_s
        try:
            while True:
                update = asyncio.create_task(self.updates.get())
                pending = {task, stopping, update}
                timeout = None
                if not waiting_ready.done():
                    pending.add(waiting_ready)
                    timeout = max(0.0, deadline - asyncio.get_running_loop().time())
                done, _ = await asyncio.wait(pending, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
                if not update.done():
                    update.cancel()
                if not done:
                    log.error("%s: not ready in %.0f s", name, self.ready_timeout_s)
                    return None
                if waiting_ready in done:
                    print(f"edgechat {name} ready", flush=True)
                    if self.ipc is not None:
                        await self.ipc.update_state("RUNNING")
                if task in done:
                    exc = None if task.cancelled() else task.exception()
                    log.error("%s: stopped unexpectedly: %s", name, exc or "returned")
                    return None
                if stopping in done:
                    log.info("%s: stopping", name)
                    return None
                if update in done:
                    new = update.result()
                    diff = configuration.changed(settings, new)
                    if diff and diff <= self.service.live:
                        log.info("%s: applying %s", name, ", ".join(sorted(diff)))
                        self.service.apply(new)
                        settings = new
                    elif diff:
                        log.info("%s: restarting for %s", name, ", ".join(sorted(diff)))
                        return new
        finally:
            for t in (task, waiting_ready, stopping):
                t.cancel()
            await asyncio.gather(task, waiting_ready, stopping, return_exceptions=True)


def main(service: Service, allowed: Iterable[str], argv: list[str] | None, prog: str, doc: str) -> int:
    """Parse flags, build settings (file or nucleus), run ``service``."""
    args = parser(prog, doc).parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    overrides = Overrides.from_args(args)
    return asyncio.run(_main(service, tuple(allowed), args, overrides))


async def _main(
    service: Service, allowed: tuple[str, ...], args: argparse.Namespace, overrides: Overrides
) -> int:
    ipc = None
    try:
        base = Settings.load(Path(args.config) if args.config else None)
        if args.greengrass:
            from edgechat.greengrass.ipc import connect

            ipc = connect()
            base = configuration.apply(base, await ipc.get_configuration(), allowed)
        settings = overrides.apply(base)
    except (ValueError, TypeError, OSError) as exc:
        print(f"edgechat {service.name}: bad settings: {exc}", file=sys.stderr)
        return 2
    try:
        return await host(service, settings, ipc=ipc, allowed=allowed, overrides=overrides)
    finally:
        if ipc is not None:
            ipc.close()
