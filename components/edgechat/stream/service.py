"""The Stream's shell: ``chat/stream/+`` in, one ``activity`` per room per window out.

Every payload goes through the pure ``Batcher`` as it arrives (typed errors go
straight back to the sender's ``chat/in``); every ``window_ms`` the window is
taken, its raw events spooled and its reactions applied in one commit on the
store thread, then each touched room gets one ``activity`` event on
``chat/pub/{room}``.  The export pump drains the spool on its own thread.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.client import MQTT_ERR_SUCCESS, error_string
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from edgechat.core import topics
from edgechat.core.errors import ClientError
from edgechat.core.protocol import encode
from edgechat.core.stream import Batcher, ReactionsQuery, StreamLimits, Window, reactions_json, to_json
from edgechat.stream.export import ExportPump
from edgechat.stream.store import StreamStore

log = logging.getLogger(__name__)

STREAM_CLIENT_ID = "edgechat-stream"
STATUS_EVERY_S = 2.0
SESSION_EXPIRY_S = 86_400


@dataclass(slots=True)
class StreamStats:
    received: int = 0
    accepted: int = 0
    rejected: int = 0
    windows: int = 0
    published: int = 0
    spool_dropped: int = 0
    by_code: dict[str, int] = field(default_factory=dict)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class StreamService:
    def __init__(
        self,
        store: StreamStore,
        *,
        host: str,
        port: int,
        username: str,
        password: str,
        limits: StreamLimits,
        window_ms: int,
        pump: ExportPump | None = None,
        status_file: Path | None = None,
        retention_ms: int = 30 * 86_400_000,
        clock: Callable[[], int] = _now_ms,
    ) -> None:
        self.store = store
        self.host, self.port, self.username, self.password = host, port, username, password
        self.batcher = Batcher(limits)
        self.window_ms = window_ms
        self.pump = pump
        self.status_file = status_file
        self.retention_ms = retention_ms
        self.clock = clock
        self.stats = StreamStats()
        self.ready = asyncio.Event()
        self._db = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stream-store")
        self._client: mqtt.Client | None = None
        self._lock = threading.Lock()  # the Batcher: paho's thread receives, the loop takes windows
        self._loop: asyncio.AbstractEventLoop | None = None  # set in run()
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- lifecycle

    async def run(self) -> None:
        """Serve until cancelled.  paho's own network thread reads the broker
        (it reconnects by itself): through aiomqtt, one asyncio hop per message
        held the Stream to a few hundred events a second (docs/performance.md)."""
        self._loop = asyncio.get_running_loop()
        if self.pump is not None:
            self.pump.start()
        background = [
            asyncio.create_task(self._windows(), name="stream-windows"),
            asyncio.create_task(self._housekeeping(), name="stream-housekeeping"),
        ]
        client = self._new_client()
        self._client = client
        try:
            # A persistent session, as the Router's: what devices send while the
            # Stream restarts waits in the broker (up to max_queued_messages).
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = SESSION_EXPIRY_S
            client.connect_async(self.host, self.port, keepalive=30, clean_start=False, properties=props)
            client.loop_start()
            await asyncio.Event().wait()
        finally:
            client.disconnect()
            client.loop_stop()
            self._client = None
            self.ready.clear()
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            try:  # a clean stop keeps the window in hand: spooled, its reactions stored
                await self._flush()
            except Exception:
                log.exception("stream: the last window could not be committed")
            if self.pump is not None:
                await asyncio.to_thread(self.pump.stop)
            self._db.shutdown(wait=True)

    def _new_client(self) -> mqtt.Client:
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=STREAM_CLIENT_ID, protocol=mqtt.MQTTv5
        )
        client.username_pw_set(self.username, self.password)
        client.max_inflight_messages_set(100)
        client.max_queued_messages_set(0)
        client.reconnect_delay_set(0.1, 5)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_socket_open = lambda c, u, sock: sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return client

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, rc: Any, props: Any = None) -> None:
        if rc.is_failure:
            log.warning("stream: broker refused the connection: %s", rc)
            return
        # QoS 1 (as clients send): a burst of readings beyond what the socket
        # holds waits in the broker instead of being dropped, so aggregates
        # and the export count every accepted event.
        client.subscribe(topics.STREAM_FILTER, qos=1)
        log.info("stream: subscribed to %s", topics.STREAM_FILTER)
        self._soon(self.ready.set)

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, rc: Any, props: Any = None
    ) -> None:
        log.warning("stream: broker connection lost (%s); paho reconnects", rc)
        self._soon(self.ready.clear)

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        if not msg.retain:
            self._receive(msg.topic, msg.payload)

    # -- events in (on paho's thread)

    def _receive(self, topic: str, payload: Any) -> None:
        try:
            client_id = topics.sender_of(topic)
        except ClientError:
            return
        data = payload if isinstance(payload, bytes | bytearray) else str(payload or "").encode()
        self.stats.received += 1
        try:
            with self._lock:
                event, error = self.batcher.receive(client_id, bytes(data), self.clock())
        except Exception:  # a bug in the rules must not take the stream down
            log.exception("stream: failed on an event from %s", client_id)
            return
        if error is not None:
            self.stats.rejected += 1
            code = str(error.get("code"))
            self.stats.by_code[code] = self.stats.by_code.get(code, 0) + 1
            self._publish(topics.client_in(client_id), error)
        elif isinstance(event, ReactionsQuery):
            room = event.room
            self._soon(lambda: self._spawn(self._answer_reactions(client_id, room)))
        elif event is not None:
            self.stats.accepted += 1

    def _soon(self, fn: Callable[[], Any]) -> None:
        """Run ``fn`` on the event loop (from paho's thread)."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(fn)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer_reactions(self, client_id: str, room: str) -> None:
        loop = asyncio.get_running_loop()
        limit = self.batcher.limits.max_reaction_rows
        try:
            counts = await loop.run_in_executor(self._db, self.store.room_reactions, room, limit)
        except Exception as exc:
            log.warning("stream: reactions of %s: %s", room, exc)
            return
        event = {
            "type": "activity",
            "room": room,
            "ts": self.clock(),
            "reactions": reactions_json(counts, counts),
        }
        self._publish(topics.client_in(client_id), event)

    # -- windows out

    async def _windows(self) -> None:
        period = self.window_ms / 1000
        loop = asyncio.get_running_loop()
        next_at = loop.time() + period
        while True:
            await asyncio.sleep(max(0.0, next_at - loop.time()))
            next_at = max(next_at + period, loop.time())
            try:
                await self._flush()
            except Exception:  # the window loop must outlive any one window
                log.exception("stream: failed to flush a window")

    async def _flush(self) -> None:
        now = self.clock()
        with self._lock:
            window = self.batcher.take(now)
        if not window.accepted and not window.typing_changed:
            return
        self.stats.windows += 1
        counts = await asyncio.get_running_loop().run_in_executor(self._db, self._commit, window, now)
        for room in window.rooms():
            event = self.batcher.activity(window, room, counts, now)
            if event is not None:
                self._publish(topics.room_pub(room), event)
                self.stats.published += 1
        if self.pump is not None and window.accepted:
            self.pump.wake()

    def _commit(self, window: Window, now: int) -> dict[str, dict[str, int]]:
        """On the store thread: spool the raw events, apply the reactions,
        read back the counts of the messages they touched."""
        events = [(c, at, json.dumps(to_json(e), ensure_ascii=False)) for c, e, at in window.accepted]
        reactions = [(b.room, change, now) for b in window.batches.values() for change in b.reactions]
        self.stats.spool_dropped += self.store.commit_window(events, reactions)
        touched = [m for b in window.batches.values() for m in b.touched_messages()]
        return self.store.reaction_counts(touched) if touched else {}

    def _publish(self, topic: str, event: dict[str, Any]) -> None:
        client = self._client
        if client is None:
            return
        info = client.publish(topic, encode(event), qos=0)
        if info.rc != MQTT_ERR_SUCCESS:
            log.warning("stream: could not publish on %s (%s)", topic, error_string(info.rc))

    # -- housekeeping and status

    async def _housekeeping(self) -> None:
        loop = asyncio.get_running_loop()
        next_expiry = 0.0
        while True:
            now = loop.time()
            if now >= next_expiry:
                next_expiry = now + 3600
                try:
                    await loop.run_in_executor(
                        self._db, self.store.expire_reactions, self.clock() - self.retention_ms
                    )
                except Exception as exc:
                    log.warning("stream: reaction retention failed: %s", exc)
            with self._lock:
                self.batcher.gate.prune(self.clock())
            if self.status_file is not None:
                try:
                    await loop.run_in_executor(self._db, self.write_status)
                except OSError as exc:
                    log.warning("stream: could not write status: %s", exc)
            await asyncio.sleep(STATUS_EVERY_S)

    def status(self) -> dict[str, Any]:
        stats = asdict(self.stats)
        out: dict[str, Any] = {
            "connected": self.ready.is_set(),
            "updatedMs": self.clock(),
            "received": stats["received"],
            "accepted": stats["accepted"],
            "rejected": stats["rejected"],
            "byCode": stats["by_code"],
            "windows": stats["windows"],
            "published": stats["published"],
            "clients": len(self.batcher.gate),
        }
        if self.pump is not None:
            out["export"] = self.pump.status()
        else:
            out["export"] = {"exporter": "none", "spool": asdict(self.store.stats())}
        return out

    def write_status(self) -> None:
        assert self.status_file is not None
        self.status_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.status_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.status()))
        os.replace(tmp, self.status_file)
