"""Sync's link to the cloud, behind one interface, two adapters.

* ``Mqtt5Uplink``: standalone, awsiotsdk's MQTT5 client with mutual TLS, client
  id = the thing name: the same code talks to AWS IoT Core or to the local
  cloud's Mosquitto.  The CRT reconnects by itself (with backoff); each
  connection starts clean and subscribes again.
* ``IpcUplink``: under Greengrass, the nucleus's own IoT Core connection
  through IPC (``publish_to_iot_core`` / ``subscribe_to_iot_core``).  Its "OK"
  means queued in the nucleus's memory only: Sync's outbox keeps every message
  until the cloud's ``synced`` names it.

Both report what happens as ``UplinkEvent``s on an asyncio queue, in arrival
order, and never raise from a callback.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any, Protocol

log = logging.getLogger(__name__)


def up_topic(thing: str) -> str:
    return f"sync/{thing}/up"


def down_topic(thing: str) -> str:
    return f"sync/{thing}/down"


# Live fan-out: every message the cloud accepts, with the cloud's seq.
CLOUD_PUB_FILTER = "chat/pub/+"


def subscriptions(thing: str) -> tuple[tuple[str, int], ...]:
    """(topic filter, QoS).  Answers to this site's requests at QoS 1; the
    fan-out at QoS 0.  Every QoS 1 delivery costs a PUBACK, and the CRT's IoT
    Core flow control (512 KiB/s) charges each one as a 4 KiB I/O message and
    queues it ahead of our publishes: the fan-out of a draining backlog (each
    message comes back) then capped the link at ~128 messages/s and held each
    batch seconds behind the PUBACKs (docs/performance.md, "sync-drain").  QoS 1
    bought nothing here: a session starts clean, so a disconnect drops what was
    unacknowledged anyway, and a lost announcement is a seq gap that Sync
    backfills (sync/core.py)."""
    return ((down_topic(thing), 1), (CLOUD_PUB_FILTER, 0))


@dataclass(frozen=True, slots=True)
class Connected:
    pass


@dataclass(frozen=True, slots=True)
class Disconnected:
    reason: str


@dataclass(frozen=True, slots=True)
class Received:
    topic: str
    payload: bytes


UplinkEvent = Connected | Disconnected | Received


class UplinkError(Exception):
    """A publish towards the cloud did not go out (the link is down)."""


class Uplink(Protocol):
    async def start(self, events: asyncio.Queue[Any]) -> None:
        """Begin connecting (and reconnecting); report on ``events``."""
        ...

    async def publish(self, topic: str, payload: bytes) -> None:
        """Send at QoS 1; UplinkError when it could not be handed over."""
        ...

    async def stop(self) -> None: ...


class Mqtt5Uplink:
    def __init__(
        self, host: str, port: int, thing: str, *, cert: str, key: str, ca: str | None,
        max_reconnect_ms: int = 5_000,
    ) -> None:  # fmt: skip
        self.host, self.port, self.thing = host, port, thing
        self.cert, self.key, self.ca = cert, key, ca
        self.max_reconnect_ms = max_reconnect_ms
        self._client: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._events: asyncio.Queue[Any] | None = None
        self._stopped: asyncio.Event = asyncio.Event()

    def _emit(self, event: UplinkEvent) -> None:  # from the CRT's threads
        loop, events = self._loop, self._events
        if loop is not None and events is not None and not loop.is_closed():
            loop.call_soon_threadsafe(events.put_nowait, event)

    async def start(self, events: asyncio.Queue[Any]) -> None:
        from awscrt import mqtt5
        from awsiot import mqtt5_client_builder

        self._loop, self._events = asyncio.get_running_loop(), events

        def on_publish(data: Any) -> None:
            packet = data.publish_packet
            self._emit(Received(packet.topic, bytes(packet.payload or b"")))

        def on_success(data: Any) -> None:
            loop = self._loop
            if loop is not None and not loop.is_closed():
                loop.call_soon_threadsafe(lambda: asyncio.ensure_future(self._subscribe()))

        def on_failure(data: Any) -> None:
            log.debug("sync: cannot connect to %s:%d: %s", self.host, self.port, data.exception)

        def on_disconnect(data: Any) -> None:
            self._emit(Disconnected(str(data.exception)))

        def on_stopped(data: Any) -> None:
            loop = self._loop
            if loop is not None and not loop.is_closed():
                loop.call_soon_threadsafe(self._stopped.set)

        self._client = mqtt5_client_builder.mtls_from_path(
            endpoint=self.host, port=self.port, cert_filepath=self.cert, pri_key_filepath=self.key,
            ca_filepath=self.ca, client_id=self.thing,
            on_publish_received=on_publish, on_lifecycle_connection_success=on_success,
            on_lifecycle_connection_failure=on_failure, on_lifecycle_disconnection=on_disconnect,
            on_lifecycle_stopped=on_stopped,
            # What could not go out fails at once: Sync resends from its outbox.
            offline_queue_behavior=mqtt5.ClientOperationQueueBehaviorType.FAIL_ALL_ON_DISCONNECT,
            min_reconnect_delay_ms=200, max_reconnect_delay_ms=self.max_reconnect_ms,
            keep_alive_interval_sec=30, ping_timeout_ms=10_000, connack_timeout_ms=10_000,
            ack_timeout_sec=30,  # a PUBACK that never comes fails the publish (Sync resends)
        )  # fmt: skip
        self._client.start()

    async def _subscribe(self) -> None:
        """Subscribe, then say connected: an answer to the first request must find its subscription."""
        from awscrt import mqtt5

        packet = mqtt5.SubscribePacket(
            subscriptions=[mqtt5.Subscription(t, mqtt5.QoS(qos)) for t, qos in subscriptions(self.thing)]
        )
        try:
            suback = await asyncio.wrap_future(self._client.subscribe(packet))
        except Exception as exc:  # the connection went away meanwhile: the next one subscribes
            log.warning("sync: subscribe failed: %s", exc)
            return
        codes = [getattr(c, "name", str(c)) for c in suback.reason_codes]
        if any(int(c) >= 0x80 for c in suback.reason_codes):
            log.error("sync: the cloud refused a subscription: %s", codes)
        self._emit(Connected())

    async def publish(self, topic: str, payload: bytes) -> None:
        from awscrt import mqtt5

        if self._client is None:
            raise UplinkError("not started")
        try:
            future = self._client.publish(
                mqtt5.PublishPacket(topic=topic, payload=payload, qos=mqtt5.QoS.AT_LEAST_ONCE)
            )
            await asyncio.wrap_future(future)
        except Exception as exc:
            raise UplinkError(str(exc)) from exc

    async def stop(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        client.stop()
        try:
            await asyncio.wait_for(self._stopped.wait(), 5)
        except TimeoutError:
            log.warning("sync: the MQTT client did not stop in time")


class IpcUplink:
    """Under Greengrass: ``ipc`` is a ``greengrass.ipc.GreengrassIpc``."""

    def __init__(self, ipc: Any, thing: str) -> None:
        self.ipc, self.thing = ipc, thing
        self._stack: AsyncExitStack | None = None
        self._readers: list[asyncio.Task[None]] = []

    async def start(self, events: asyncio.Queue[Any]) -> None:
        self._stack = AsyncExitStack()
        for topic, qos in subscriptions(self.thing):
            stream = await self._stack.enter_async_context(self.ipc.subscribe_to_iot_core(topic, qos=qos))
            self._readers.append(asyncio.create_task(self._read(stream, events.put_nowait)))
        # The nucleus keeps its own connection and does not say when it drops:
        # Sync's timeouts and its next answer tell (sync/core.py).
        events.put_nowait(Connected())

    @staticmethod
    async def _read(stream: Any, put: Callable[[UplinkEvent], None]) -> None:
        async for message in stream:
            put(Received(message.topic, message.payload))

    async def publish(self, topic: str, payload: bytes) -> None:
        from edgechat.greengrass.ipc import IpcError

        try:
            await self.ipc.publish_to_iot_core(topic, payload, qos=1)
        except IpcError as exc:
            raise UplinkError(str(exc)) from exc

    async def stop(self) -> None:
        for task in self._readers:
            task.cancel()
        await asyncio.gather(*self._readers, return_exceptions=True)
        self._readers.clear()
        if self._stack is not None:
            await self._stack.aclose()
            self._stack = None
