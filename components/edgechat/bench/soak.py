"""soak: a steady chat for a long time (30 minutes at 500 msg/s by default)
with clients coming and going, sampled every minute: resident memory must stay
flat after warm-up (under 10 % growth), nothing lost, no errors.  Not part of
``all``: run ``edgechat bench soak`` on its own (``EDGECHAT_SOAK_STEPS=10`` for
ten minutes)."""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from edgechat.bench import clients
from edgechat.bench.loadgen import Workers
from edgechat.bench.report import summary_ms, table
from edgechat.bench.stack import Stack


@dataclass(frozen=True, slots=True)
class Config:
    rooms: int
    subs_per_room: int
    publishers: int
    rate: int
    steps: int
    step_s: float
    churners: int  # clients that keep connecting, joining, leaving, disconnecting


FULL = Config(rooms=10, subs_per_room=5, publishers=10, rate=500, steps=30, step_s=60.0, churners=20)
QUICK = Config(rooms=2, subs_per_room=2, publishers=2, rate=50, steps=3, step_s=1.0, churners=2)
GROWTH_LIMIT = 0.10


class _Churn:
    """Clients arriving and leaving all the time, as phones on a site do."""

    def __init__(self, stack: Stack, room: str, count: int) -> None:
        self.creds = stack.credentials(count)
        self.port, self.room = stack.mqtt_port, room
        self.stop = threading.Event()
        self.cycles = 0
        self.failures = 0
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _cycle(self, c: Any) -> None:
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=c.client_id, protocol=mqtt.MQTTv5)
        client.username_pw_set(c.username, c.password)
        client.will_set(f"chat/out/{c.client_id}", json.dumps({"type": "bye"}), qos=1)
        client.connect("127.0.0.1", self.port, keepalive=30)
        client.loop_start()
        try:
            for request in ({"type": "hello", "nick": "churn"}, {"type": "join", "room": self.room}):
                client.publish(f"chat/out/{c.client_id}", json.dumps(request), qos=1).wait_for_publish(5)
            time.sleep(0.2)
        finally:
            client.disconnect()
            client.loop_stop()

    def _loop(self) -> None:
        while not self.stop.is_set():
            for c in self.creds:
                if self.stop.is_set():
                    return
                try:
                    self._cycle(c)
                    self.cycles += 1
                except (OSError, RuntimeError, ValueError):
                    self.failures += 1

    def __enter__(self) -> _Churn:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(30)


def run(work: Path, quick: bool) -> dict[str, Any]:
    cfg = QUICK if quick else FULL
    if os.environ.get("EDGECHAT_SOAK_STEPS"):  # a shorter soak: one step is a minute
        cfg = replace(cfg, steps=int(os.environ["EDGECHAT_SOAK_STEPS"]))
    room_names = clients.rooms(cfg.rooms)
    samples: list[dict[str, Any]] = []
    with Stack(work / "soak") as stack:
        subs = clients.spread(clients.subscribers(stack, room_names, cfg.subs_per_room), 2)
        chat = clients.chat_publishers(stack, room_names, cfg.publishers)
        specs = clients.specs(subs, "edgechat") + clients.specs([chat], "edgechat")
        with Workers(specs) as workers, _Churn(stack, room_names[0], cfg.churners) as churn:
            workers.warm_up([len(subs)])
            for step in range(cfg.steps):
                r = workers.step(step, cfg.rate, cfg.step_s, [len(subs)])
                expected = r.sent * cfg.subs_per_room
                samples.append({
                    "step": step,
                    "sent": r.sent,
                    "acked": len(r.ack_ns),
                    "delivered": len(r.latency_ns),
                    "deliveredFraction": round(len(r.latency_ns) / expected, 4) if expected else None,
                    "deliveryMs": summary_ms(r.latency_ns),
                    "rssMiB": round(stack.rss()["total"] / 2**20, 1),
                })  # fmt: skip
            status = json.loads((stack.data_dir / "run" / "status.json").read_text())
            churn_cycles, churn_failures = churn.cycles, churn.failures
    baseline = samples[min(1, len(samples) - 1)]["rssMiB"]  # after a step of warm-up
    growth = (samples[-1]["rssMiB"] - baseline) / baseline if baseline else 0.0
    sent = sum(s["sent"] for s in samples)
    return {
        "config": asdict(cfg),
        "samples": samples,
        "rssGrowth": round(growth, 4),
        "sent": sent,
        "acked": sum(s["acked"] for s in samples),
        "lost": sum(s["sent"] * cfg.subs_per_room - s["delivered"] for s in samples),
        "routerErrors": status["router"]["rejected"] + status["router"]["store_failures"],
        "churn": {"cycles": churn_cycles, "failures": churn_failures},
        "met": {"memoryFlat": growth < GROWTH_LIMIT},
    }


def render(result: dict[str, Any]) -> str:
    rows = [[s["step"], s["sent"], s["acked"], s["deliveredFraction"], s["deliveryMs"]["p99"], s["rssMiB"]]
            for s in result["samples"]]  # fmt: skip
    head = table("soak (per step)", ["step", "sent", "acked", "delivered", "p99 ms", "RSS MiB"], rows)
    return (
        f"{head}\nRSS growth after warm-up {result['rssGrowth']:.1%}; lost {result['lost']}; "
        f"router errors {result['routerErrors']}; churn cycles {result['churn']['cycles']} "
        f"({result['churn']['failures']} failed)"
    )
