"""memory: resident memory of the broker plus every service ``edgechat up``
runs (one process tree), idle, with 200 clients under 1,000 msg/s, and the
same again over a store holding 1M messages (the store scenario's cached file)."""

from __future__ import annotations

import shutil
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from edgechat.bench import clients
from edgechat.bench.loadgen import Workers
from edgechat.bench.report import table
from edgechat.bench.stack import Stack
from edgechat.bench.store import build, cached_store

TARGET_MB = 150
SETTLE_S = 2.0


@dataclass(frozen=True, slots=True)
class Config:
    rooms: int
    subs_per_room: int
    publishers: int
    rate: int
    load_s: float
    stored: int


FULL = Config(rooms=19, subs_per_room=10, publishers=10, rate=1000, load_s=10.0, stored=1_000_000)
QUICK = Config(rooms=2, subs_per_room=4, publishers=2, rate=50, load_s=1.0, stored=10_000)


class PeakRss:
    """Samples the stack's RSS on a thread; ``peak`` is the largest total seen."""

    def __init__(self, stack: Stack, every_s: float = 0.2) -> None:
        self.stack, self.every_s = stack, every_s
        self.peak: dict[str, int] = {"total": 0}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            rss = self.stack.rss()
            if rss["total"] > self.peak["total"]:
                self.peak = rss

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _mb(rss: dict[str, int]) -> dict[str, float]:
    out: dict[str, float] = {}
    for key, value in rss.items():
        name = key.split(":")[0]
        out[name] = round(out.get(name, 0) + value / 2**20, 1)
    return out


def _measure(stack: Stack, cfg: Config) -> dict[str, Any]:
    time.sleep(SETTLE_S)
    out: dict[str, Any] = {"idle": _mb(stack.rss())}
    rooms = clients.rooms(cfg.rooms)
    subs = clients.spread(clients.subscribers(stack, rooms, cfg.subs_per_room), 2)
    pubs = clients.chat_publishers(stack, rooms, cfg.publishers)
    with Workers(clients.specs(subs, "raw") + clients.specs([pubs], "edgechat")) as workers:
        time.sleep(SETTLE_S)
        out["clients"] = cfg.rooms * cfg.subs_per_room + cfg.publishers
        out["connected"] = _mb(stack.rss())
        with PeakRss(stack) as peak:
            r = workers.step(0, cfg.rate, cfg.load_s, [len(subs)])
        out["underLoadPeak"] = _mb(peak.peak)
        out["sent"] = r.sent
    return out


def run(work: Path, quick: bool, cache: Path) -> dict[str, Any]:
    cfg = QUICK if quick else FULL
    with Stack(work / "empty") as stack:
        empty = _measure(stack, cfg)
    data = work / "stored"
    (data / "store").mkdir(parents=True)
    if quick:
        build(data / "store" / "messages.db", cfg.stored, 100)
    else:
        source, _ = cached_store(cache, cfg.stored, 100)
        shutil.copyfile(source, data / "store" / "messages.db")
    with Stack(data) as stack:
        stored = _measure(stack, cfg)
    worst = max(empty["underLoadPeak"]["total"], stored["underLoadPeak"]["total"])
    return {
        "config": asdict(cfg),
        "targetMB": TARGET_MB,
        "emptyStore": empty,
        "storedMessages": cfg.stored,
        "fullStore": stored,
        "worstMB": worst,
        "met": worst <= TARGET_MB,
    }


def render(result: dict[str, Any]) -> str:
    rows = []
    for label, key in (("empty store", "emptyStore"), (f"{result['storedMessages']} stored", "fullStore")):
        r = result[key]
        for state in ("idle", "connected", "underLoadPeak"):
            rows.append([label, state, r[state].get("mosquitto"), r[state].get("python3"), r[state]["total"]])
    t = table("memory (RSS, MB)", ["store", "state", "mosquitto", "edgechat", "total"], rows)
    return f"{t}\nworst {result['worstMB']} MB (target <= {result['targetMB']} MB)"
