"""router-cpu: the Router's CPU per stored message, from /proc, at a few paced
rates through edgechat alone (the latency scenario's rooms and subscribers).

CPU seconds are the figure least disturbed by other work on a shared machine:
run this to compare two versions of the hot path (docs/performance.md)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from edgechat.bench import clients
from edgechat.bench.loadgen import Workers
from edgechat.bench.report import summary_ms, table
from edgechat.bench.stack import Stack


@dataclass(frozen=True, slots=True)
class Config:
    rooms: int
    subs_per_room: int
    publishers: int
    rates: tuple[int, ...]
    step_s: float
    sub_workers: int = 2


FULL = Config(rooms=10, subs_per_room=10, publishers=10, rates=(300, 1000), step_s=10.0)
QUICK = Config(rooms=2, subs_per_room=2, publishers=2, rates=(50,), step_s=1.0, sub_workers=1)


def _router_stats(stack: Stack) -> dict[str, Any]:
    return json.loads((stack.data_dir / "run" / "status.json").read_text())["router"]


def run(work: Path, quick: bool) -> dict[str, Any]:
    cfg = QUICK if quick else FULL
    with Stack(work / "router-cpu") as stack:
        steps = measure(stack, cfg)
    return {"config": asdict(cfg), "steps": steps}


def measure(stack: Stack, cfg: Config) -> list[dict[str, Any]]:
    """Each of ``cfg.rates`` in turn through a running stack: CPU per stored message."""
    rooms = clients.rooms(cfg.rooms)
    steps: list[dict[str, Any]] = []
    subs = clients.spread(clients.subscribers(stack, rooms, cfg.subs_per_room), cfg.sub_workers)
    chat = clients.chat_publishers(stack, rooms, cfg.publishers)
    specs = clients.specs(subs, "raw") + clients.specs([chat], "edgechat")
    with Workers(specs) as workers:
        workers.warm_up([len(subs)])
        for step, rate in enumerate(cfg.rates):
            cpu0, stats0 = stack.cpu(), _router_stats(stack)
            r = workers.step(step, rate, cfg.step_s, [len(subs)])
            cpu1, stats1 = stack.cpu(), _router_stats(stack)
            cpu = {k: round(cpu1.get(k, 0) - v, 3) for k, v in cpu0.items()}
            router_s = sum(v for k, v in cpu.items() if k.startswith("python"))
            stored = stats1["stored"] - stats0["stored"]
            batches = stats1["batches"] - stats0["batches"]
            steps.append({
                "rate": rate,
                "sent": r.sent,
                "stored": stored,
                "batches": batches,
                "deliveredFraction": round(len(r.latency_ns) / (r.sent * cfg.subs_per_room), 4),
                "deliveryMs": summary_ms(r.latency_ns),
                "cpuS": cpu,
                "routerCpuMsPerMessage": round(1000 * router_s / stored, 3) if stored else None,
                "mosquittoCpuMsPerMessage": round(
                    1000 * sum(v for k, v in cpu.items() if k.startswith("mosquitto")) / stored, 3
                ) if stored else None,
            })  # fmt: skip
    return steps


def render(result: dict[str, Any]) -> str:
    rows = [[s["rate"], s["sent"], s["stored"], s["batches"], s["deliveredFraction"], s["deliveryMs"]["p99"],
             s["routerCpuMsPerMessage"], s["mosquittoCpuMsPerMessage"]] for s in result["steps"]]  # fmt: skip
    return table("router-cpu", ["rate/s", "sent", "stored", "commits", "delivered", "p99 ms",
                                "router CPU ms/msg", "mosquitto CPU ms/msg"], rows)  # fmt: skip
