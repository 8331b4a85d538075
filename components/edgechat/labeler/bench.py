"""Labeler benchmark: pictures per second, memory, and what a cached picture costs.

``python -m edgechat.labeler.bench [--quick] [--out DIR]``.  Same interface as
the ``edgechat bench`` scenarios (``run(work_dir, quick) -> dict``,
``render(result) -> str``).  Pictures: scikit-image's sample photos, each in
several crops and mirror images so that every one is a distinct file.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any


def _rss_mib() -> tuple[float, float]:
    """(current, peak) resident memory of this process, from /proc."""
    fields = dict(
        line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line
    )
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def pictures(n: int) -> list[bytes]:
    import numpy as np
    from PIL import Image
    from skimage import data

    photos = [getattr(data, name)() for name in ("chelsea", "coffee", "astronaut", "rocket")]
    out: list[bytes] = []
    for i in range(n):
        rgb = photos[i % len(photos)]
        k = i // len(photos)
        h, w = rgb.shape[:2]
        crop = rgb[k % 3 * h // 20 : h - k % 5 * h // 20, k % 4 * w // 20 :]
        if k % 2:
            crop = np.ascontiguousarray(crop[:, ::-1])
        buf = io.BytesIO()
        Image.fromarray(crop).save(buf, "JPEG", quality=90)
        out.append(buf.getvalue())
    return out


def _ms(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "p50": round(1000 * statistics.median(ordered), 3),
        "p95": round(1000 * ordered[int(0.95 * (len(ordered) - 1))], 3),
        "mean": round(1000 * statistics.fmean(ordered), 3),
    }


def run(work_dir: Path, quick: bool) -> dict[str, Any]:
    from edgechat.labeler.cache import CachedProvider, LabelCache
    from edgechat.labeler.intake import clean
    from edgechat.labeler.pipeline import HtmlParams, Labelled, count, render_html

    n = 8 if quick else 40
    batch = pictures(n)
    rss_before, _ = _rss_mib()
    t0 = time.perf_counter()
    from edgechat.labeler.offline import OfflineProvider

    offline = OfflineProvider()
    load_s = time.perf_counter() - t0
    rss_loaded, _ = _rss_mib()
    provider = CachedProvider(offline, LabelCache(work_dir / "labels.db"))

    offline.detect_labels(batch[-1])  # warm-up, uncached: the first inference allocates
    first: list[float] = []
    labelled = []
    t0 = time.perf_counter()
    for i, picture in enumerate(batch):
        t = time.perf_counter()
        labelled.append(Labelled(str(i), provider.detect_labels(picture)))
        first.append(time.perf_counter() - t)
    uncached_s = time.perf_counter() - t0
    cached: list[float] = []
    for picture in batch * 5:
        t = time.perf_counter()
        provider.detect_labels(picture)
        cached.append(time.perf_counter() - t)
    intake = []
    for picture in batch:
        t = time.perf_counter()
        clean(picture)
        intake.append(time.perf_counter() - t)
    t = time.perf_counter()
    many = [
        Labelled(f"{i}-{j}", item.labels) for i in range(25) for j, item in enumerate(labelled)
    ]  # 25 x the batch
    html = render_html(count(many), HtmlParams())
    pipeline_s = time.perf_counter() - t
    rss_now, rss_peak = _rss_mib()
    return {
        "pictures": n,
        "pictureBytesMean": int(statistics.fmean(len(p) for p in batch)),
        "modelLoadS": round(load_s, 2),
        "uncachedPicturesPerS": round(n / uncached_s, 2),
        "uncachedMs": _ms(first),
        "cachedMs": _ms(cached),
        "intakeMs": _ms(intake),
        "countAndRender": {"pictures": len(many), "ms": round(1000 * pipeline_s, 1), "htmlBytes": len(html)},
        "memoryMiB": {
            "beforeModels": round(rss_before, 1),
            "modelsLoaded": round(rss_loaded, 1),
            "afterRun": round(rss_now, 1),
            "peak": round(rss_peak, 1),
        },
        "cache": {"hits": provider.hits, "misses": provider.misses},
    }


def render(result: dict[str, Any]) -> str:
    m = result["memoryMiB"]
    return "\n".join(
        [
            f"labeler: {result['pictures']} pictures (~{result['pictureBytesMean'] // 1024} KiB JPEG)",
            f"  models load          {result['modelLoadS']} s",
            f"  uncached             {result['uncachedPicturesPerS']} pictures/s; "
            f"p50 {result['uncachedMs']['p50']} ms, p95 {result['uncachedMs']['p95']} ms",
            f"  cached picture       p50 {result['cachedMs']['p50']} ms, p95 {result['cachedMs']['p95']} ms",
            f"  intake (clean)       p50 {result['intakeMs']['p50']} ms, p95 {result['intakeMs']['p95']} ms",
            f"  count+render         {result['countAndRender']['pictures']} pictures in "
            f"{result['countAndRender']['ms']} ms",
            f"  memory (RSS MiB)     before models {m['beforeModels']}, loaded {m['modelsLoaded']}, "
            f"after {m['afterRun']}, peak {m['peak']}",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m edgechat.labeler.bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="8 pictures instead of 40")
    parser.add_argument("--out", help="also write labeler.json into this folder")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="edgechat-bench-labeler-") as work:
        result = run(Path(work), args.quick)
    print(render(result))
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "labeler.json").write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
