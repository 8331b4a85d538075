"""``edgechat bench SCENARIO [--quick] [--out DIR]``: run, print a table, write JSON (and plots)."""

from __future__ import annotations

import argparse
import importlib
import os
import shutil
import tempfile
import time
from pathlib import Path

from edgechat.bench import LONG_SCENARIOS, SCENARIOS, report


def run_scenario(name: str, out_dir: Path, *, quick: bool) -> Path:
    """Run one scenario; its JSON lands in ``out_dir``; scratch data dirs in a
    temporary folder (the big store files are cached under ``out_dir/cache``)."""
    module = importlib.import_module(f"edgechat.bench.{name.replace('-', '_')}")
    work = Path(tempfile.mkdtemp(prefix=f"edgechat-bench-{name}-"))
    t0 = time.perf_counter()
    load_before = os.getloadavg()  # other work on a shared machine skews everything: say how much
    try:
        result = (
            module.run(work, quick, cache=out_dir / "cache")
            if name in ("store", "memory")
            else (module.run(work, quick))
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result["elapsedS"] = round(time.perf_counter() - t0, 1)
    result["loadavgBefore"] = load_before
    path = report.write(out_dir, name, quick, result)
    print(module.render(result), flush=True)
    print(f"wrote {path}", flush=True)
    return path


def cmd_bench(args: argparse.Namespace) -> int:
    out_dir = Path(args.out)
    names = list(SCENARIOS) if args.scenario == "all" else [args.scenario]
    for name in names:
        run_scenario(name, out_dir, quick=args.quick)
    try:
        from edgechat.bench import plots
    except ImportError:  # matplotlib is in the `bench` extra
        print("no plots: install edgechat[bench] for matplotlib")
        return 0
    for path in plots.draw(out_dir):
        print(f"wrote {path}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    bench = sub.add_parser("bench", help="run a performance scenario (docs/performance.md)")
    bench.add_argument("scenario", choices=[*SCENARIOS, *LONG_SCENARIOS, "all"])
    bench.add_argument("--quick", action="store_true", help="a few seconds, small sizes: shows it works")
    bench.add_argument("--out", default="bench-results", help="where results go (default bench-results)")
    bench.set_defaults(func=cmd_bench)
