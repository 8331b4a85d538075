"""labeler-cost: what the in-process Labeler costs the Router's process per chat
message (``edgechat up`` runs both in one Python process).

router-cpu's measurement (bench/router_cpu.py: text messages, CPU from /proc)
through stacks with the Labeler off and on, interleaved round by round on the
shared machine.  With ``EDGECHAT_BENCH_BASELINE`` set to another checkout's
``components`` directory, each round also runs that version with the Labeler
on (its code first on the child's PYTHONPATH): an A/B of two versions in one
run (docs/performance.md)."""

from __future__ import annotations

import os
import statistics
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from edgechat.bench import router_cpu
from edgechat.bench.report import table
from edgechat.bench.router_cpu import Config, measure
from edgechat.bench.stack import Stack

BASELINE_ENV = "EDGECHAT_BENCH_BASELINE"


@dataclass(frozen=True, slots=True)
class Plan:
    rounds: int
    load: Config


FULL = Plan(rounds=5, load=Config(rooms=10, subs_per_room=10, publishers=10, rates=(500,), step_s=10.0))
QUICK = Plan(rounds=1, load=router_cpu.QUICK)


def variants() -> dict[str, tuple[bool, dict[str, str] | None]]:
    """name -> (labeler on, extra environment for the child)."""
    out: dict[str, tuple[bool, dict[str, str] | None]] = {"off": (False, None), "on": (True, None)}
    baseline = os.environ.get(BASELINE_ENV)
    if baseline:
        out["on, baseline"] = (True, {"PYTHONPATH": str(Path(baseline).resolve())})
    return out


def run(work: Path, quick: bool) -> dict[str, Any]:
    plan = QUICK if quick else FULL
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in variants()}
    for round_no in range(plan.rounds):
        for name, (labeler, env) in variants().items():
            data_dir = work / f"{round_no}-{name.replace(', ', '-')}"
            with Stack(data_dir, extra={"labeler": labeler}, env=env) as stack:
                runs[name] += measure(stack, plan.load)
    per_message = {
        name: [s["routerCpuMsPerMessage"] for s in steps if s["routerCpuMsPerMessage"] is not None]
        for name, steps in runs.items()
    }
    medians = {name: round(statistics.median(v), 3) if v else None for name, v in per_message.items()}
    off = medians["off"]
    net, per_commit = net_of_commits(runs)
    return {
        "config": asdict(plan),
        "baseline": os.environ.get(BASELINE_ENV),
        "runs": runs,
        "routerCpuMsPerMessage": per_message,
        "median": medians,
        "ratioToOff": {k: round(v / off, 2) if v and off else None for k, v in medians.items()},
        "netOfCommitsMsPerMessage": net,
        "perCommitMs": per_commit,
    }


def net_of_commits(runs: dict[str, list[dict[str, Any]]]) -> tuple[dict[str, float | None], float | None]:
    """CPU per message with the commits' share taken out.  The same load costs
    less per message when the Router falls behind (larger commits), and how far
    behind depends on the rest of the machine; so fit, over every round,
    ``cpu = a[variant] * messages + b * commits`` (least squares, one ``b``
    shared by all variants) and report each ``a`` (ms) and ``b``."""
    pts = {
        name: [(s["stored"], s["batches"], sum(v for k, v in s["cpuS"].items() if k.startswith("python")))
               for s in steps if s["stored"]]
        for name, steps in runs.items()
    }  # fmt: skip
    num = den = 0.0
    for rows in pts.values():  # for a fixed b each a is a 1-D fit; b then solves one equation
        mm = sum(m * m for m, _, _ in rows)
        if not mm:
            continue
        mc, my = sum(m * c for m, c, _ in rows), sum(m * y for m, _, y in rows)
        num += sum(c * y for _, c, y in rows) - mc * my / mm
        den += sum(c * c for _, c, _ in rows) - mc * mc / mm
    if not den:
        return dict.fromkeys(pts), None
    b = num / den
    net = {
        name: round(1000 * sum(m * (y - b * c) for m, c, y in rows) / sum(m * m for m, _, _ in rows), 3)
        if rows else None
        for name, rows in pts.items()
    }  # fmt: skip
    return net, round(1000 * b, 3)


def render(result: dict[str, Any]) -> str:
    # CPU per message falls as commits grow larger under load: the commits show how comparable rounds are.
    rows = [
        [name, ", ".join(f"{s['routerCpuMsPerMessage']:.3f} ({s['batches']})" for s in steps if s["stored"]),
         result["median"][name], result["ratioToOff"][name], result["netOfCommitsMsPerMessage"][name]]
        for name, steps in result["runs"].items()
    ]  # fmt: skip
    header = ["labeler", "per round ms/msg (commits)", "median ms/msg", "x labeler off", "net of commits"]
    per_commit = result["perCommitMs"]
    title = "labeler-cost (Router process CPU per message" + (
        f"; {per_commit} ms per commit)" if per_commit is not None else ")"
    )
    return table(title, header, rows)
