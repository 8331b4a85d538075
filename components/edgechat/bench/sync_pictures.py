"""``edgechat bench sync-pictures``: how fast Sync's picture path puts pictures into S3.

One run, one local cloud (its moto_server S3 and pictures bucket), N distinct
~100 KB JPEG photos of noise (incompressible, each with its thumbnail) in one
picture store:

1. **bare**: ``S3Pictures.upload`` called in a loop, one picture after another
   (what the path costs without Sync: hash check, two ``put_object``);
2. **sync**: N messages, each with its own picture, given to ``PictureSync``
   (the gate, the ledger, the worker threads, two uploads at a time) until
   every message is released.

The figure is sync rate / bare rate: what the gate and the threads cost or gain
over the bare adapter on the same S3 in the same run.  moto's S3 is the ceiling
here; real S3 from a core is bounded by the uplink instead.
"""

from __future__ import annotations

import asyncio
import io
import os
import time
from pathlib import Path
from typing import Any

from edgechat.bench import report
from edgechat.cloud.local.child import LocalCloud
from edgechat.core.attachments import attachment
from edgechat.core.clock import Hlc, order_key
from edgechat.core.protocol import Message
from edgechat.labeler.intake import CleanPicture, PictureStore, accept
from edgechat.labeler.s3 import Ledger, S3Pictures
from edgechat.sync.pictures import PictureSync


def _photos(store: PictureStore, n: int) -> list[CleanPicture]:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(7)
    out = []
    for _ in range(n):
        buf = io.BytesIO()
        Image.fromarray(rng.integers(0, 255, (300, 400, 3), np.uint8)).save(buf, "JPEG", quality=85)
        out.append(accept(buf.getvalue(), store).picture)
    return out


def _message(i: int, picture: CleanPicture) -> Message:
    mid = f"bench{i:06d}"
    return Message(id=mid, room="bench", text="", client_id="bench", nick="bench", ts=i,
                   order_key=order_key(Hlc(i, 0), "bench", mid), site="bench",
                   attachments=(attachment(picture.to_json()),))  # fmt: skip


async def _through_sync(sync: PictureSync, rows: list[tuple[int, Message]]) -> float:
    woken: asyncio.Queue[Any] = asyncio.Queue()
    sync.start(woken.put_nowait, lambda: 0)
    t0 = time.perf_counter()
    admitted = await sync.admit(rows, 0)
    assert not admitted.ready  # every picture is new: every message waits
    released = 0
    while released < len(rows):
        await asyncio.wait_for(woken.get(), 60)
        released += len(sync.gate.release())
        sync.start_due(0)
    seconds = time.perf_counter() - t0
    await sync.close()
    return seconds


def run(work_dir: Path, quick: bool) -> dict[str, Any]:
    n = 10 if quick else 100
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")  # moto takes any credentials
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    import boto3

    store = PictureStore.in_data_dir(work_dir / "edge")
    photos = _photos(store, 2 * n)
    with LocalCloud(work_dir / "cloud") as cloud:
        s3 = boto3.client("s3", endpoint_url=cloud.info["moto"], region_name="us-east-1")
        bucket = cloud.info["pictures"]
        bare = S3Pictures(s3, bucket, store)
        t0 = time.perf_counter()
        for picture in photos[:n]:
            bare.upload(picture.sha256)
        bare_s = time.perf_counter() - t0
        sync = PictureSync(S3Pictures(s3, bucket, store), Ledger(work_dir / "ledger.db"))
        rows = [(i + 1, _message(i, p)) for i, p in enumerate(photos[n:])]
        sync_s = asyncio.run(_through_sync(sync, rows))
        assert sync.status()["uploaded"] == n
    kb = sum(len(p.data) + len(p.thumbnail) for p in photos) / len(photos) / 1024
    return {
        "config": {
            "pictures": n,
            "kbPerPicture": round(kb, 1),
            "uploadsAtOnce": sync.gate.config.max_uploading,
        },
        "bare": {"seconds": round(bare_s, 3), "perS": round(n / bare_s, 1)},
        "sync": {"seconds": round(sync_s, 3), "perS": round(n / sync_s, 1)},
        "ratio": round(bare_s / sync_s, 3),
    }


def render(r: dict[str, Any]) -> str:
    c, b, s = r["config"], r["bare"], r["sync"]
    rows = [
        ("S3Pictures.upload in a loop", c["pictures"], b["seconds"], b["perS"]),
        (
            f"PictureSync ({c['uploadsAtOnce']} at once), messages released",
            c["pictures"],
            s["seconds"],
            s["perS"],
        ),
    ]
    return "\n".join([
        report.table("sync-pictures", ("path", "pictures", "s", "pictures/s"), rows),
        f"ratio sync/bare: {r['ratio']:.2f} ({c['kbPerPicture']} KB per picture with its thumbnail, moto S3)",
    ])  # fmt: skip
