"""connections: 1,000 idle clients, connected in batches: how long connecting
takes and what each one costs the broker and the services (RSS).

Each client does what the web app does when it opens: connect with its own
credential, subscribe to its ``chat/in`` and one room, and join that room."""

from __future__ import annotations

import contextlib
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from edgechat.bench import clients
from edgechat.bench.loadgen import ClientSpec, Workers, WorkerSpec
from edgechat.bench.report import summary_ms, table
from edgechat.bench.stack import Stack

SETTLE_S = 2.0


@dataclass(frozen=True, slots=True)
class Config:
    batches: int
    per_batch: int
    workers_per_batch: int
    rooms: int = 10


FULL = Config(batches=4, per_batch=250, workers_per_batch=2)
QUICK = Config(batches=2, per_batch=10, workers_per_batch=1, rooms=2)


def _by_name(rss: dict[str, int]) -> dict[str, int]:
    out: dict[str, int] = {}
    for key, value in rss.items():
        name = key.split(":")[0]
        out[name] = out.get(name, 0) + value
    return out


def run(work: Path, quick: bool) -> dict[str, Any]:
    cfg = QUICK if quick else FULL
    rooms = clients.rooms(cfg.rooms)
    points = []
    connect_ms: list[float] = []
    with Stack(work / "connections") as stack, contextlib.ExitStack() as hold:
        time.sleep(SETTLE_S)
        base = _by_name(stack.rss())
        points.append({"clients": 0, "rss": base})
        for b in range(cfg.batches):
            creds = stack.credentials(cfg.per_batch)
            specs = [
                ClientSpec(c.client_id, c.username, c.password, stack.mqtt_port,
                           subscribe=(f"chat/in/{c.client_id}", f"chat/pub/{rooms[i % len(rooms)]}"),
                           room=rooms[i % len(rooms)], join=True)
                for i, c in enumerate(creds)
            ]  # fmt: skip
            groups = clients.spread(specs, cfg.workers_per_batch)
            workers = hold.enter_context(Workers([WorkerSpec(tuple(g)) for g in groups]))
            connect_ms += workers.connect_ms
            time.sleep(SETTLE_S)
            points.append({"clients": (b + 1) * cfg.per_batch, "rss": _by_name(stack.rss()),
                           "batchS": round(workers.ready_s, 2)})  # fmt: skip
    last, n = points[-1], points[-1]["clients"]
    per_client = {k: round((v - base.get(k, 0)) / n) for k, v in last["rss"].items()}
    return {
        "config": asdict(cfg),
        "points": points,
        "bytesPerClient": per_client,
        "connectMs": summary_ms(int(ms * 1e6) for ms in connect_ms),
        "connectAllS": round(sum(p.get("batchS", 0) for p in points), 2),
    }


def render(result: dict[str, Any]) -> str:
    names = [*sorted({k for p in result["points"] for k in p["rss"]} - {"total"}), "total"]
    rows = [[p["clients"], *(round(p["rss"].get(k, 0) / 2**20, 1) for k in names), p.get("batchS")]
            for p in result["points"]]  # fmt: skip
    t = table("connections (RSS in MB)", ["clients", *names, "batch s"], rows)
    c = result["connectMs"]
    per = ", ".join(f"{k} {v / 1024:.1f} KiB" for k, v in result["bytesPerClient"].items())
    took = f"connect p50 {c['p50']} ms p99 {c['p99']} ms; all in {result['connectAllS']} s"
    return f"{t}\nper client: {per}\n{took}"
