"""latency: a fixed 1,000 msg/s over 10 rooms x 10 subscribers: publish ->
delivery and publish -> durable ack percentiles, with raw Mosquitto at the same
load in the same run for reference."""

from __future__ import annotations

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
    rate: int
    duration_s: float
    sub_workers: int = 2


FULL = Config(rooms=10, subs_per_room=10, publishers=10, rate=1000, duration_s=20.0)
QUICK = Config(rooms=2, subs_per_room=2, publishers=2, rate=100, duration_s=1.0, sub_workers=1)
TARGETS_MS = {"deliveryP99": 25.0, "ackP99": 50.0}


def run(work: Path, quick: bool) -> dict[str, Any]:
    cfg = QUICK if quick else FULL
    rooms = clients.rooms(cfg.rooms)
    out: dict[str, Any] = {"config": asdict(cfg), "targetsMs": TARGETS_MS}
    with Stack(work / "latency") as stack:
        subs = clients.spread(clients.subscribers(stack, rooms, cfg.subs_per_room), cfg.sub_workers)
        chat = clients.chat_publishers(stack, rooms, cfg.publishers)
        raw = clients.raw_publishers(stack, rooms, cfg.publishers)
        specs = clients.specs(subs, "raw") + clients.specs([raw], "raw") + clients.specs([chat], "edgechat")
        with Workers(specs) as workers:
            workers.warm_up([len(subs)])
            workers.warm_up([len(subs) + 1])
            for step, (mode, index) in enumerate((("raw", len(subs)), ("edgechat", len(subs) + 1))):
                cpu0 = stack.cpu()
                r = workers.step(step, cfg.rate, cfg.duration_s, [index])
                cpu1 = stack.cpu()
                expected = r.sent * cfg.subs_per_room
                out[mode] = {
                    "sent": r.sent,
                    "deliveredFraction": round(len(r.latency_ns) / expected, 4) if expected else None,
                    "deliveryMs": summary_ms(r.latency_ns),
                    "ackMs": summary_ms(r.ack_ns) if r.ack_ns else None,
                    "cpuS": {k: round(cpu1.get(k, 0) - v, 2) for k, v in cpu0.items()},
                    "rss": stack.rss(),
                }
    chat_r = out["edgechat"]
    out["met"] = {
        "deliveryP99": (chat_r["deliveryMs"]["p99"] or 1e9) <= TARGETS_MS["deliveryP99"],
        "ackP99": (chat_r["ackMs"] or {}).get("p99", 1e9) <= TARGETS_MS["ackP99"],
    }
    return out


def render(result: dict[str, Any]) -> str:
    rows = []
    for mode in ("raw", "edgechat"):
        r = result[mode]
        d, a = r["deliveryMs"], r["ackMs"] or {}
        rows.append([mode, r["sent"], r["deliveredFraction"], d["p50"], d["p99"], d["p999"],
                     a.get("p50"), a.get("p99"), a.get("p999")])  # fmt: skip
    rate = result["config"]["rate"]
    return table(f"latency at {rate} msg/s (ms)", ["mode", "sent", "fraction", "deliver p50", "p99", "p999",
                                                   "ack p50", "p99", "p999"], rows)  # fmt: skip
