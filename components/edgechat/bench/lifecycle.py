"""lifecycle: what making deleted text really leave the store costs (issue 9).

Two ratios measured in one run, on this machine:

* the insert rate (batches of 100, synchronous=FULL) with ``secure_delete`` on,
  as shipped, against off, in alternating rounds;
* the latency of a delete (revise + WAL checkpoint and truncate) against an
  edit (revise only), each made between batches of new messages so the WAL
  always holds work to move.
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

from edgechat.bench.report import summary_ms, table
from edgechat.bench.store import _message
from edgechat.core.clock import Hlc, order_key
from edgechat.core.lifecycle import DELETE, EDIT, Revision
from edgechat.store import SqliteStore

BASE_TS = 1_700_000_000_000


def _insert_rate(path: Path, seconds: float, secure: bool, start: int) -> float:
    store = SqliteStore(path)
    if not secure:
        store._db.execute("PRAGMA secure_delete=OFF")
    n, t0 = 0, time.perf_counter()
    try:
        while time.perf_counter() - t0 < seconds:
            store.add([_message(start + n + k, 10, BASE_TS + start + n + k) for k in range(100)])
            n += 100
        return n / (time.perf_counter() - t0)
    finally:
        store.close()


def _revision(kind: str, target: str, i: int) -> Revision:
    rid = f"rev-{kind}-{i:08d}"
    ts = BASE_TS + 10_000_000 + i
    text = "edited text" if kind == EDIT else ""
    room = f"room-{int(target[-12:]) % 10}"
    key = order_key(Hlc(ts, 0), "edge", rid)
    return Revision(rid, target, room, kind, text, "bench-client", ts, key, "edge")


def _revise_latency(path: Path, rounds: int) -> dict[str, Any]:
    store = SqliteStore(path)
    rng = random.Random(9)
    n = 0
    edits: list[int] = []
    deletes: list[int] = []
    try:
        for i in range(rounds):
            for kind, samples in ((EDIT, edits), (DELETE, deletes)):
                store.add([_message(n + k, 10, BASE_TS + n + k) for k in range(100)])
                n += 100
                target = f"bench-{rng.randrange(n):012d}"
                t = time.perf_counter_ns()
                store.revise([_revision(kind, target, i)])
                samples.append(time.perf_counter_ns() - t)
    finally:
        store.close()
    return {"editMs": summary_ms(edits), "deleteMs": summary_ms(deletes)}


def run(work: Path, quick: bool) -> dict[str, Any]:
    seconds, rounds, repeats = (0.3, 30, 1) if quick else (3.0, 300, 3)
    on: list[float] = []
    off: list[float] = []
    for r in range(repeats):  # alternate, so drift on a shared machine hits both alike
        on.append(_insert_rate(work / f"on-{r}.db", seconds, True, 0))
        off.append(_insert_rate(work / f"off-{r}.db", seconds, False, 0))
    revise = _revise_latency(work / "revise.db", rounds)
    on_rate, off_rate = sum(on) / len(on), sum(off) / len(off)
    return {
        "insertsPerS": {"secureDeleteOn": round(on_rate), "secureDeleteOff": round(off_rate)},
        "insertRatioOnOff": round(on_rate / off_rate, 3),
        **revise,
        "deleteOverEditP50": round(revise["deleteMs"]["p50"] / revise["editMs"]["p50"], 2),
    }


def render(result: dict[str, Any]) -> str:
    ins = result["insertsPerS"]
    rows = [
        ("inserts/s, batch 100, secure_delete on", ins["secureDeleteOn"]),
        ("inserts/s, batch 100, secure_delete off", ins["secureDeleteOff"]),
        ("ratio on/off", result["insertRatioOnOff"]),
        ("edit p50 / p99 ms", f"{result['editMs']['p50']} / {result['editMs']['p99']}"),
        ("delete (+ checkpoint) p50 / p99 ms", f"{result['deleteMs']['p50']} / {result['deleteMs']['p99']}"),
        ("delete / edit, p50", result["deleteOverEditP50"]),
    ]
    return table("lifecycle: the cost of deleting for real", ("what", "value"), rows)
