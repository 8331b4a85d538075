"""The rules runner: the template's IoT topic rules, executed against the local
broker.  Matching and SQL are pure (``route``); the MQTT loop is a thin shell
that hands each firing to the handler module named in the template (called
in-process, as moto cannot run Lambda) or puts it on the Kinesis stream."""

from __future__ import annotations

import importlib
import json
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt

from edgechat.cloud import iotsql
from edgechat.cloud.handlers.deps import Deps
from edgechat.cloud.local.broker import PUBLISHER_LEVEL
from edgechat.cloud.template import KinesisTarget, LambdaTarget, RuleSpec

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Rule:
    spec: RuleSpec
    stmt: iotsql.Statement

    @property
    def local(self) -> bool:
        """Mosquitto publishes no ``$aws/…`` lifecycle events; the clients' Last
        Will (``bye`` on chat/out) carries disconnects locally."""
        return not self.stmt.topic_filter.startswith("$aws/")


@dataclass(frozen=True, slots=True)
class Firing:
    target: LambdaTarget | KinesisTarget
    output: dict[str, Any]
    partition_key: str | None = None


def compile_rules(specs: list[RuleSpec]) -> list[Rule]:
    return [Rule(spec, iotsql.parse(spec.sql)) for spec in specs]


def publisher_of(topic: str) -> str | None:
    """Who published ``topic``, as the stand-in's ACL guarantees it (IoT's clientid())."""
    for topic_filter, level in PUBLISHER_LEVEL.items():
        if iotsql.topic_matches(topic_filter, topic):
            return topic.split("/")[level - 1]
    return None


def route(rules: list[Rule], topic: str, payload: bytes, now_ms: int) -> list[Firing]:
    ctx = iotsql.Context(topic, publisher_of(topic), now_ms)
    firings: list[Firing] = []
    for rule in rules:
        output = iotsql.run(rule.stmt, payload, ctx)
        if output is None:
            continue
        for target in rule.spec.targets:
            key = None
            if isinstance(target, KinesisTarget):
                key = iotsql.substitute(target.partition_key, payload, ctx)
            firings.append(Firing(target, output, key))
    return firings


def handler_entry(dotted: str) -> Callable[[dict[str, Any], Deps], Any]:
    """``pkg.module.handler`` (the template's Handler) -> that module's ``handle``."""
    module = importlib.import_module(dotted.rsplit(".", 1)[0])
    return module.handle


class RulesRunner:
    """Subscribes as the system account and fires rules one message at a time."""

    def __init__(
        self,
        rules: list[Rule],
        *,
        port: int,
        password: str,
        username: str,
        put_record: Callable[[str, bytes, str], None],
        streams: dict[str, str],
    ) -> None:
        self.rules = rules
        self.put_record = put_record
        self.streams = streams  # logical id -> stream name
        self.deps: Deps | None = None
        self._queue: queue.Queue[mqtt.MQTTMessage | None] = queue.Queue(maxsize=10_000)
        self._client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id="edgechat-rules", protocol=mqtt.MQTTv5
        )
        self._client.username_pw_set(username, password)
        # The broker may be killed (tests do): be back within a moment, as IoT Core's
        # rules never go away; what is published meanwhile waits in ``publish``.
        self._client.reconnect_delay_set(0.05, 1.0)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = lambda *_a: self._connected.clear()
        self._client.on_message = lambda _c, _u, msg: self._queue.put(msg)
        self._port = port
        self._worker = threading.Thread(target=self._work, name="rules", daemon=True)
        self._connected = threading.Event()

    def publish(self, topic: str, payload: bytes, timeout_s: float = 15.0) -> None:
        """The handlers' ``iot-data publish``: delivered to the broker, waiting out a
        broker restart (iot-data does not fail because one broker node went away)."""
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not self._connected.wait(left):
                raise ConnectionError(f"publish to {topic}: the local broker is not back")
            info = self._client.publish(topic, payload, qos=1)
            try:
                info.wait_for_publish(timeout=max(0.1, deadline - time.monotonic()))
            except (RuntimeError, ValueError):
                continue  # lost the connection meanwhile: once it is back, again
            if info.is_published():
                return

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, rc: Any, _p: Any = None) -> None:
        if rc.is_failure:
            log.error("rules runner: broker refused: %s", rc)
            return
        client.subscribe([(r.stmt.topic_filter, 1) for r in self.rules if r.local])
        self._connected.set()

    def start(self, deps: Deps, timeout_s: float = 10.0) -> None:
        self.deps = deps
        self._worker.start()
        self._client.connect("127.0.0.1", self._port)
        self._client.loop_start()
        if not self._connected.wait(timeout_s):
            raise RuntimeError("rules runner could not connect to the local broker")

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
        self._queue.put(None)
        self._worker.join(timeout=10)

    def _work(self) -> None:
        while (msg := self._queue.get()) is not None:
            if msg.retain:
                continue  # IoT rules never see retained replays
            for firing in route(self.rules, msg.topic, msg.payload, time.time_ns() // 1_000_000):
                try:
                    self._fire(firing)
                except Exception:
                    log.exception("rule action failed for %s", msg.topic)

    def _fire(self, firing: Firing) -> None:
        assert self.deps is not None
        match firing.target:
            case LambdaTarget(handler=dotted):
                handler_entry(dotted)(firing.output, self.deps)
            case KinesisTarget(stream=stream):
                data = json.dumps(firing.output).encode()
                self.put_record(self.streams[stream], data, firing.partition_key or "-")
