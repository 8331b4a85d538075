"""The Router's MQTT v5 connection: an asyncio protocol over ``router.wire``.

Why not aiomqtt/paho here: the Router's one connection carries every request
in and every broadcast and ack out, and paho spent most of the Router's CPU on
it (three or more ``recv`` calls and a v5 ``Properties`` object per packet, one
``send`` per packet, one packet per event-loop turn).  This client parses every
packet a read brings, hands the messages over in bulk, and writes everything a
loop turn produced (broadcasts, acks, PUBACKs) in one ``send``.

Semantics kept: a persistent v5 session (clean start off, session expiry),
QoS 1 both ways, manual PUBACKs (``ack`` once a request is handled, so a flood
waits in the broker, which sends at most ``receive_maximum`` unacknowledged),
and at most the broker's Receive Maximum of our publishes in flight.  The
broker does not always keep to our Receive Maximum (Mosquitto 2.0.11 sent the
Router 10,000 unacknowledged messages in a soak), so reading pauses while more
than twice that many wait: TCP, then the broker's queue, hold the rest.  At
most ``max_held`` publishes wait for the broker's window; ``room()`` is the
writer's backpressure.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections import deque
from collections.abc import AsyncIterator

from edgechat.router import wire
from edgechat.router.wire import Packet, Publish

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10.0


class MqttError(Exception):
    """The connection failed, was refused, or was lost."""


class LeanClient(asyncio.Protocol):
    """``async with LeanClient(...) as c: await c.subscribe(...); async for m in c.messages(): ...``"""

    def __init__(
        self, host: str, port: int, *, client_id: str, username: str, password: str,
        keepalive_s: int = 30, clean_start: bool = False, session_expiry_s: int = 0,
        receive_maximum: int = 100, max_held: int = 1000,
    ) -> None:  # fmt: skip
        self.host, self.port = host, port
        self._connect = wire.connect_packet(
            client_id, username, password, keepalive_s=keepalive_s, clean_start=clean_start,
            session_expiry_s=session_expiry_s, receive_maximum=receive_maximum,
        )  # fmt: skip
        self.keepalive_s = keepalive_s
        self._reader = wire.Reader()
        self._transport: asyncio.Transport | None = None
        self._out = bytearray()  # what this loop turn wrote, sent at its end
        self._flush_scheduled = False
        self._inbox: deque[Publish] = deque()
        self._inbox_high = 2 * receive_maximum
        self._paused = False
        self._wake = asyncio.Event()
        self._error: MqttError | None = None
        self._waiters: dict[tuple[int, int], asyncio.Future[Packet]] = {}  # (kind, mid) -> reply
        self._next_mid = 0
        self._inflight: set[int] = set()
        self._held: deque[tuple[str, bytes]] = deque()  # beyond the broker's Receive Maximum
        self._send_quota = 65_535
        self._max_packet = wire.MAX_REMAINING
        self._idle = asyncio.Event()  # every publish acknowledged
        self._idle.set()
        self._max_held = max_held
        self._room = asyncio.Event()  # fewer than max_held publishes wait for the broker
        self._room.set()
        self._last_read = 0.0
        self._keepalive: asyncio.Task[None] | None = None
        self.refused = 0  # publishes the broker answered with a failure reason code

    # -- lifecycle

    async def __aenter__(self) -> LeanClient:
        loop = asyncio.get_running_loop()
        try:
            opening = loop.create_connection(lambda: self, self.host, self.port)
            await asyncio.wait_for(opening, CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError) as exc:
            raise MqttError(f"cannot connect to {self.host}:{self.port}: {exc}") from exc
        self._write(self._connect)
        connack = await self._reply(wire.CONNACK, 0)
        if len(connack.body) < 2 or connack.body[1] != 0:
            code = connack.body[1] if len(connack.body) > 1 else -1
            self._close()
            raise MqttError(f"the broker refused the connection (reason {code})")
        try:
            props, _ = wire.properties(connack.body, 2)
        except wire.ProtocolError as exc:
            self._close()
            raise MqttError(f"bad CONNACK from the broker: {exc}") from None
        self._send_quota = props.get(wire.RECEIVE_MAXIMUM, 65_535)
        self._max_packet = props.get(wire.MAXIMUM_PACKET_SIZE, wire.MAX_REMAINING)
        self.keepalive_s = props.get(wire.SERVER_KEEP_ALIVE, self.keepalive_s)
        self._keepalive = asyncio.create_task(self._ping(), name="mqtt-keepalive")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._keepalive is not None:
            self._keepalive.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keepalive
        if self._transport is not None and self._error is None:
            with contextlib.suppress(TimeoutError):  # let what is in flight land
                await asyncio.wait_for(self._idle.wait(), 2.0)
            self._write(wire.DISCONNECT_PACKET)
            self._flush()
        self._close()

    def _close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    # -- asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:  # asyncio sets it too; the ack must not wait for a delayed ACK
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._last_read = asyncio.get_running_loop().time()

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(MqttError(f"connection lost: {exc}" if exc else "connection closed by the broker"))

    def data_received(self, data: bytes) -> None:
        self._last_read = asyncio.get_running_loop().time()
        try:
            packets = self._reader.feed(data)
        except wire.ProtocolError as exc:
            self._fail(MqttError(f"protocol error from the broker: {exc}"))
            self._close()
            return
        for p in packets:
            if type(p) is Publish:
                self._inbox.append(p)
            elif p.kind == wire.PUBACK:
                self._puback(p)
            elif p.kind in (wire.CONNACK, wire.SUBACK):
                mid = -1 if p.kind == wire.SUBACK and len(p.body) < 2 else 0
                if p.kind == wire.SUBACK and mid == 0:
                    mid = p.body[0] << 8 | p.body[1]
                waiter = self._waiters.pop((p.kind, mid), None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(p)
            elif p.kind == wire.DISCONNECT:
                reason = p.body[0] if p.body else 0
                self._fail(MqttError(f"the broker disconnected us (reason 0x{reason:02x})"))
                self._close()
            # PINGRESP: reading it was the point
        if self._inbox:
            self._wake.set()
            if len(self._inbox) > self._inbox_high and self._transport is not None:
                self._transport.pause_reading()
                self._paused = True

    def _fail(self, error: MqttError) -> None:
        if self._error is None:
            self._error = error
        for waiter in self._waiters.values():
            if not waiter.done():
                waiter.set_exception(self._error)
        self._waiters.clear()
        self._wake.set()
        self._idle.set()
        self._room.set()

    # -- writing: one send per loop turn

    def _write(self, packet: bytes) -> None:
        self._out += packet
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self._out and self._transport is not None and not self._transport.is_closing():
            self._transport.write(bytes(self._out))
        self._out.clear()

    # -- requests

    def _mid(self) -> int:
        while True:
            self._next_mid = self._next_mid % 65_535 + 1
            if self._next_mid not in self._inflight:
                return self._next_mid

    async def _reply(self, kind: int, mid: int) -> Packet:
        if self._error is not None:
            raise self._error
        waiter: asyncio.Future[Packet] = asyncio.get_running_loop().create_future()
        self._waiters[(kind, mid)] = waiter
        try:
            return await asyncio.wait_for(waiter, CONNECT_TIMEOUT_S)
        except TimeoutError:
            self._close()
            raise MqttError(f"no answer from the broker (packet type {kind})") from None

    async def subscribe(self, topic_filter: str, qos: int = 1) -> None:
        mid = self._mid()
        self._write(wire.subscribe_packet(mid, topic_filter, qos))
        suback = await self._reply(wire.SUBACK, mid)
        try:
            _, at = wire.properties(suback.body, 2)
        except wire.ProtocolError as exc:
            raise MqttError(f"bad SUBACK from the broker: {exc}") from None
        if at >= len(suback.body) or suback.body[at] >= 0x80:
            raise MqttError(f"the broker refused the subscription to {topic_filter!r}")

    async def messages(self) -> AsyncIterator[Publish]:
        """Every PUBLISH the broker sends, in order; raises MqttError once the connection is gone."""
        inbox = self._inbox
        while True:
            while inbox:
                if self._paused and len(inbox) <= self._inbox_high // 2:
                    self._resume()
                yield inbox.popleft()
            if self._error is not None:
                raise self._error
            self._wake.clear()
            await self._wake.wait()

    def ack(self, mid: int, qos: int) -> None:
        if qos and self._error is None:
            self._write(wire.puback_packet(mid))

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> bool:
        """Queue a publish (sent at the end of this loop turn, or once the broker
        has room); False if the connection is gone or the packet is too big."""
        if self._error is not None:
            return False
        if len(payload) + len(topic) + 16 > self._max_packet:
            return False
        if qos:
            self._idle.clear()
            if len(self._inflight) >= self._send_quota:
                self._held.append((topic, payload))
                if len(self._held) >= self._max_held:
                    self._room.clear()
                return True
        mid = self._mid() if qos else 0
        if qos:
            self._inflight.add(mid)
        self._write(wire.publish_packet(topic, payload, qos, mid))
        return True

    def _puback(self, p: Packet) -> None:
        if len(p.body) < 2:
            return
        self._inflight.discard(p.body[0] << 8 | p.body[1])
        if len(p.body) > 2 and p.body[2] >= 0x80:
            self.refused += 1
        while self._held and len(self._inflight) < self._send_quota:
            topic, payload = self._held.popleft()
            self.publish(topic, payload)
        if len(self._held) <= self._max_held // 2:
            self._room.set()
        if not self._inflight:
            self._idle.set()

    @property
    def backlog(self) -> int:
        """Publishes waiting for room in the broker's window."""
        return len(self._held)

    async def room(self) -> None:
        """Until fewer than ``max_held`` publishes wait for the broker's window
        (or the connection is gone): a writer's backpressure.  Publish on a
        connection whose reading never pauses (one that subscribes to nothing):
        the PUBACKs that make room arrive on it."""
        await self._room.wait()

    def _resume(self) -> None:
        if self._paused and self._transport is not None:
            self._paused = False
            self._transport.resume_reading()

    async def drained(self) -> None:
        """Until the broker has acknowledged every publish (or the connection is gone)."""
        await self._idle.wait()

    # -- keepalive

    async def _ping(self) -> None:
        loop = asyncio.get_running_loop()
        interval = max(1.0, self.keepalive_s / 2)
        while self._error is None:
            await asyncio.sleep(interval)
            if not self._paused and loop.time() - self._last_read > self.keepalive_s * 2:
                self._fail(MqttError("the broker stopped answering"))
                self._close()
                return
            self._write(wire.PINGREQ_PACKET)
