"""``PictureSync`` against moto_server's S3: uploads run on worker threads, a
finished one wakes Sync's loop and releases its message, a damaged file is
retried and never uploaded (its message keeps waiting)."""

from __future__ import annotations

import asyncio
import io
import threading
import uuid
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from edgechat.core.attachments import attachment
from edgechat.core.clock import Hlc, order_key
from edgechat.core.protocol import Message
from edgechat.labeler.intake import PictureStore, accept
from edgechat.labeler.s3 import Ledger, S3Pictures
from edgechat.sync.pictures import PictureConfig, PicturesChanged, PictureSync
from tests.support.moto import client


def png(shade: int) -> bytes:
    out = io.BytesIO()
    Image.fromarray(np.full((30, 40, 3), shade, np.uint8)).save(out, "PNG")
    return out.getvalue()


def msg(i: int, refs: list[dict[str, Any]]) -> Message:
    mid = f"msg{i:05d}"
    return Message(id=mid, room="lobby", text="look", client_id="c1", nick="Ann", ts=1000 + i,
                   order_key=order_key(Hlc(1000 + i, 0), "sitea", mid), site="sitea", seq=i,
                   attachments=tuple(attachment(r) for r in refs))  # fmt: skip


class Recording:
    """The S3 client, noting which thread each put ran on."""

    def __init__(self, s3: Any) -> None:
        self.s3, self.threads = s3, []

    def put_object(self, **kwargs: Any) -> Any:
        self.threads.append(threading.current_thread().name)
        return self.s3.put_object(**kwargs)


def test_uploads_run_off_the_loop_release_their_message_and_a_damaged_file_keeps_its_message_waiting(
    moto_url: str, tmp_path: Path
) -> None:
    s3 = client(moto_url, "s3")
    bucket = f"pictures-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    store = PictureStore.in_data_dir(tmp_path)
    good = accept(png(40), store).picture
    bad = accept(png(200), store).picture
    path = store.find(bad.sha256)
    assert path is not None
    path.write_bytes(path.read_bytes()[:-4] + b"oops")  # damaged on disk
    recording = Recording(s3)
    sync = PictureSync(S3Pictures(recording, bucket, store), Ledger(tmp_path / "s3.db"),
                       PictureConfig(backoff_min_ms=50))  # fmt: skip
    rows = [(1, msg(1, [good.to_json()])), (2, msg(2, [bad.to_json()])), (3, msg(3, []))]

    async def main() -> None:
        woken: asyncio.Queue[Any] = asyncio.Queue()
        clock = iter(range(0, 10**9, 100))
        sync.start(woken.put_nowait, lambda: next(clock))
        admitted = await sync.admit(rows, 0)
        assert [m.id for _, m in admitted.ready] == ["msg00003"] and admitted.passed == 3
        assert isinstance(await asyncio.wait_for(woken.get(), 20), PicturesChanged)
        assert [m.id for _, m in sync.gate.release()] == ["msg00001"]
        for _ in range(100):  # the damaged one fails, and fails again after its backoff
            if sync.gate.counters.failures >= 2:
                break
            sync.start_due(10**6)
            await asyncio.sleep(0.05)
        await sync.close()

    asyncio.run(main())
    status = sync.status()
    assert status["uploaded"] == 1 and status["failures"] >= 2 and "does not match" in status["lastError"]
    assert status["waitingMessages"] == 1 and sync.gate.release() == []  # never sent without its picture
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"])
    assert keys == [f"pictures/{good.sha256}", f"pictures/{good.sha256}/thumb"]
    assert recording.threads and all(t.startswith("sync-pictures") for t in recording.threads)
    assert Ledger(tmp_path / "s3.db").uploaded([good.sha256, bad.sha256]) == {good.sha256}
