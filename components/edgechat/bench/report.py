"""Results: percentiles, the machine they were measured on, a printed table and
a JSON file per scenario."""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any


def percentile(sorted_values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile of already sorted values (None when empty)."""
    if not sorted_values:
        return None
    rank = max(0, min(len(sorted_values) - 1, round(p / 100 * len(sorted_values) + 0.5) - 1))
    return float(sorted_values[rank])


def summary_ms(values_ns: Iterable[int]) -> dict[str, float | int | None]:
    """p50/p99/p999/max in milliseconds of nanosecond samples."""
    ordered = sorted(values_ns)
    out: dict[str, float | int | None] = {"n": len(ordered)}
    for name, p in (("p50", 50), ("p99", 99), ("p999", 99.9)):
        v = percentile(ordered, p)
        out[name] = None if v is None else round(v / 1e6, 3)
    out["max"] = round(ordered[-1] / 1e6, 3) if ordered else None
    return out


def machine() -> dict[str, Any]:
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    except (OSError, ValueError):
        mem_kb = 0
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "memGiB": round(mem_kb / 2**20, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "loadavg": os.getloadavg(),
    }


def write(out_dir: Path, scenario: str, quick: bool, result: dict[str, Any]) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    doc = {
        "scenario": scenario,
        "quick": quick,
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine(),
        **result,
    }
    path = out_dir / f"{scenario}.json"
    path.write_text(json.dumps(doc, indent=2, default=str))
    return path


def table(title: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    cells = [[str(h) for h in header]] + [["-" if v is None else str(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = [title]
    for i, row in enumerate(cells):
        lines.append("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)))
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)
