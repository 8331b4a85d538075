"""The Router's shell: MQTT in and out, the store on its own thread.

Requests arrive on ``chat/out/+`` through a persistent MQTT session (requests
sent while the Router restarts wait in the broker).  Messages to store are
committed in groups: while one commit runs, the next batch gathers, so one
fsync covers many messages under load and a lone message is not held back.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from edgechat.core import remote, topics
from edgechat.core.attachments import LABELS_TOPIC, PICTURES_TOPIC, parse_labels_update, picture_notice
from edgechat.core.errors import ClientError
from edgechat.core.protocol import Message, encode
from edgechat.core.router import (
    Broadcast,
    Effect,
    LiftBan,
    LoadTarget,
    QueryAudit,
    QueryConsole,
    QueryHistory,
    QueryRooms,
    RecordModeration,
    Reply,
    Revoke,
    Router,
    StoreMessage,
    StoreRevision,
)
from edgechat.router.moderation import ModerationShell
from edgechat.router.mqtt import LeanClient, MqttError
from edgechat.store.base import MessageStore, StoreError

log = logging.getLogger(__name__)

ROUTER_CLIENT_ID = "edgechat-router"


@dataclass(frozen=True, slots=True)
class RouterLimits:
    max_batch: int = 500
    # What the Router holds beyond the broker: requests taken but not yet
    # committed, and requests the broker may send before we acknowledge any
    # (our MQTT Receive Maximum).  Small, so a flood waits in the broker and
    # memory stays flat (10,000 here left a backlog high-water in the soak).
    max_pending: int = 2_000
    max_inflight_in: int = 500
    session_expiry_s: int = 7 * 86_400
    retention_every_s: float = 3600.0
    prune_every_s: float = 60.0
    reconnect_max_s: float = 5.0


@dataclass(slots=True)
class RouterStats:
    received: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    store_failures: int = 0
    batches: int = 0
    remote_stored: int = 0  # messages from the cloud or other sites, new here (Sync)
    by_code: dict[str, int] = field(default_factory=dict)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class RouterService(ModerationShell):
    def __init__(
        self,
        router: Router,
        store: MessageStore,
        *,
        host: str,
        port: int,
        username: str,
        password: str,
        retention_ms: int,
        limits: RouterLimits | None = None,
        clock: Callable[[], int] = _now_ms,
    ) -> None:
        self.router = router
        self.store = store
        self.host, self.port = host, port
        self.username, self.password = username, password
        self.retention_ms = retention_ms
        self.limits = limits or RouterLimits()
        self.clock = clock
        self.stats = RouterStats()
        self.ready = asyncio.Event()
        self._db = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store")
        self._pending: asyncio.Queue[Message | remote.Inject] = asyncio.Queue(self.limits.max_pending)
        self._client: LeanClient | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- lifecycle

    async def run(self) -> None:
        """Serve until cancelled, reconnecting to the broker as needed."""
        background = [
            asyncio.create_task(self._writer(), name="router-writer"),
            asyncio.create_task(self._housekeeping(), name="router-housekeeping"),
        ]
        delay = 0.1
        try:
            while True:
                try:
                    await self._serve()
                except MqttError as exc:
                    log.warning("router: broker connection lost (%s); retrying in %.1f s", exc, delay)
                except Exception:  # a bug must cost one connection, never the chat
                    log.exception("router: unexpected failure; reconnecting in %.1f s", delay)
                else:
                    delay = 0.1
                    continue
                self.ready.clear()
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.limits.reconnect_max_s)
        finally:
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            self._db.shutdown(wait=True)

    async def _serve(self) -> None:
        # Our own lean MQTT v5 client (router/mqtt.py): paho spent most of the
        # Router's CPU on this connection.  Manual PUBACKs: a request is
        # acknowledged only once handled, so the broker, not the Router's
        # memory, holds what a flood sends beyond the in-flight window, and it
        # re-delivers what a dying Router never took.
        client = LeanClient(
            self.host,
            self.port,
            client_id=ROUTER_CLIENT_ID,
            username=self.username,
            password=self.password,
            keepalive_s=30,
            clean_start=False,
            session_expiry_s=self.limits.session_expiry_s,
            receive_maximum=self.limits.max_inflight_in,
        )
        # Broadcasts and replies leave on a second connection: reading the
        # first pauses while a flood waits (Mosquitto may send more than our
        # Receive Maximum), and the writer's PUBACKs must still come in then.
        out = LeanClient(
            self.host,
            self.port,
            client_id=f"{ROUTER_CLIENT_ID}-out",
            username=self.username,
            password=self.password,
            keepalive_s=30,
            clean_start=True,
        )
        async with client, out:
            self._client = out
            await client.subscribe(topics.OUT_FILTER, qos=1)
            await client.subscribe(LABELS_TOPIC, qos=1)  # from the Labeler (system accounts only)
            await client.subscribe(topics.SYNC_IN, qos=1)  # from Sync (system accounts only)
            self.ready.set()
            log.info("router: subscribed to %s", topics.OUT_FILTER)
            async for msg in client.messages():
                if str(msg.topic) == LABELS_TOPIC:
                    await self._store_labels(msg.payload)
                elif str(msg.topic) == topics.SYNC_IN:
                    await self._inject(msg.payload)
                elif not msg.retain:  # a retained one is replayed, not sent now: answered when it was
                    await self._receive(str(msg.topic), msg.payload)
                client.ack(msg.mid, msg.qos)

    # -- the message path

    async def _receive(self, topic: str, payload: Any) -> None:
        try:
            client_id = topics.sender_of(topic)
        except ClientError:
            log.warning("router: ignoring message on %r", topic[:200])
            return
        data = payload if isinstance(payload, bytes | bytearray) else str(payload or "").encode()
        self.stats.received += 1
        try:
            effects = self.router.receive(client_id, bytes(data), self.clock())
            await self._apply(effects)
        except Exception:  # a bug in the rules must not take the chat down
            log.exception("router: failed on a request from %s", client_id)

    async def _apply(self, effects: list[Effect]) -> None:
        for effect in effects:
            match effect:
                case Reply(client_id=cid, event=event):
                    if event.get("type") == "error":
                        self.stats.rejected += 1
                        code = str(event.get("code"))
                        self.stats.by_code[code] = self.stats.by_code.get(code, 0) + 1
                    self._publish(topics.client_in(cid), event)
                case Broadcast(room=room, event=event):
                    self._publish(topics.room_pub(room), event)
                case StoreMessage(message=message):
                    await self._pending.put(message)
                case QueryHistory() as query:
                    self._spawn(self._history(query))
                case QueryRooms() as query:
                    self._spawn(self._rooms(query))
                case LoadTarget() | StoreRevision() | RecordModeration() | Revoke() | LiftBan():
                    await self._moderation_effect(effect)
                case QueryAudit() | QueryConsole():
                    await self._moderation_effect(effect)

    def _publish(self, topic: str, event: dict[str, Any]) -> None:
        client = self._client
        if client is None:
            return
        # Not awaited: written at the end of this loop turn with everything
        # else it produced; nothing here waits for the broker's PUBACK.
        if not client.publish(topic, encode(event), qos=1):
            log.warning("router: could not publish on %s (disconnected, or too big)", topic)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("router: %s", task.exception())

    async def _writer(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if self._client is not None:
                await self._client.room()  # the broker is behind: hold the next batch's broadcasts
            batch = [await self._pending.get()]
            while len(batch) < self.limits.max_batch and not self._pending.empty():
                batch.append(self._pending.get_nowait())
            injects = [i for i in batch if isinstance(i, remote.Inject)]
            if injects:  # from Sync: stored apart, without queueing them to go up again
                batch = [m for m in batch if not isinstance(m, remote.Inject)]
                await self._store_remote(injects)
                if not batch:
                    continue
            outbox = None
            try:
                results = await loop.run_in_executor(self._db, self.store.add, batch)
            except StoreError as exc:
                log.error("router: could not store %d messages: %s", len(batch), exc)
                self.stats.store_failures += len(batch)
                effects = [e for m in batch for e in self.router.store_failed(m, full=exc.full)]
            else:
                self.stats.batches += 1
                effects = []
                for sent, (stored, created) in zip(batch, results, strict=True):
                    self.stats.stored += created
                    self.stats.duplicates += not created
                    effects += self.router.stored(sent, stored, created)
                outbox = remote.outbox_notice(results)
            try:
                await self._apply(effects)
            except Exception:  # the writer must outlive any one batch
                log.exception("router: failed to announce a stored batch")
            else:  # after the broadcasts, so labels never reach a client before their message
                self._tell_labeler(e.event for e in effects if isinstance(e, Broadcast))
            if outbox is not None:  # Sync reads the outbox on this, not on chat/pub (docs/sync.md)
                self._publish(topics.SYNC_OUTBOX, outbox)

    def _tell_labeler(self, events: Iterable[dict[str, Any]]) -> None:
        """Stored messages with pictures, on the Labeler's own topic: it no
        longer reads every room broadcast (docs/labeler.md)."""
        for event in events:
            if (notice := picture_notice(event)) is not None:
                self._publish(PICTURES_TOPIC, notice.to_json())

    async def _store_labels(self, payload: Any) -> None:
        """A picture's labels, kept by its hash and joined into history pages."""
        try:
            sha, labels = parse_labels_update(bytes(payload or b""))
            await asyncio.get_running_loop().run_in_executor(self._db, self.store.put_labels, sha, labels)
        except (ClientError, StoreError, TypeError) as exc:
            log.warning("router: labels not stored: %s", exc)

    async def _inject(self, payload: Any) -> None:
        """Messages from the cloud or another site, handed over by Sync."""
        try:
            inject = remote.parse_inject(bytes(payload or b""), self.router.config.limits.max_text_chars)
        except remote.BadRemoteMessage as exc:
            log.warning("router: ignoring a sync request: %s", exc)
            return
        for bad in inject.rejected:
            log.warning("router: rejected a message from sync: %s", bad)
        latest, now = inject.latest, self.clock()
        if latest is not None:  # keep this site's clock ahead of everything it has seen
            seen = remote.observable(latest, now)
            if seen != latest:
                ahead_s = (latest.wall_ms - now) // 1000
                log.warning("router: a message from sync is %d s in the future", ahead_s)
            self.router.clock = self.router.clock.observe(seen, now)
        await self._pending.put(inject)

    async def _store_remote(self, injects: list[remote.Inject]) -> None:
        loop = asyncio.get_running_loop()
        messages = [m for i in injects for m in i.messages]
        revisions = [r for i in injects for r in i.revisions]
        try:
            results = await loop.run_in_executor(self._db, self.store.add_remote, messages)
            # after their messages (one that is still missing is kept until it comes)
            revised = (
                await loop.run_in_executor(self._db, self.store.revise_remote, revisions) if revisions else []
            )
        except StoreError as exc:
            log.error("router: could not store %d messages from sync: %s", len(messages), exc)
            for inject in injects:
                self._publish(topics.SYNC_STORED, remote.failed_reply(inject, str(exc)))
            return
        at = 0
        for inject in injects:
            mine = results[at : at + len(inject.messages)]
            at += len(inject.messages)
            for stored, created in mine:
                if created:  # announced with this site's seq, in order of arrival here
                    self.stats.remote_stored += 1
                    event = stored.to_event()
                    self._publish(topics.room_pub(stored.room), event)
                    self._tell_labeler((event,))
            self._publish(topics.SYNC_STORED, remote.stored_reply(inject, mine))
        for rev, created, applied in revised:
            if created and applied:  # as for an edit or delete made here
                self._publish(topics.room_pub(rev.room), rev.to_event())

    async def _history(self, query: QueryHistory) -> None:
        req = query.request
        loop = asyncio.get_running_loop()
        try:
            messages, more = await loop.run_in_executor(
                self._db,
                lambda: self.store.history(req.room, before=req.before, after=req.after, limit=req.limit),
            )
        except StoreError as exc:
            log.error("router: history failed: %s", exc)
            await self._apply(self.router.query_failed(query.client_id, "history", req.request_id))
            return
        await self._apply(self.router.history_page(query, messages, more))

    async def _rooms(self, query: QueryRooms) -> None:
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.run_in_executor(self._db, self.store.rooms)
        except StoreError as exc:
            log.error("router: listing rooms failed: %s", exc)
            await self._apply(self.router.query_failed(query.client_id, "rooms", query.request.request_id))
            return
        await self._apply(self.router.rooms_listed(query, infos))

    # -- housekeeping

    async def _housekeeping(self) -> None:
        loop = asyncio.get_running_loop()
        # Look for expired messages ten times per retention period, at most hourly.
        retention_every_s = max(0.5, min(self.limits.retention_every_s, self.retention_ms / 10_000))
        next_retention = 0.0
        while True:
            now = loop.time()
            if now >= next_retention:
                next_retention = now + retention_every_s
                await self._expire()
            self.router.prune(self.clock())
            await asyncio.sleep(min(self.limits.prune_every_s, retention_every_s))

    async def _expire(self) -> None:
        loop = asyncio.get_running_loop()
        cutoff = self.clock() - self.retention_ms
        total = 0
        try:
            while n := await loop.run_in_executor(self._db, self.store.expire, cutoff, 1000):
                total += n
        except StoreError as exc:
            log.error("router: retention failed: %s", exc)
        if total:
            log.info("router: expired %d messages older than the retention period", total)
