"""A full disk: new messages are refused with a clear, retryable error, what
was stored stays intact, and the chat recovers once space returns."""

import contextlib
import subprocess
import uuid

import pytest

from tests.support.edge import ChatClient, running_edge

pytestmark = pytest.mark.integration


@pytest.fixture
def small_fs(tmp_path):
    mount = tmp_path / "small"
    mount.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], capture_output=True, check=False
    )
    if made.returncode != 0:
        pytest.skip(f"cannot mount a small filesystem here: {made.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(path, chunk: int = 16 * 1024) -> None:
    with open(path, "wb") as f, contextlib.suppress(OSError):
        while True:
            f.write(b"\0" * chunk)
            f.flush()


def test_disk_full_refuses_then_recovers(small_fs):
    with running_edge(small_fs / "data", {"rate": {"per_second": 0, "burst": 1}}) as edge:
        creds = edge.credentials("Ann")
        ann = ChatClient(edge.mqtt_port, creds["username"], creds["password"])
        assert ann.connect() == 0
        ann.subscribe(f"chat/in/{ann.client_id}")
        kept = {"type": "message", "id": uuid.uuid4().hex, "room": "full", "text": "stored before"}
        ann.send(kept)
        ann.wait_for(lambda t, b: isinstance(b, dict) and b.get("type") == "ack" and b["id"] == kept["id"])

        fill(small_fs / "filler")
        refused = None
        for _ in range(300):  # SQLite may still have a few free pages: write until it is full
            m = {"type": "message", "id": uuid.uuid4().hex, "room": "full", "text": "x" * 3000}
            ann.send(m)
            _, reply = ann.wait_for(lambda t, b, m=m: isinstance(b, dict) and b.get(
                "id", b.get("ref")) == m["id"])[0]  # fmt: skip
            if reply["type"] == "error":
                refused = (m, reply)
                break
        assert refused is not None, "the disk never filled up"
        message, error = refused
        assert error["code"] == "storage_full" and error["retryable"] is True
        assert edge.process.poll() is None  # still running

        (small_fs / "filler").unlink()
        ann.send(message)  # the same id, retried
        _, ack = ann.wait_for(
            lambda t, b: isinstance(b, dict) and b.get("type") == "ack" and b["id"] == message["id"]
        )[0]
        assert ack["duplicate"] is False  # the refused attempt stored nothing
        page = ann.request({"type": "history", "room": "full", "after": 0, "limit": 200}, "history")
        ids = [m["id"] for m in page["messages"]]
        assert ids[0] == kept["id"] and ids[-1] == message["id"]
        assert len(ids) == len(set(ids))
        assert [m["seq"] for m in page["messages"]] == list(range(1, len(ids) + 1))  # no gap from the refusal
        ann.close()
