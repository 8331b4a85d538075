"""A stand-in for awsiotsdk's ``GreengrassCoreIPCClientV2``: same method
signatures, the SDK's real request/response/event model classes, stream events
delivered from one executor thread as the SDK does.  It enforces a component's
``accessControl`` (from the catalogue), so tests catch an IPC call the recipe
does not allow."""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from awsiot.greengrasscoreipc import model

from edgechat.greengrass.catalogue import Permission

PUBSUB = "aws.greengrass.ipc.pubsub"
MQTTPROXY = "aws.greengrass.ipc.mqttproxy"


def topic_matches(pattern: str, topic: str) -> bool:
    """MQTT wildcards (+, #), as the nucleus matches subscriptions."""
    p, t = pattern.split("/"), topic.split("/")
    for i, part in enumerate(p):
        if part == "#":
            return True
        if i >= len(t) or (part != "+" and part != t[i]):
            return False
    return len(p) == len(t)


class FakeOperation:
    def __init__(self, on_close: Callable[[], None]) -> None:
        self._on_close = on_close
        self.closed = False

    def close(self) -> None:
        self.closed = True
        self._on_close()


@dataclass
class _Stream:
    pattern: str
    on_event: Callable[[Any], None]
    open: bool = True


@dataclass
class FakeIpcClient:
    component_name: str = "edgechat.Test"
    configuration: dict[str, Any] = field(default_factory=dict)
    permissions: tuple[Permission, ...] | None = None  # None: allow everything
    states: list[str] = field(default_factory=list)
    iot_published: list[model.MQTTMessage] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._events = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fake-ipc")
        self._config_streams: list[_Stream] = []
        self._topic_streams: list[_Stream] = []
        self._iot_streams: list[_Stream] = []

    # -- helpers for tests

    def deploy_configuration(self, merge: dict[str, Any]) -> None:
        """What a deployment's MERGE does: update keys, tell subscribers which."""
        with self._lock:
            self.configuration.update(copy.deepcopy(merge))
            streams = [s for s in self._config_streams if s.open]
        for key in merge:
            event = model.ConfigurationUpdateEvents(
                configuration_update_event=model.ConfigurationUpdateEvent(
                    component_name=self.component_name, key_path=[key]
                )
            )
            for stream in streams:
                self._emit(stream, event)

    def deliver_from_iot_core(self, topic: str, payload: bytes) -> None:
        event = model.IoTCoreMessage(message=model.MQTTMessage(topic_name=topic, payload=payload))
        for stream in self._matching(self._iot_streams, topic):
            self._emit(stream, event)

    def drain(self) -> None:
        """Wait until every event so far has been handed to its callback."""
        self._events.submit(lambda: None).result()

    # -- internals

    def _emit(self, stream: _Stream, event: Any) -> None:
        self._events.submit(lambda: stream.on_event(event) if stream.open else None)

    def _matching(self, streams: list[_Stream], topic: str) -> list[_Stream]:
        with self._lock:
            return [s for s in streams if s.open and topic_matches(s.pattern, topic)]

    def _authorize(self, service: str, operation: str, resource: str) -> None:
        if self.permissions is None:
            return
        for perm in self.permissions:
            if (
                perm.service == service
                and operation in perm.operations
                and (resource in perm.resources or "*" in perm.resources)
            ):
                return
        raise model.UnauthorizedError(
            message=f"{self.component_name} is not authorized to perform {operation} on {resource}"
        )

    def _stream(
        self, streams: list[_Stream], pattern: str, on_event: Callable[[Any], None] | None
    ) -> FakeOperation:
        stream = _Stream(pattern, on_event or (lambda _e: None))
        with self._lock:
            streams.append(stream)

        def close() -> None:
            stream.open = False

        return FakeOperation(close)

    # -- the client's methods

    def get_configuration(
        self, *, component_name: str | None = None, key_path: list[str] | None = None
    ) -> model.GetConfigurationResponse:
        value: Any = self.configuration
        for key in key_path or []:
            if not isinstance(value, dict) or key not in value:
                raise model.ResourceNotFoundError(message=f"no configuration at {key_path}")
            value = value[key]
        return model.GetConfigurationResponse(
            component_name=component_name or self.component_name, value=copy.deepcopy(value)
        )

    def subscribe_to_configuration_update(
        self,
        *,
        component_name: str | None = None,
        key_path: list[str] | None = None,
        on_stream_event: Any = None,
        **_: Any,
    ) -> tuple[Any, FakeOperation]:
        return model.SubscribeToConfigurationUpdateResponse(), self._stream(
            self._config_streams, "#", on_stream_event
        )

    def update_state(self, *, state: str | None = None) -> model.UpdateStateResponse:
        if state not in (model.ReportedLifecycleState.RUNNING, model.ReportedLifecycleState.ERRORED):
            raise model.InvalidArgumentsError(message=f"bad state {state}")
        self.states.append(state)
        return model.UpdateStateResponse()

    def publish_to_topic(
        self, *, topic: str | None = None, publish_message: model.PublishMessage | None = None
    ) -> model.PublishToTopicResponse:
        assert topic is not None and publish_message is not None
        self._authorize(PUBSUB, "aws.greengrass#PublishToTopic", topic)
        binary = publish_message.binary_message
        for stream in self._matching(self._topic_streams, topic):
            event = model.SubscriptionResponseMessage(
                binary_message=model.BinaryMessage(
                    message=binary.message if binary else None, context=model.MessageContext(topic=topic)
                )
            )
            self._emit(stream, event)
        return model.PublishToTopicResponse()

    def subscribe_to_topic(
        self, *, topic: str | None = None, on_stream_event: Any = None, **_: Any
    ) -> tuple[Any, FakeOperation]:
        assert topic is not None
        self._authorize(PUBSUB, "aws.greengrass#SubscribeToTopic", topic)
        return model.SubscribeToTopicResponse(topic_name=topic), self._stream(
            self._topic_streams, topic, on_stream_event
        )

    def publish_to_iot_core(
        self, *, topic_name: str | None = None, qos: str | None = None, payload: bytes | None = None, **_: Any
    ) -> model.PublishToIoTCoreResponse:
        assert topic_name is not None
        self._authorize(MQTTPROXY, "aws.greengrass#PublishToIoTCore", topic_name)
        self.iot_published.append(model.MQTTMessage(topic_name=topic_name, payload=payload))
        return model.PublishToIoTCoreResponse()

    def subscribe_to_iot_core(
        self, *, topic_name: str | None = None, qos: str | None = None, on_stream_event: Any = None, **_: Any
    ) -> tuple[Any, FakeOperation]:
        assert topic_name is not None
        self._authorize(MQTTPROXY, "aws.greengrass#SubscribeToIoTCore", topic_name)
        return model.SubscribeToIoTCoreResponse(), self._stream(
            self._iot_streams, topic_name, on_stream_event
        )

    def close(self) -> None:
        self._events.shutdown(wait=True)
