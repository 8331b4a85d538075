"""The IPC adapter: what edgechat's components ask of the Greengrass nucleus,
as asyncio calls and ``async for`` streams.

``GreengrassIpc`` wraps an object with the method signatures of awsiotsdk's
``GreengrassCoreIPCClientV2``: the real client in production (built only by
``connect()``, in a component's main), ``FakeIpcClient`` in tests.  The SDK
calls its stream callbacks on an executor thread; they are handed to the event
loop with ``call_soon_threadsafe`` in arrival order, and ``connect()`` gives
the client a single-worker executor, so messages keep their order.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

log = logging.getLogger(__name__)

RUNNING = "RUNNING"
ERRORED = "ERRORED"


@dataclass(frozen=True, slots=True)
class IpcMessage:
    topic: str
    payload: bytes


class IpcError(Exception):
    """The nucleus refused or failed an IPC call (message from the nucleus)."""


class Subscription:
    """``async with ipc.subscribe(topic) as messages: async for m in messages``.

    ``max_queued`` bounds what waits for the reader; past it messages are
    dropped and counted (the nucleus would otherwise buffer without limit)."""

    def __init__(
        self, start: Callable[[Callable[[Any], None]], Any], convert: Callable[[Any], Any], max_queued: int
    ) -> None:
        self._start, self._convert = start, convert
        self._queue: asyncio.Queue[Any] = asyncio.Queue(max_queued)
        self._operation: Any = None
        self.dropped = 0

    async def __aenter__(self) -> Subscription:
        loop = asyncio.get_running_loop()

        def on_event(event: Any) -> None:  # on the SDK's thread
            loop.call_soon_threadsafe(self._put, self._convert(event))

        self._operation = await asyncio.to_thread(self._start, on_event)
        return self

    def _put(self, item: Any) -> None:
        try:
            self._queue.put_nowait(item)
        except asyncio.QueueFull:
            self.dropped += 1
            if self.dropped in (1, 100) or self.dropped % 10_000 == 0:
                log.warning("ipc: subscriber too slow, %d messages dropped", self.dropped)

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        operation, self._operation = self._operation, None
        if operation is not None:
            await asyncio.to_thread(operation.close)

    def __aiter__(self) -> AsyncIterator[Any]:
        return self

    async def __anext__(self) -> Any:
        return await self._queue.get()


def _payload(data: bytes | str | None) -> bytes:
    if data is None:
        return b""
    return data.encode() if isinstance(data, str) else bytes(data)


class GreengrassIpc:
    def __init__(self, client: Any, *, max_queued: int = 10_000) -> None:
        self.client = client
        self.max_queued = max_queued

    async def _call(self, method: str, **kwargs: Any) -> Any:
        from awsiot.greengrasscoreipc.model import GreengrassCoreIPCError

        try:
            return await asyncio.to_thread(getattr(self.client, method), **kwargs)
        except GreengrassCoreIPCError as exc:
            raise IpcError(f"{method}: {getattr(exc, 'message', exc)}") from exc

    # -- configuration and state

    async def get_configuration(self, key_path: list[str] | None = None) -> dict[str, Any]:
        response = await self._call("get_configuration", key_path=key_path or [])
        return dict(response.value or {})

    def configuration_updates(self) -> Subscription:
        """Key paths of this component's configuration that changed."""
        return Subscription(
            lambda cb: self.client.subscribe_to_configuration_update(key_path=[], on_stream_event=cb)[1],
            lambda event: tuple(event.configuration_update_event.key_path or ()),
            self.max_queued,
        )

    async def update_state(self, state: str) -> None:
        await self._call("update_state", state=state)

    # -- local publish/subscribe between components

    async def publish(self, topic: str, payload: bytes) -> None:
        from awsiot.greengrasscoreipc.model import BinaryMessage, PublishMessage

        message = PublishMessage(binary_message=BinaryMessage(message=payload))
        await self._call("publish_to_topic", topic=topic, publish_message=message)

    def subscribe(self, topic: str) -> Subscription:
        def convert(event: Any) -> IpcMessage:
            if event.binary_message is not None:
                msg = event.binary_message
                return IpcMessage(msg.context.topic if msg.context else topic, _payload(msg.message))
            msg = event.json_message
            return IpcMessage(msg.context.topic if msg.context else topic, json.dumps(msg.message).encode())

        return Subscription(
            lambda cb: self.client.subscribe_to_topic(topic=topic, on_stream_event=cb)[1],
            convert,
            self.max_queued,
        )

    # -- AWS IoT Core through the nucleus's MQTT connection

    async def publish_to_iot_core(self, topic: str, payload: bytes, *, qos: int = 1) -> None:
        """Note: success means queued by the nucleus, not delivered (its spooler
        is in memory by default): Sync keeps its own outbox."""
        await self._call("publish_to_iot_core", topic_name=topic, qos=str(qos), payload=payload)

    def subscribe_to_iot_core(self, topic: str, *, qos: int = 1) -> Subscription:
        return Subscription(
            lambda cb: self.client.subscribe_to_iot_core(topic_name=topic, qos=str(qos), on_stream_event=cb)[
                1
            ],
            lambda event: IpcMessage(event.message.topic_name, _payload(event.message.payload)),
            self.max_queued,
        )

    def close(self) -> None:
        self.client.close()


# A JSON file standing in for the nucleus (its content is the component's
# configuration): what the recipe runner test uses to run a recipe's own run line.
STAND_IN_ENV = "EDGECHAT_IPC_STAND_IN"


def connect() -> GreengrassIpc:
    """The real client; only a component's main calls this (it connects at once,
    and fails outside a nucleus)."""
    from concurrent.futures import ThreadPoolExecutor

    stand_in = os.environ.get(STAND_IN_ENV)
    if stand_in:
        from pathlib import Path

        from edgechat.greengrass.fake import FakeIpcClient

        log.warning("ipc: no nucleus, configuration from %s (%s)", stand_in, STAND_IN_ENV)
        return GreengrassIpc(FakeIpcClient(configuration=json.loads(Path(stand_in).read_text())))

    from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2

    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ipc")  # keeps events in order
    return GreengrassIpc(GreengrassCoreIPCClientV2(executor=executor))
