"""Load generators: worker processes, each driving many paho clients from one
selector loop (no thread per client), told what to do step by step over a pipe.

A worker's publishers send paced messages whose text starts with
``"<step> <monotonic ns>"``; its subscribers read that back to get publish →
delivery latency (CLOCK_MONOTONIC is one clock for every process on Linux).
Publishers in ``edgechat`` mode also time their durable acks on ``chat/in``.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing as mp
import selectors
import socket
import time
from array import array
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import paho.mqtt.client as mqtt

from edgechat.bench.leansub import LeanSubscriber

DRAIN_S = 2.0  # after a step, how long subscribers keep listening for stragglers
TICK_S = 0.001  # publishers send what is due every millisecond
CONNECT_TIMEOUT_S = 30.0  # generous: these machines are shared
WARM_UP_STEP = 1_000_000


@dataclass(frozen=True, slots=True)
class ClientSpec:
    client_id: str
    username: str
    password: str
    port: int
    subscribe: tuple[str, ...] = ()
    room: str | None = None  # set for a publisher: the room it talks in
    join: bool = False  # send {"type":"join"} once connected (presence, as the web app does)


@dataclass(frozen=True, slots=True)
class WorkerSpec:
    clients: tuple[ClientSpec, ...]
    mode: str = "edgechat"  # "edgechat": chat/out/<id> through the Router; "raw": chat/pub/<room>
    host: str = "127.0.0.1"
    qos: int = 1
    text_bytes: int = 60


@dataclass(slots=True)
class StepResult:
    sent: int = 0
    behind_ms: float = 0.0  # the most the publishers ever ran behind their schedule
    latency_ns: array = field(default_factory=lambda: array("q"))
    ack_ns: array = field(default_factory=lambda: array("q"))
    other: int = 0  # deliveries that were not chat messages of this step

    def to_wire(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "behind_ms": self.behind_ms,
            "latency": self.latency_ns.tobytes(),
            "ack": self.ack_ns.tobytes(),
            "other": self.other,
        }


def _step_and_time(payload: bytes) -> tuple[int, int] | None:
    """The ``"<step> <ns>"`` at the start of a chat message's text, without
    decoding the whole JSON (subscribers must stay cheap)."""
    at = payload.find(b'"text":"')
    if at < 0:
        return None
    start = at + 8
    space = payload.find(b" ", start)
    end = payload.find(b" ", space + 1)
    try:
        return int(payload[start:space]), int(payload[space + 1 : end])
    except ValueError:
        return None


class _Worker:
    def __init__(self, spec: WorkerSpec, conn: Connection) -> None:
        self.spec = spec
        self.conn = conn
        self.sel = selectors.DefaultSelector()
        self.clients: list[mqtt.Client] = []
        self.publishers: list[tuple[mqtt.Client, ClientSpec]] = []
        self.connect_ms: list[float] = []
        self.step = -1
        self.result = StepResult()
        self.pending_acks: dict[str, int] = {}
        self.subscribed = 0
        self.counter = 0
        self.lean: list[LeanSubscriber] = []

    # -- connecting

    def connect_all(self) -> None:
        want = 0
        for cs in self.spec.clients:
            t0 = time.perf_counter()
            if cs.subscribe and cs.room is None and not cs.join:
                lean = LeanSubscriber(self._on_chat_payload)
                lean.connect(self.spec.host, cs.port, client_id=cs.client_id, username=cs.username,
                             password=cs.password, topics=cs.subscribe, qos=self.spec.qos)  # fmt: skip
                assert lean.sock is not None
                self.sel.register(lean.sock, selectors.EVENT_READ, lean)
                self.lean.append(lean)
                self.connect_ms.append((time.perf_counter() - t0) * 1000)
                continue
            want += len(cs.subscribe)
            c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=cs.client_id, protocol=mqtt.MQTTv311)
            c.username_pw_set(cs.username, cs.password)
            c.max_inflight_messages_set(100)
            c.max_queued_messages_set(0)
            c.on_message = self._on_message
            c.on_subscribe = self._on_subscribe
            c.connect(self.spec.host, cs.port, keepalive=120)
            sock = c.socket()
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as Mosquitto's own side
            self.sel.register(sock, selectors.EVENT_READ, c)
            self._pump_until(c.is_connected, CONNECT_TIMEOUT_S)
            self.connect_ms.append((time.perf_counter() - t0) * 1000)
            self.clients.append(c)
            for topic in cs.subscribe:
                c.subscribe(topic, qos=self.spec.qos)
            if cs.room is not None:
                self.publishers.append((c, cs))
            if cs.join and cs.room is not None:
                c.publish(f"chat/out/{cs.client_id}", json.dumps({"type": "join", "room": cs.room}), qos=1)
        self._pump_until(lambda: self.subscribed >= want, CONNECT_TIMEOUT_S)

    def _on_subscribe(self, *_: Any) -> None:
        self.subscribed += 1

    # -- the loop

    def _pump(self, timeout: float) -> None:
        for c in self.clients:
            if c.want_write():
                c.loop_write()
        for key, _ in self.sel.select(timeout):
            key.data.loop_read()
        for c in self.clients:
            if c.want_write():
                c.loop_write()

    def _pump_until(self, done: Any, limit_s: float) -> None:
        deadline = time.monotonic() + limit_s
        while not done():
            if time.monotonic() > deadline:
                raise TimeoutError("load generator: the broker did not answer in time")
            self._pump(0.01)

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        now = time.monotonic_ns()
        payload = msg.payload
        if msg.topic.startswith("chat/in/"):
            if b'"ack"' in payload:
                sent = self.pending_acks.pop(json.loads(payload)["id"], None)
                if sent is not None:
                    self.result.ack_ns.append(now - sent)
            return
        self._on_chat_payload(payload)

    def _on_chat_payload(self, payload: bytes) -> None:
        now = time.monotonic_ns()
        found = _step_and_time(payload)
        if found is None or found[0] != self.step:
            self.result.other += 1
            return
        self.result.latency_ns.append(now - found[1])

    # -- one step

    def _payload(self, cs: ClientSpec, mid: str, now: int) -> tuple[str, bytes]:
        text = f"{self.step} {now} ".ljust(self.spec.text_bytes, "x")
        if self.spec.mode == "edgechat":
            event = {"type": "message", "id": mid, "room": cs.room, "text": text}
            return f"chat/out/{cs.client_id}", json.dumps(event, separators=(",", ":")).encode()
        # Shaped like what the Router publishes, so both modes deliver the same bytes.
        event = {
            "type": "message", "id": mid, "room": cs.room, "seq": self.counter, "ts": now // 1_000_000,
            "orderKey": f"{now:020d}-edge-{mid}", "site": "edge", "clientId": cs.client_id,
            "nick": None, "text": text,
        }  # fmt: skip
        return f"chat/pub/{cs.room}", json.dumps(event, separators=(",", ":")).encode()

    def run_step(self, step: int, rate: float, duration_s: float, start_ns: int) -> StepResult:
        self.step, self.result = step, StepResult()
        self.pending_acks.clear()
        interval_ns = int(1e9 / rate) if rate > 0 and self.publishers else 0
        end_ns = start_ns + int(duration_s * 1e9)
        drain_ns = end_ns + int(DRAIN_S * 1e9)
        due = start_ns
        n_pub = len(self.publishers)
        ack = self.spec.mode == "edgechat"
        while True:
            now = time.monotonic_ns()
            if now >= drain_ns:
                break
            while interval_ns and due <= now and due < end_ns:
                c, cs = self.publishers[self.counter % n_pub]
                self.counter += 1
                mid = f"{cs.client_id[:12]}-{step}-{self.counter}"
                t = time.monotonic_ns()
                topic, body = self._payload(cs, mid, t)
                if ack:
                    self.pending_acks[mid] = t
                c.publish(topic, body, qos=self.spec.qos)
                self.result.sent += 1
                self.result.behind_ms = max(self.result.behind_ms, (t - due) / 1e6)
                due += interval_ns
            wait = TICK_S if interval_ns and due < end_ns else 0.05
            self._pump(max(0.0, min(wait, (due - now) / 1e9)) if interval_ns and due < end_ns else wait)
        return self.result

    def close(self) -> None:
        for lean in self.lean:
            lean.close()
        for c in self.clients:
            with contextlib.suppress(Exception):
                c.disconnect()
                c.loop_write()


def worker_main(spec: WorkerSpec, conn: Connection) -> None:
    """A load-generator process: connect, report, then obey the controller."""
    worker = _Worker(spec, conn)
    try:
        worker.connect_all()
    except Exception as exc:  # reported, so the controller can fail with a reason
        conn.send(("error", repr(exc)))
        return
    conn.send(("ready", worker.connect_ms))
    try:
        while True:
            # Keep the connections alive (PINGREQ, PUBACK) while waiting for orders.
            while not conn.poll(0):
                worker._pump(0.05)
                for c in worker.clients:
                    c.loop_misc()
                for lean in worker.lean:
                    lean.misc()
            command = conn.recv()
            if command[0] == "step":
                _, step, rate, duration_s, start_ns = command
                conn.send(("result", worker.run_step(step, rate, duration_s, start_ns).to_wire()))
            else:
                break
    finally:
        worker.close()


class Workers:
    """The controller's side: ``with Workers(specs) as w: w.step(...)``."""

    def __init__(self, specs: list[WorkerSpec], *, ready_timeout_s: float = 120.0) -> None:
        self.specs = specs
        self.ready_timeout_s = ready_timeout_s
        self.procs: list[tuple[Any, Connection]] = []
        self.connect_ms: list[float] = []
        self.ready_s = 0.0

    def __enter__(self) -> Workers:
        ctx = mp.get_context("fork")
        t0 = time.perf_counter()
        for spec in self.specs:
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=worker_main, args=(spec, child), daemon=True)
            proc.start()
            self.procs.append((proc, parent))
        for _, conn in self.procs:
            if not conn.poll(self.ready_timeout_s):
                raise TimeoutError("a load generator did not connect its clients in time")
            kind, value = conn.recv()
            if kind != "ready":
                raise RuntimeError(f"load generator failed: {value}")
            self.connect_ms += value
        self.ready_s = time.perf_counter() - t0
        return self

    def step(
        self, step: int, total_rate: float, duration_s: float, publishing: list[int] | None = None
    ) -> StepResult:
        """Run one step at ``total_rate`` msg/s shared by the ``publishing``
        workers (by index; default every worker with a publisher)."""
        if publishing is None:
            publishing = [i for i, s in enumerate(self.specs) if any(c.room for c in s.clients)]
        start_ns = time.monotonic_ns() + 200_000_000  # everyone starts together
        for i, (_, conn) in enumerate(self.procs):
            rate = total_rate / len(publishing) if i in publishing else 0.0
            conn.send(("step", step, rate, duration_s, start_ns))
        merged = StepResult()
        for _, conn in self.procs:
            if not conn.poll(duration_s + DRAIN_S + 30):
                raise TimeoutError("a load generator did not finish its step")
            _, wire = conn.recv()
            merged.sent += wire["sent"]
            merged.behind_ms = max(merged.behind_ms, wire["behind_ms"])
            merged.latency_ns.frombytes(wire["latency"])
            merged.ack_ns.frombytes(wire["ack"])
            merged.other += wire["other"]
        return merged

    def warm_up(self, publishing: list[int], rate: float = 20.0, duration_s: float = 2.0) -> None:
        """A discarded step: the first messages through a fresh process pay for
        lazy imports, cold caches and each room's first row."""
        self.step(WARM_UP_STEP, rate, duration_s, publishing)

    def __exit__(self, *exc: object) -> None:
        for proc, conn in self.procs:
            with contextlib.suppress(OSError):
                conn.send(("stop",))
            proc.join(5)
            if proc.is_alive():
                proc.terminate()
                proc.join(2)
