"""The Sync service's shell: the cloud link, the edge broker, the store.

One task drives ``SyncCore`` with every event in arrival order (the cloud's
messages, the Router's answers, a tick) and carries out its effects:

* messages go up from the store's outbox (this process reads it and deletes
  what the cloud acknowledged: its own SQLite connection to the Router's file);
* messages from the cloud go to the Router on ``edgechat/sync/in`` (the Router
  is the store's only writer of messages) and the cursor moves once the Router
  answers on ``edgechat/sync/stored``;
* the Router says on ``edgechat/sync/outbox`` when a commit queued something
  in the outbox (it does not read the room broadcasts: at a busy site that was
  one parse per chat event, its own echoes from the cloud included);
* the state (connected, backlog, lag, last contact) is published retained on
  ``chat/sync/state`` for the web app and written to ``run/sync.json`` for
  ``edgechat status``; metrics are logged every minute.

Every step is safe to repeat, so the process may die anywhere: the outbox and
the cursors are in the store, the cloud's ingest and the Router's are
idempotent by message id.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from edgechat.core import topics
from edgechat.core.protocol import encode
from edgechat.store.base import StoreError, SyncStore
from edgechat.sync.core import (
    Effect,
    InjectMessages,
    RetireOutbox,
    SaveCursors,
    SendUp,
    SyncConfig,
    SyncCore,
    state_event,
)
from edgechat.sync.pictures import PictureSync, pictures_off
from edgechat.sync.uplink import (
    CLOUD_PUB_FILTER,
    Connected,
    Disconnected,
    Received,
    Uplink,
    down_topic,
    up_topic,
)

log = logging.getLogger(__name__)

SYNC_CLIENT_ID = "edgechat-sync"
TICK_S = 0.5
STATE_EVERY_S = 5.0
# The outbox is read when the Router's notice says it grew, on (re)connect and
# after an ack; this is only the insurance against a wake-up lost anyway.
OUTBOX_POLL_S = 5.0
STATE_EXPIRY_S = 30
METRICS_EVERY_S = 60.0
FLUSH_AT = 200  # live messages gathered before they go to the Router at once
# Live messages wait at most this long to be handed over together: a burst (this
# site's own batch coming back, 100 at a time) costs one store read and one
# Router request instead of one each, and the cloud's ack behind it is not kept waiting.
FLUSH_AFTER_S = 0.02


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class _Local:
    topic: str
    payload: bytes


class _Tick:
    pass


class _Flush:
    pass


class SyncService:
    def __init__(
        self,
        store: SyncStore,
        uplink: Uplink,
        *,
        thing: str,
        site: str,
        host: str,
        port: int,
        username: str,
        password: str,
        status_path: Path | None = None,
        config: SyncConfig | None = None,
        clock: Callable[[], int] = _now_ms,
        pictures: PictureSync | None = None,
        outbox_poll_s: float = OUTBOX_POLL_S,
    ) -> None:
        self.store, self.uplink = store, uplink
        self.thing, self.site = thing, site
        self.host, self.port, self.username, self.password = host, port, username, password
        self.status_path = status_path
        self.config = config or SyncConfig()
        self.clock = clock
        # Pictures to S3 before their messages (sync/pictures.py); None: no bucket set.
        self.pictures = pictures
        self.ready = asyncio.Event()
        self.core: SyncCore | None = None
        self.backlog: tuple[int, int | None] = (0, None)
        self._events: asyncio.Queue[Any] = asyncio.Queue()
        self._db = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sync-store")
        self._local: aiomqtt.Client | None = None
        self._outbox_dirty = True
        self.outbox_poll_s = outbox_poll_s
        self._polled_at = 0.0
        self.local_events: dict[str, int] = {}  # what came from the edge broker, by topic
        # Cursors the Router confirmed, written at the next tick: one fsync for a
        # burst, not one per message (a cursor behind only means a re-fetch).
        self._unsaved: dict[str, int] = {}
        self._unsaved_revisions: dict[str, int] = {}
        self._sending: set[asyncio.Task[None]] = set()
        self._unretired: list[str] = []
        self._unretired_revisions: list[str] = []
        self._flush_due = False
        self._last_state: dict[str, Any] | None = None
        self._state_at = 0.0
        self._metrics_at = 0.0

    async def _store(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._db, fn, *args)

    # -- lifecycle

    async def run(self) -> None:
        """Serve until cancelled."""
        cursors = await self._store(self.store.cursors)
        revision_cursors = await self._store(self.store.revision_cursors)
        self.core = SyncCore(self.config, cursors, secrets.token_hex(3), revision_cursors)
        self.backlog = await self._store(self.store.outbox_stats)
        self._polled_at = asyncio.get_running_loop().time()  # read at start (_outbox_dirty)
        tasks = [
            asyncio.create_task(self._local_link(), name="sync-local"),
            asyncio.create_task(self._ticker(), name="sync-tick"),
        ]
        await self.uplink.start(self._events)
        if self.pictures is not None:
            self.pictures.start(self._events.put_nowait, self.clock)
        try:
            await self._drive()
        finally:
            if self._unsaved or self._unsaved_revisions:  # a clean stop keeps its progress (a kill: re-fetch)
                await asyncio.shield(self._save_cursors())
            for task in [*tasks, *self._sending]:
                task.cancel()
            await asyncio.gather(*tasks, *self._sending, return_exceptions=True)
            await self.uplink.stop()
            if self.pictures is not None:
                await self.pictures.close()
            self._db.shutdown(wait=True)

    async def _local_link(self) -> None:
        """The edge broker: the Router's answers and this site's new messages."""
        delay = 0.1
        while True:
            try:
                async with aiomqtt.Client(
                    self.host, self.port, username=self.username, password=self.password,
                    identifier=SYNC_CLIENT_ID, protocol=aiomqtt.ProtocolVersion.V5, keepalive=30,
                ) as client:  # fmt: skip
                    await client.subscribe(topics.SYNC_STORED, qos=1)
                    await client.subscribe(topics.SYNC_OUTBOX, qos=1)  # the Router: the outbox grew
                    self._local = client
                    self._outbox_dirty = True  # a notice sent while we were away is lost
                    self._last_state = None  # publish it again: the broker may have restarted
                    self.ready.set()
                    delay = 0.1
                    async for msg in client.messages:
                        self._events.put_nowait(_Local(str(msg.topic), bytes(msg.payload or b"")))  # type: ignore[arg-type]
            except aiomqtt.MqttError as exc:
                log.warning("sync: edge broker connection lost (%s); retrying in %.1f s", exc, delay)
            self._local = None
            self.ready.clear()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def _ticker(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            self._events.put_nowait(_Tick())

    # -- the one loop that drives the core

    async def _drive(self) -> None:
        assert self.core is not None
        core = self.core
        while True:
            event = await self._events.get()
            now = self.clock()
            effects: list[Effect] = []
            try:
                match event:
                    case Connected():
                        log.info("sync: connected to the cloud as %s", self.thing)
                        effects = core.on_connected(now)
                        self._outbox_dirty = True
                    case Disconnected(reason=reason):
                        if core.connected:
                            log.warning("sync: disconnected from the cloud: %s", reason)
                        core.on_disconnected()
                    case Received(topic=topic, payload=payload):
                        if topic == down_topic(self.thing) or topic.startswith("chat/pub/"):
                            effects = core.on_cloud(_json(payload), now)
                    case _Local(topic=topic, payload=payload):
                        effects = self._on_local(core, topic, payload, now)
                    case _Tick():
                        timeouts = core.counters.timeouts
                        effects = core.tick(now)
                        now_s, resend = asyncio.get_running_loop().time(), core.counters.timeouts != timeouts
                        if resend or now_s - self._polled_at >= self.outbox_poll_s:
                            self._outbox_dirty = True  # unanswered batches go again; or the insurance
                            self._polled_at = now_s
                    case _Flush():
                        self._flush_due = False
                if isinstance(event, _Flush) or core.buffered >= FLUSH_AT:
                    effects += core.flush(now)
                elif core.buffered and not self._flush_due:
                    self._flush_due = True
                    asyncio.get_running_loop().call_later(FLUSH_AFTER_S, self._events.put_nowait, _Flush())
                await self._apply(effects)
                await self._pump_outbox(core)  # before retiring: the next batch need not wait for a delete
                await self._retire()
                if isinstance(event, _Tick):  # twice a second, however busy
                    await self._save_cursors()
                    await self._report(core)
            except Exception:  # a bug must cost one event, never the link
                log.exception("sync: failed on %s", type(event).__name__)

    def _on_local(self, core: SyncCore, topic: str, payload: bytes, now: int) -> list[Effect]:
        self.local_events[topic] = self.local_events.get(topic, 0) + 1
        if topic == topics.SYNC_STORED:
            return core.on_router(_json(payload), now)
        if topic == topics.SYNC_OUTBOX:  # whatever it says: read the outbox (its counts are for people)
            self._outbox_dirty = True
        return []

    async def _apply(self, effects: list[Effect]) -> None:
        todo = deque(effects)
        while todo:
            match todo.popleft():
                case SendUp(body=body):
                    self._send_up(body)
                case InjectMessages(request_id=rid, messages=messages, revisions=revisions):
                    todo.extend(await self._inject(rid, messages, revisions))
                case RetireOutbox(ids=ids, revisions=revisions):
                    self._unretired += ids  # deleted after the next batch is on its way
                    self._unretired_revisions += revisions
                case SaveCursors(cursors=cursors, revisions=revision_cursors):
                    self._unsaved.update(cursors)
                    self._unsaved_revisions.update(revision_cursors)

    async def _inject(
        self, request_id: str, messages: list[dict[str, Any]], revisions: list[dict[str, Any]]
    ) -> list[Effect]:
        """Hand the Router what it does not have yet.  This site's own messages
        come back from the cloud's fan-out: already stored, they cost a read
        here instead of a write transaction there."""
        assert self.core is not None
        try:
            present = await self._store(self.store.known, [str(m.get("id")) for m in messages])
        except StoreError:
            present = set()
        missing = [m for m in messages if m.get("id") not in present]
        revisions = [r for r in revisions if r.get("site") != self.site]  # ours are stored here already
        if not missing and not revisions:
            return self.core.on_router({"type": "stored", "requestId": request_id}, self.clock())
        local = self._local
        if local is not None:  # else the Router cannot answer: the core's timeout rewinds
            body: dict[str, Any] = {"type": "inject", "requestId": request_id, "messages": missing}
            if revisions:  # edits and deletes: merged by the Router, idempotent by id
                body["revisions"] = revisions
            await local.publish(topics.SYNC_IN, encode(body), qos=1)
        return []

    async def _retire(self) -> None:
        """Delete acknowledged rows; if the store is busy, again at the next tick
        (left in place, they would only go up again)."""
        if not self._unretired and not self._unretired_revisions:
            return
        ids, self._unretired = self._unretired, []
        revs, self._unretired_revisions = self._unretired_revisions, []
        try:
            await self._store(self.store.outbox_done, ids, revs)
        except StoreError as exc:
            log.error("sync: cannot retire %d acknowledged messages yet: %s", len(ids) + len(revs), exc)
            self._unretired = ids + self._unretired
            self._unretired_revisions = revs + self._unretired_revisions
        self._outbox_dirty = True

    async def _save_cursors(self) -> None:
        if self._unsaved:
            cursors, self._unsaved = self._unsaved, {}
            try:
                await self._store(self.store.advance_cursors, cursors)
            except StoreError as exc:  # kept for the next tick
                log.error("sync: cannot save cursors: %s", exc)
                self._unsaved = {**cursors, **self._unsaved}
        if self._unsaved_revisions:
            revs, self._unsaved_revisions = self._unsaved_revisions, {}
            try:
                await self._store(self.store.advance_revision_cursors, revs)
            except StoreError as exc:
                log.error("sync: cannot save revision cursors: %s", exc)
                self._unsaved_revisions = {**revs, **self._unsaved_revisions}

    def _send_up(self, body: dict[str, Any]) -> None:
        """Publish in the background: a silent link (no PUBACK) must not stall
        the loop; what never gets an answer is the core's to resend."""
        task = asyncio.create_task(self._publish_up(body))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _publish_up(self, body: dict[str, Any]) -> None:
        try:
            await self.uplink.publish(up_topic(self.thing), encode(body))
        except Exception as exc:  # any failure: the core's timeout resends
            log.debug("sync: %s not sent: %s", body.get("type"), exc)

    async def _pump_outbox(self, core: SyncCore) -> None:
        pictures = self.pictures
        if pictures is not None and core.outbox_wanted(self.clock()) is not None:
            pictures.start_due(self.clock())  # retries whose backoff is over
            for send in core.outbox_read(pictures.gate.release(), self.clock()):  # their pictures are up
                if isinstance(send, SendUp):
                    self._send_up(send.body)
        if not self._outbox_dirty:
            return
        wanted = core.outbox_wanted(self.clock())
        if wanted is None:
            return
        after, limit = wanted
        try:
            rows = await self._store(self.store.outbox, after, limit)
        except StoreError as exc:
            log.error("sync: cannot read the outbox: %s", exc)
            return
        if len(rows) < limit:
            self._outbox_dirty = False
        if pictures is not None and rows:
            admitted = await pictures.admit(rows, self.clock())
            core.outbox_passed(admitted.passed)
            rows = admitted.ready
        sends = core.outbox_read(rows, self.clock())
        # Concurrently: the batches are independent and the cloud answers each.
        for send in sends:
            if isinstance(send, SendUp):
                self._send_up(send.body)

    # -- visible state

    async def _report(self, core: SyncCore) -> None:
        now_s = asyncio.get_running_loop().time()
        try:
            self.backlog = await self._store(self.store.outbox_stats)
        except StoreError as exc:
            log.error("sync: cannot read the outbox size: %s", exc)
        now = self.clock()
        state = state_event(core, self.backlog[0], self.backlog[1], now)
        changed = {k: v for k, v in state.items() if k not in ("updatedMs", "lagMs", "lastContactMs")}
        last = self._last_state
        if self._local is not None and (last != changed or now_s - self._state_at >= STATE_EVERY_S):
            props = Properties(PacketTypes.PUBLISH)
            props.MessageExpiryInterval = STATE_EXPIRY_S  # a dead Sync's state does not linger
            await self._local.publish(topics.SYNC_STATE, encode(state), qos=1, retain=True, properties=props)
            self._last_state = changed
            self._state_at = now_s
        if self.status_path is not None:
            self._write_status(state, core)
        if now_s - self._metrics_at >= METRICS_EVERY_S:
            self._metrics_at = now_s
            c = core.counters
            log.info(
                "sync: connected=%s backlog=%d lag=%.1fs in_flight=%d sent=%d acked=%d rejected=%d "
                "received=%d backfills=%d timeouts=%d",
                core.connected, state["backlog"], state["lagMs"] / 1000, core.in_flight, c.sent, c.acked,
                c.rejected, c.received, c.backfills, c.timeouts,
            )  # fmt: skip

    def _write_status(self, state: dict[str, Any], core: SyncCore) -> None:
        assert self.status_path is not None
        cursors = {r: s.cursor for r, s in core.rooms.items()}
        status = {**state, "pid": os.getpid(), "thing": self.thing, "inFlight": core.in_flight,
                  "counters": asdict(core.counters), "cursors": cursors,
                  "revisionCursors": {r: s.cursor for r, s in core.revs.items()},
                  "localEvents": dict(self.local_events)}  # fmt: skip
        status["pictures"] = self.pictures.status() if self.pictures else pictures_off("no bucket set")
        try:
            self.status_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.status_path.with_suffix(".tmp")
            tmp.write_text(json.dumps(status))
            os.replace(tmp, self.status_path)
        except OSError as exc:
            log.warning("sync: could not write %s: %s", self.status_path, exc)


def _json(payload: bytes) -> Any:
    try:
        return json.loads(payload)
    except (ValueError, RecursionError):
        return None


__all__ = ["CLOUD_PUB_FILTER", "SyncService"]
