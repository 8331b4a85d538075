"""startup: ``edgechat up`` (a new process: Python, imports, the broker, the
Router's subscription) until it prints ``edgechat ready``; on a fresh data dir
and again on the same one (persisted broker state and store)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgechat.bench.report import table
from edgechat.bench.stack import Stack

TARGET_S = 3.0


def run(work: Path, quick: bool) -> dict[str, Any]:
    runs = 1 if quick else 5
    fresh, again = [], []
    for i in range(runs):
        data = work / f"startup-{i}"
        with Stack(data) as stack:
            fresh.append(round(stack.startup_s, 3))
        with Stack(data) as stack:
            again.append(round(stack.startup_s, 3))
    worst = max(fresh + again)
    return {"targetS": TARGET_S, "freshS": fresh, "againS": again, "worstS": worst, "met": worst <= TARGET_S}


def render(result: dict[str, Any]) -> str:
    rows = [["fresh data dir", *_stats(result["freshS"])], ["same data dir", *_stats(result["againS"])]]
    return table("startup: edgechat up -> ready (s)", ["", "runs", "min", "median", "max"], rows)


def _stats(values: list[float]) -> list[Any]:
    ordered = sorted(values)
    return [len(ordered), ordered[0], ordered[len(ordered) // 2], ordered[-1]]
