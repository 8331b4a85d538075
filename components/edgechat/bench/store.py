"""store: SqliteStore on its own (no broker): the sustained insert rate with
group commit (batch sizes as the Router forms them under load), and the latency
of a 50-message history page at 10k, 100k and 1M stored messages.

The big stores are made with executemany straight into the store's schema (one
transaction, minutes faster than going through ``add``) and cached under
``<out>/cache`` for the next run and the memory scenario.
"""

from __future__ import annotations

import random
import shutil
import sqlite3
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from edgechat.bench.report import summary_ms, table
from edgechat.core.clock import Hlc, order_key
from edgechat.core.protocol import Message
from edgechat.store import SqliteStore

TEXT = "the quick brown fox jumps over the lazy dog; " * 2  # ~90 chars, a typical chat line


@dataclass(frozen=True, slots=True)
class Config:
    batches: tuple[int, ...]
    insert_s: float
    sizes: tuple[int, ...]
    queries: int
    rooms: int = 100


FULL = Config(batches=(1, 10, 100, 500), insert_s=5.0, sizes=(10_000, 100_000, 1_000_000), queries=2000)
QUICK = Config(batches=(1, 100), insert_s=0.3, sizes=(1_000, 10_000), queries=200, rooms=10)
TARGETS = {"insertsPerS": 10_000, "historyP99Ms": 5.0}


def _message(i: int, rooms: int, ts: int) -> Message:
    return Message(
        id=f"bench-{i:012d}", room=f"room-{i % rooms}", text=TEXT, client_id="bench-client", nick="bench",
        ts=ts, order_key=order_key(Hlc(ts, 0), "edge", f"bench-{i:012d}"), site="edge",
    )  # fmt: skip


def insert_rate(path: Path, batch: int, seconds: float, synchronous: str) -> dict[str, Any]:
    store = SqliteStore(path, synchronous=synchronous)
    n, i, t0 = 0, 0, time.perf_counter()
    latencies: list[int] = []
    try:
        while time.perf_counter() - t0 < seconds:
            msgs = [_message(i + k, 10, 1_700_000_000_000 + i + k) for k in range(batch)]
            t = time.perf_counter_ns()
            store.add(msgs)
            latencies.append(time.perf_counter_ns() - t)
            i += batch
            n += batch
        elapsed = time.perf_counter() - t0
    finally:
        store.close()
    return {
        "batch": batch,
        "synchronous": synchronous,
        "inserted": n,
        "perS": round(n / elapsed),
        "commitMs": summary_ms(latencies),
    }


def build(path: Path, count: int, rooms: int) -> None:
    """A store holding ``count`` messages over ``rooms`` rooms, made fast."""
    tmp = path.with_suffix(".building")
    tmp.unlink(missing_ok=True)
    SqliteStore(tmp).close()  # the schema, exactly as the store makes it
    db = sqlite3.connect(tmp, isolation_level=None)
    db.execute("PRAGMA synchronous=OFF")
    db.execute("BEGIN")
    base = 1_700_000_000_000
    rows = (
        (mid, f"room-{i % rooms}", i // rooms + 1, order_key(Hlc(base + i, 0), "edge", mid),
         base + i, "edge", "bench-client", "bench", TEXT, None)
        for i, mid in ((i, f"bench-{i:012d}") for i in range(count))
    )  # fmt: skip
    # Columns named: later schema versions add columns (attachments, revisions...).
    db.executemany(
        "INSERT INTO messages (id, room, seq, order_key, ts, site, client_id, nick, text, reply_to) "
        "VALUES (?,?,?,?,?,?,?,?,?,?)",
        rows,
    )
    db.executemany(
        "INSERT INTO rooms VALUES (?,?,?)",
        [(f"room-{r}", (count - 1 - r) // rooms + 1, base + count) for r in range(min(rooms, count))],
    )
    db.execute("COMMIT")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    tmp.rename(path)


def cached_store(cache: Path, count: int, rooms: int) -> tuple[Path, float]:
    """The path of a store with ``count`` messages, and the seconds spent making it (0 if cached)."""
    path = cache / f"store-{count}-{rooms}.db"
    if path.exists():
        return path, 0.0
    cache.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    build(path, count, rooms)
    return path, round(time.perf_counter() - t0, 1)


def history_latency(path: Path, count: int, rooms: int, queries: int) -> dict[str, Any]:
    store = SqliteStore(path)
    rng = random.Random(count)
    per_room = count // rooms
    samples: list[int] = []
    try:
        for q in range(queries):
            room = f"room-{rng.randrange(rooms)}"
            # Half the pages are the newest, half page back from somewhere in the room.
            before = None if q % 2 else rng.randrange(2, per_room + 2)
            t = time.perf_counter_ns()
            page, _ = store.history(room, before=before, limit=50)
            samples.append(time.perf_counter_ns() - t)
            assert page, "an empty history page: the store was not built as expected"
    finally:
        store.close()
    return {"stored": count, "queries": queries, "pageMs": summary_ms(samples)}


def run(work: Path, quick: bool, cache: Path) -> dict[str, Any]:
    cfg = QUICK if quick else FULL
    inserts = []
    for batch in cfg.batches:
        inserts.append(insert_rate(work / f"insert-{batch}.db", batch, cfg.insert_s, "FULL"))
    # What synchronous=FULL costs against NORMAL, at the Router's usual batch size.
    inserts.append(insert_rate(work / "insert-normal.db", cfg.batches[-1], cfg.insert_s, "NORMAL"))
    history = []
    for size in cfg.sizes:
        if quick:  # small and throwaway: not worth caching
            path = work / f"history-{size}.db"
            build(path, size, cfg.rooms)
            built_s = 0.0
        else:
            path, built_s = cached_store(cache, size, cfg.rooms)
        copy = work / "history.db"  # queries run on a copy: the cache stays pristine
        shutil.copyfile(path, copy)
        row = history_latency(copy, size, cfg.rooms, cfg.queries)
        row["buildS"] = built_s
        row["bytes"] = path.stat().st_size
        history.append(row)
        copy.unlink()
    full = [r for r in inserts if r["synchronous"] == "FULL"]
    biggest = history[-1]
    return {
        "config": asdict(cfg),
        "targets": TARGETS,
        "inserts": inserts,
        "history": history,
        "met": {
            "insertsPerS": max(r["perS"] for r in full) >= TARGETS["insertsPerS"],
            "historyP99Ms": (biggest["pageMs"]["p99"] or 1e9) <= TARGETS["historyP99Ms"],
        },
    }


def render(result: dict[str, Any]) -> str:
    ins = table(
        "store inserts (group commit)",
        ["batch", "synchronous", "inserts/s", "commit p50 ms", "p99 ms"],
        [[r["batch"], r["synchronous"], r["perS"], r["commitMs"]["p50"], r["commitMs"]["p99"]]
         for r in result["inserts"]],
    )  # fmt: skip
    hist = table(
        "history page of 50",
        ["stored", "p50 ms", "p99 ms", "p999 ms", "file MB"],
        [[r["stored"], r["pageMs"]["p50"], r["pageMs"]["p99"], r["pageMs"]["p999"],
          round(r["bytes"] / 2**20, 1)] for r in result["history"]],
    )  # fmt: skip
    return f"{ins}\n\n{hist}"
