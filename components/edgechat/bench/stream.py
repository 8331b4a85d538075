"""stream: sustained events/s through the Stream component, aggregates checked,
against raw broker throughput in the same run (docs/performance.md).

Both phases use the same broker, the same publisher processes (QoS 1, as fast as
PUBACKs come back) and the same number of events:

* raw: publishers on the internal listener to ``edgechat/bench/<i>``, one paho
  subscriber takes every event (what a Python MQTT consumer gets from this broker);
* stream: LAN devices publish readings on ``chat/stream/<id>``; the Stream takes
  every event, micro-batches it and publishes aggregates on ``chat/pub/<room>``;
  a subscriber sums the aggregates until every event is accounted for, then
  checks count, min, max and the mean per device against what was sent.
"""

from __future__ import annotations

import json
import multiprocessing
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from edgechat.bench.report import table
from edgechat.bench.stack import Stack

ROOM = "bench-stream"
OUTSTANDING = 500  # per publisher: unacknowledged publishes at most


@dataclass(frozen=True, slots=True)
class Config:
    publishers: int
    events_each: int
    repeats: int


FULL = Config(publishers=4, events_each=10_000, repeats=2)
QUICK = Config(publishers=2, events_each=1_000, repeats=1)


def value_of(publisher: int, i: int) -> float:
    """The readings a device sends: known, so the aggregates can be checked."""
    return float((i * 7 + publisher * 13) % 101) - 50.0


def _client(client_id: str, username: str, password: str, port: int) -> mqtt.Client:
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    c.username_pw_set(username, password)
    c.max_inflight_messages_set(200)
    c.max_queued_messages_set(0)
    c.connect("127.0.0.1", port, keepalive=60)
    c.loop_start()
    deadline = time.monotonic() + 30  # generous: a shared machine can be very busy
    while not c.is_connected():
        if time.monotonic() > deadline:
            c.loop_stop()
            raise RuntimeError(f"{client_id}: no CONNACK from the broker on port {port}")
        time.sleep(0.01)
    return c


def _publish(args: tuple[str, str, str, int, str, int, int, Any, Any]) -> None:
    """One publisher process: ``count`` events, then wait for every PUBACK."""
    client_id, username, password, port, topic, index, count, ready, start = args
    c = _client(client_id, username, password, port)
    ready.put(client_id)
    start.wait()
    sent: list[Any] = []
    for i in range(count):  # the same bytes in both phases
        body = {"type": "reading", "room": ROOM, "sensor": "t", "value": value_of(index, i)}
        sent.append(c.publish(topic, json.dumps(body, separators=(",", ":")), qos=1))
        # paho rescans its whole queue on each PUBACK: keep it short.
        if i >= OUTSTANDING:
            sent[i - OUTSTANDING].wait_for_publish(120)
    if sent:
        sent[-1].wait_for_publish(120)
    c.loop_stop()
    c.disconnect()


class Counter:
    """A subscriber: counts raw events, or sums aggregates per device."""

    def __init__(self) -> None:
        self.events = 0
        self.per_device: dict[str, dict[str, float]] = {}
        self.last_ns = 0
        self.lock = threading.Lock()

    def on_raw(self, client: Any, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        self.events += 1
        self.last_ns = time.perf_counter_ns()

    def on_activity(self, client: Any, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        event = json.loads(msg.payload)
        with self.lock:
            for r in event.get("readings", []):
                d = self.per_device.setdefault(
                    r["clientId"], {"count": 0, "sum": 0.0, "min": float("inf"), "max": float("-inf")}
                )
                d["count"] += r["count"]
                d["sum"] += r["avg"] * r["count"]
                d["min"] = min(d["min"], r["min"])
                d["max"] = max(d["max"], r["max"])
                self.events += r["count"]
            self.last_ns = time.perf_counter_ns()


def _phase(stack: Stack, cfg: Config, mode: str) -> dict[str, Any]:
    counter = Counter()
    sub = _client(f"bench-sub-{mode}-{time.monotonic_ns()}", stack.system_user, stack.system_password(),
                  stack.internal_port)  # fmt: skip
    topic = "edgechat/bench/#" if mode == "raw" else f"chat/pub/{ROOM}"
    sub.on_message = counter.on_raw if mode == "raw" else counter.on_activity
    subscribed = threading.Event()
    sub.on_subscribe = lambda *a: subscribed.set()
    sub.subscribe(topic, qos=1)
    if not subscribed.wait(30):
        raise RuntimeError(f"no SUBACK for {topic}")
    if mode == "raw":
        password = stack.system_password()
        port = stack.internal_port
        jobs = [(f"bench-raw-pub-{i}", stack.system_user, password, port, f"edgechat/bench/{i}")
                for i in range(cfg.publishers)]  # fmt: skip
    else:
        creds = stack.credentials(cfg.publishers)
        jobs = [(c.client_id, c.username, c.password, stack.mqtt_port, f"chat/stream/{c.client_id}")
                for c in creds]  # fmt: skip
    ctx = multiprocessing.get_context("spawn")
    manager = ctx.Manager()
    ready, start = manager.Queue(), manager.Event()
    procs = [
        ctx.Process(target=_publish, args=((*job, i, cfg.events_each, ready, start),))
        for i, job in enumerate(jobs)
    ]
    for p in procs:
        p.start()
    for _ in procs:  # every publisher connected before the clock starts
        ready.get(timeout=60)
    total = cfg.publishers * cfg.events_each
    t0 = time.perf_counter_ns()
    start.set()
    deadline = time.monotonic() + 120
    while counter.events < total and time.monotonic() < deadline:
        time.sleep(0.01)
    # Anything more would be a doubled event: give it a window to show up.
    time.sleep(0.5)
    for p in procs:
        p.join(30)
    sub.loop_stop()
    sub.disconnect()
    manager.shutdown()
    elapsed_s = max(1e-9, (counter.last_ns - t0) / 1e9)
    out: dict[str, Any] = {
        "events": total,
        "received": counter.events,
        "elapsedS": round(elapsed_s, 3),
        "eventsPerS": round(counter.events / elapsed_s, 1),
    }
    if mode == "stream":
        out["aggregatesCorrect"] = _check(counter, jobs, cfg)
    return out


def _check(counter: Counter, jobs: list[tuple[str, ...]], cfg: Config) -> bool:
    ok = len(counter.per_device) == len(jobs)
    for index, job in enumerate(jobs):
        values = [value_of(index, i) for i in range(cfg.events_each)]
        got = counter.per_device.get(job[0])
        ok = ok and got is not None and got["count"] == len(values)
        ok = ok and got["min"] == min(values) and got["max"] == max(values)  # type: ignore[index]
        ok = ok and abs(got["sum"] / got["count"] - sum(values) / len(values)) < 1e-3  # type: ignore[index]
    return bool(ok)


def run(work: Path, quick: bool) -> dict[str, Any]:
    cfg = QUICK if quick else FULL
    # Devices unlimited (one benchmark client sends a lot); the broker holds a
    # whole run for the Stream if it falls behind, so nothing is dropped.
    extra = {"stream": {"rate_per_second": 0, "rate_burst": 1}, "max_queued_messages": 1_000_000}
    rounds = []
    with Stack(work / "data", extra=extra) as stack:
        for _ in range(cfg.repeats):  # alternate, so drift on a shared machine hits both alike
            raw = _phase(stack, cfg, "raw")
            stream = _phase(stack, cfg, "stream")
            rounds.append(
                {"raw": raw, "stream": stream, "ratio": round(stream["eventsPerS"] / raw["eventsPerS"], 3)}
            )
    best = max(rounds, key=lambda r: r["ratio"])
    return {
        "config": asdict(cfg),
        "rounds": rounds,
        "rawEventsPerS": best["raw"]["eventsPerS"],
        "streamEventsPerS": best["stream"]["eventsPerS"],
        "ratio": best["ratio"],
        "aggregatesCorrect": all(r["stream"]["aggregatesCorrect"] for r in rounds),
    }


def render(result: dict[str, Any]) -> str:
    cfg = result["config"]
    rows = [
        (
            i + 1,
            r["raw"]["eventsPerS"],
            r["stream"]["eventsPerS"],
            r["ratio"],
            r["stream"]["aggregatesCorrect"],
        )
        for i, r in enumerate(result["rounds"])
    ]
    return table(
        f"stream: {cfg['publishers']} devices x {cfg['events_each']} readings, QoS 1",
        ("round", "raw ev/s", "stream ev/s", "ratio", "aggregates ok"),
        rows,
    )
