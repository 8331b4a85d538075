"""``edgechat bench sync-drain``: a site's backlog drains to the cloud after a reconnect.

One run, one local cloud (``edgechat cloud up --store memory``: moto's DynamoDB
copies the whole table on every transactional write, so at 10,000 messages it,
not sync, would be measured; the Sync λ, rules runner, broker and mTLS are the
real ones):

1. **drain**: an edge (``edgechat up`` with ``sync_url`` through a
   ``LinkProxy``) is cut off; a client sends N messages there (each acked by
   the edge: stored, queued in the outbox); the link is restored; the clock
   runs until the cloud has announced all N on ``chat/pub`` (and, apart, until
   the edge's outbox is empty).
2. **live**: with the link up, the client sends M more messages at full speed
   (a connected site: each goes up as it is made); the CPU seconds of the
   ``edgechat up`` process (Router, Web, Stream), the Sync child and the broker
   from the first send until the cloud announced all M, per message.
3. **direct**: with the edge cut off again, a paho client acting as a core
   (subscribed as Sync is: ``uplink.subscriptions``, so the cloud announces
   each message to it too) publishes N other messages of the same shape
   straight to ``sync/<thing>/up``, in batches of the edge's size with the
   edge's in-flight window, until all N are acked and the watcher has seen
   them announced, as in the drain.  Without those two subscribers the cloud's
   broker had half the deliveries to make and the ratio compared unequal work.

The figure is drain rate / direct rate: how close the Sync component gets to
what the cloud can take; from the restore (reconnect included) and once the
first message is through (throughput alone).
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from edgechat.bench import report
from edgechat.bench.stack import Stack, cpu_seconds, descendants
from edgechat.cloud.local.child import LocalCloud
from edgechat.core.clock import Hlc, order_key
from edgechat.faults import LinkProxy
from edgechat.sync.core import SyncConfig
from edgechat.sync.uplink import down_topic, subscriptions, up_topic

ROOMS = ("drain-a", "drain-b", "drain-c", "drain-d")
TEXT = "a message that waited for the link to come back " * 2  # ~100 bytes, like chat


class Counter:
    """Counts events under a condition; ``wait(n)`` blocks until n."""

    def __init__(self) -> None:
        self.n = 0
        self.cond = threading.Condition()
        self.first_ns: int | None = None
        self.last_ns: int | None = None

    def add(self, k: int = 1) -> None:
        with self.cond:
            now = time.perf_counter_ns()
            self.first_ns = self.first_ns or now
            self.n += k
            self.last_ns = now
            self.cond.notify_all()

    def wait(self, n: int, timeout_s: float, what: str) -> None:
        with self.cond:
            if not self.cond.wait_for(lambda: self.n >= n, timeout_s):
                raise TimeoutError(f"{what}: {self.n} of {n} after {timeout_s:.0f} s")


OnMessage = Callable[[str, bytes], None]


def _connect(c: mqtt.Client, host: str, port: int, topics: list[tuple[str, int]], on: OnMessage) -> None:
    """Connect and subscribe to (topic filter, QoS) pairs; returns once subscribed."""
    ready = threading.Event()
    c.on_message = lambda _c, _u, msg: on(msg.topic, msg.payload)
    c.on_subscribe = lambda *_a: ready.set()
    c.on_connect = lambda client, *_a: client.subscribe(topics) if topics else ready.set()
    c.connect(host, port, keepalive=60)
    c.loop_start()
    if not ready.wait(20):
        raise TimeoutError(f"no connection to {host}:{port}")


def watch_cloud(cloud: LocalCloud, site: str) -> tuple[mqtt.Client, Counter]:
    """A core-shaped client on chat/pub/+ counting announced messages from ``site``."""
    counter = Counter()
    needle = f'"site":"{site}"'.encode()

    def on(topic: str, payload: bytes) -> None:
        if b'"type":"message"' in payload and needle in payload:
            counter.add()

    c = cloud.core_client(f"watch-{secrets.token_hex(3)}")
    _connect(c, *cloud.mqtts, [("chat/pub/+", 1)], on)
    return c, counter


def fill_edge(stack: Stack, n: int, prefix: str = "drain") -> float:
    """Send ``n`` messages to the edge as one client; returns seconds until all acked."""
    cred = stack.credentials(1)[0]
    acks = Counter()
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=cred.username, protocol=mqtt.MQTTv311)
    c.username_pw_set(cred.username, cred.password)
    c.max_inflight_messages_set(200)

    def on(topic: str, payload: bytes) -> None:
        if b'"type":"ack"' in payload:
            acks.add()

    _connect(c, "127.0.0.1", stack.mqtt_port, [(f"chat/in/{cred.username}", 1)], on)
    out = f"chat/out/{cred.username}"
    c.publish(out, json.dumps({"type": "hello", "nick": "Bench"}), qos=1)
    t0 = time.perf_counter()
    for i in range(n):
        room = ROOMS[i % len(ROOMS)]
        body = {"type": "message", "id": f"{prefix}{i:08d}", "room": room, "text": TEXT}
        c.publish(out, json.dumps(body), qos=1)
        if i % 200 == 199:
            acks.wait(i - 400, 60, "edge acks")  # keep at most ~400 unanswered
    acks.wait(n, 120, "edge acks")
    took = time.perf_counter() - t0
    c.disconnect()
    c.loop_stop()
    return took


def sync_status(stack: Stack) -> dict[str, Any]:
    try:
        return json.loads((stack.data_dir / "run" / "sync.json").read_text())
    except (OSError, ValueError):
        return {}


def wait_backlog(stack: Stack, want: Callable[[int], bool], timeout_s: float) -> int:
    deadline = time.monotonic() + timeout_s
    while True:
        backlog = sync_status(stack).get("backlog")
        if isinstance(backlog, int) and want(backlog):
            return backlog
        if time.monotonic() > deadline:
            raise TimeoutError(f"edge backlog {backlog} after {timeout_s} s")
        time.sleep(0.05)


def _processes(stack: Stack) -> dict[str, int]:
    """The pids that matter here: ``edgechat up`` itself, its Sync child, the broker."""
    out = {"up": stack.pid}
    for pid in descendants(stack.pid):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"edgechat.sync" in cmd:
            out["sync"] = pid
        elif b"mosquitto" in cmd:
            out["broker"] = pid
    return out


class CpuMeter:
    """CPU seconds each of the stack's processes spent since it was made."""

    def __init__(self, stack: Stack) -> None:
        self.pids = _processes(stack)
        self.start = {name: cpu_seconds(pid) for name, pid in self.pids.items()}

    def per_message(self, n: int) -> dict[str, float]:
        spent = {name: cpu_seconds(pid) - self.start[name] for name, pid in self.pids.items()}
        return {name: round(1000 * s / n, 3) for name, s in spent.items()}


def live_cost(stack: Stack, cloud: LocalCloud, n: int) -> dict[str, Any]:
    """A connected site: ``n`` messages said at the edge go up as they are made;
    CPU milliseconds per message of each process until the cloud announced all."""
    watcher, seen = watch_cloud(cloud, "site-a")
    cpu = CpuMeter(stack)
    t0 = time.perf_counter()
    fill_edge(stack, n, prefix="live")
    seen.wait(n, 300, "live: messages announced by the cloud")
    took = time.perf_counter() - t0
    watcher.disconnect()
    watcher.loop_stop()
    status = sync_status(stack)
    return {
        "messages": n, "seconds": round(took, 3), "perS": round(n / took, 1),
        "cpuMsPerMsg": cpu.per_message(n),
        "syncLocalEvents": status.get("localEvents"),  # absent before edgechat/sync/outbox
    }  # fmt: skip


def direct_batches(thing: str, n: int, batch: int) -> list[bytes]:
    wall = time.time_ns() // 1_000_000
    out = []
    for start in range(0, n, batch):
        messages = []
        for i in range(start, min(n, start + batch)):
            mid = f"direct{i:08d}"
            messages.append({
                "type": "message", "id": mid, "room": ROOMS[i % len(ROOMS)], "seq": i + 1, "ts": wall,
                "orderKey": order_key(Hlc(wall, i), thing, mid), "site": thing, "clientId": "bench",
                "nick": "Bench", "text": TEXT,
            })  # fmt: skip
        out.append(json.dumps({"type": "sync", "batchId": f"d{start}", "messages": messages}).encode())
    return out


def feed_direct(cloud: LocalCloud, thing: str, n: int, config: SyncConfig) -> dict[str, Any]:
    """Publish ``n`` messages as core ``thing`` with the edge's batch size and
    window; seconds until every batch is acked and the watcher saw all ``n``."""
    batches = direct_batches(thing, n, config.batch_size)
    acked = Counter()

    def on(topic: str, payload: bytes) -> None:
        if topic == down_topic(thing) and b'"type":"synced"' in payload:
            acked.add()

    watcher, seen = watch_cloud(cloud, thing)
    c = cloud.core_client(thing)
    _connect(c, *cloud.mqtts, list(subscriptions(thing)), on)
    t0 = time.perf_counter()
    for k, body in enumerate(batches):
        acked.wait(k - config.max_in_flight + 1, 120, "direct acks")
        c.publish(up_topic(thing), body, qos=1)
    acked.wait(len(batches), 120, "direct acks")
    seen.wait(n, 120, "direct: messages announced by the cloud")
    took = time.perf_counter() - t0
    for client in (c, watcher):
        client.disconnect()
        client.loop_stop()
    return {"messages": n, "batches": len(batches), "seconds": round(took, 3), "perS": round(n / took, 1)}


def run(work_dir: Path, quick: bool) -> dict[str, Any]:
    n = 500 if quick else 10_000
    n_live = 500 if quick else 5_000
    config = SyncConfig()
    with LocalCloud(work_dir / "cloud", store="memory") as cloud, LinkProxy(cloud.mqtts) as proxy:
        proxy.cut()
        extra = {"site_id": "site-a", **cloud.sync_settings("site-a", f"mqtts://127.0.0.1:{proxy.port}")}
        with Stack(work_dir / "edge", extra=extra) as stack:
            wait_backlog(stack, lambda b: b == 0, 60)  # Sync is up: its start is not counted below
            fill_cpu = CpuMeter(stack)
            fill_s = fill_edge(stack, n)
            wait_backlog(stack, lambda b: b >= n, 60)
            fill_cpu_ms = fill_cpu.per_message(n)  # the link cut, Sync configured
            drain_cpu = CpuMeter(stack)
            watcher, seen = watch_cloud(cloud, "site-a")
            t0 = time.perf_counter()
            proxy.restore()
            seen.wait(n, 900, "drain: messages announced by the cloud")
            drain_s = time.perf_counter() - t0
            assert seen.first_ns is not None and seen.last_ns is not None
            reconnect_s = seen.first_ns / 1e9 - t0  # the link's reconnect backoff, not throughput
            flowing_s = (seen.last_ns - seen.first_ns) / 1e9
            wait_backlog(stack, lambda b: b == 0, 120)
            empty_s = time.perf_counter() - t0
            drain_cpu_ms = drain_cpu.per_message(n)
            counters = sync_status(stack).get("counters")  # backfills, timeouts, the last ack's round trip
            watcher.disconnect()
            watcher.loop_stop()
            live = live_cost(stack, cloud, n_live)
            proxy.cut()  # the edge stays out of the direct half
            direct = feed_direct(cloud, "bench-direct", n, config)
    drain = {
        "messages": n, "fillS": round(fill_s, 3), "seconds": round(drain_s, 3), "perS": round(n / drain_s, 1),
        "outboxEmptyS": round(empty_s, 3), "firstAfterS": round(reconnect_s, 3),
        "flowingPerS": round(n / flowing_s, 1), "fillCpuMsPerMsg": fill_cpu_ms, "cpuMsPerMsg": drain_cpu_ms,
        "syncCounters": counters,
    }  # fmt: skip
    return {
        "config": {"messages": n, "batchSize": config.batch_size, "maxInFlight": config.max_in_flight,
                   "cloudStore": "memory", "rooms": len(ROOMS)},
        "drain": drain,
        "live": live,
        "direct": direct,
        "ratio": round(drain["perS"] / direct["perS"], 3),
        "flowingRatio": round(drain["flowingPerS"] / direct["perS"], 3),
    }  # fmt: skip


def _cpu(per_process: dict[str, float]) -> str:
    return ", ".join(f"{name} {ms}" for name, ms in per_process.items())


def render(r: dict[str, Any]) -> str:
    d, x, lv = r["drain"], r["direct"], r["live"]
    rows = [
        ("edge backlog drained (announced by the cloud)", d["messages"], d["seconds"], d["perS"]),
        ("fed directly to sync/<thing>/up", x["messages"], x["seconds"], x["perS"]),
    ]
    return "\n".join([
        report.table("sync-drain", ("path", "messages", "s", "msg/s"), rows),
        f"ratio drain/direct: {r['ratio']:.2f} from the restore; {r['flowingRatio']:.2f} once flowing "
        f"(first message {d['firstAfterS']} s after the restore, then {d['flowingPerS']} msg/s)",
        f"edge outbox empty {d['outboxEmptyS']} s after the restore; filling the edge took {d['fillS']} s",
        f"CPU ms/message filling (link cut): {_cpu(d['fillCpuMsPerMsg'])}",
        f"CPU ms/message draining: {_cpu(d['cpuMsPerMsg'])}",
        f"connected site, {lv['messages']} messages said at the edge: {lv['perS']} msg/s up; "
        f"CPU ms/message {_cpu(lv['cpuMsPerMsg'])}",
    ])  # fmt: skip
