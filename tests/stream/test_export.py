"""The spool and the export: a real SQLite spool, Kinesis on moto_server, and
Stream Manager through a fake client behind the real SDK's types."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import pytest

from edgechat.core.stream import ReactionChange
from edgechat.stream.export import ExportPump, KinesisExporter, StreamManagerExporter, kinesis_client
from edgechat.stream.store import StreamStore
from tests.support.edge import free_port
from tests.support.moto import FAKE_ENV, client, running_moto

MID = "01J0000000000000000000000A"


def events(n: int, start: int = 0) -> list[tuple[str, int, str]]:
    return [
        (f"dev{i % 7}", 1_000 + i, json.dumps({"type": "reading", "room": "lab", "sensor": "t", "value": i}))
        for i in range(start, start + n)
    ]


def wait_until(check, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_a_full_spool_drops_the_oldest_and_counts_them(tmp_path):
    store = StreamStore(tmp_path / "s.db", max_events=100)
    assert store.commit_window(events(80), []) == 0
    assert store.commit_window(events(50, start=80), []) == 30
    stats = store.stats()
    assert (stats.queued, stats.dropped) == (100, 30)
    kept = store.peek(500)
    assert json.loads(kept[0].event)["value"] == 30 and json.loads(kept[-1].event)["value"] == 129
    store.close()
    # Durable: the queue and the counters survive a restart.
    again = StreamStore(tmp_path / "s.db", max_events=100)
    assert again.stats() == stats
    again.ack([kept[0].seq, kept[1].seq])
    assert (again.stats().queued, again.stats().exported) == (98, 2)
    again.close()


def test_reactions_are_a_set_per_client_and_removable(tmp_path):
    store = StreamStore(tmp_path / "s.db", max_events=10)
    add = [("lobby", ReactionChange(c, MID, "👍", False), 5) for c in ("a", "b", "a")]
    store.commit_window([], add)
    assert store.reaction_counts([MID]) == {MID: {"👍": 2}}
    store.commit_window([], [("lobby", ReactionChange("a", MID, "👍", True), 6)])
    assert store.reaction_counts([MID]) == {MID: {"👍": 1}}
    assert store.room_reactions("lobby", 10) == {MID: {"👍": 1}}
    assert store.room_reactions("elsewhere", 10) == {}
    assert store.expire_reactions(before_ms=6) == 1
    assert store.reaction_counts([MID]) == {}
    store.close()


class Throttling:
    """A real Kinesis client that refuses every third record of each batch the
    first time it sees it, as Kinesis does under ProvisionedThroughputExceeded."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.refused: set[bytes] = set()
        self.calls: list[int] = []

    def put_records(self, StreamName: str, Records: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls.append(len(Records))
        passing, results = [], []
        for i, r in enumerate(Records):
            if i % 3 == 0 and r["Data"] not in self.refused:
                self.refused.add(r["Data"])
                results.append(
                    {"ErrorCode": "ProvisionedThroughputExceededException", "ErrorMessage": "slow"}
                )
            else:
                passing.append(r)
                results.append(None)
        got = self.real.put_records(StreamName=StreamName, Records=passing)["Records"] if passing else []
        it = iter(got)
        return {
            "FailedRecordCount": sum(r is not None for r in results),
            "Records": [r if r is not None else next(it) for r in results],
        }


def read_all(kinesis: Any, stream: str) -> list[dict[str, Any]]:
    shard = kinesis.describe_stream(StreamName=stream)["StreamDescription"]["Shards"][0]["ShardId"]
    it = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    iterator, out = it["ShardIterator"], []
    while True:
        got = kinesis.get_records(ShardIterator=iterator, Limit=10_000)
        out += [json.loads(r["Data"]) for r in got["Records"]]
        if not got["Records"]:
            return out
        iterator = got["NextShardIterator"]


def test_link_down_10000_events_queue_link_back_all_reach_kinesis_exactly_once(tmp_path, monkeypatch):
    for k, v in FAKE_ENV.items():
        monkeypatch.setenv(k, v)
    port = free_port()  # nothing listens here yet: the link is down
    url = f"http://127.0.0.1:{port}"
    store = StreamStore(tmp_path / "s.db", max_events=20_000)
    real = kinesis_client(FAKE_ENV["AWS_DEFAULT_REGION"], url)
    throttling = Throttling(real)
    pump = ExportPump(
        store, KinesisExporter(throttling, "chat-stream", "site-a"), backoff_first_s=0.05, backoff_max_s=0.5
    )
    pump.start()
    try:
        for i in range(0, 10_000, 500):
            store.commit_window(events(500, start=i), [])
            pump.wake()
        wait_until(lambda: pump.stats.failures >= 2, 10, "failed export attempts")
        assert store.stats().queued == 10_000 and not pump.stats.connected
        assert "Connect" in (pump.stats.last_error or "")
        with running_moto(port):
            kinesis = client(url, "kinesis")
            kinesis.create_stream(StreamName="chat-stream", ShardCount=1)
            wait_until(lambda: store.stats().queued == 0, 60, "the spool to drain")
            got = read_all(kinesis, "chat-stream")
    finally:
        pump.stop()
    ids = [r["id"] for r in got]
    assert len(ids) == 10_000 and len(set(ids)) == 10_000
    assert set(ids) == {f"site-a-{seq}" for seq in range(1, 10_001)}
    assert max(throttling.calls) <= 500
    assert pump.stats.refused > 0  # some records were refused and then resent alone
    assert store.stats().exported == 10_000
    # Each record is what the cloud's StreamFunction reads: the rule's shape.
    first = next(r for r in got if r["id"] == "site-a-1")
    assert first["clientId"] == "dev0" and first["receivedMs"] == 1000
    assert json.loads(base64.b64decode(first["payload"]))["value"] == 0
    store.close()


class FakeStreamManager:
    """StreamManagerClient's methods the exporter calls, in memory; ``down``
    makes each call raise as the real one does when the server is gone."""

    def __init__(self) -> None:
        self.streams: dict[str, Any] = {}
        self.messages: list[bytes] = []
        self.down = False
        self.fail_after: int | None = None

    def _check(self) -> None:
        if self.down:
            raise ConnectionError("stream manager not running")

    def list_streams(self) -> list[str]:
        self._check()
        return list(self.streams)

    def create_message_stream(self, definition: Any) -> None:
        self._check()
        self.streams[definition.name] = definition

    def update_message_stream(self, definition: Any) -> None:
        self._check()
        self.streams[definition.name] = definition

    def append_message(self, stream_name: str, data: bytes) -> int:
        self._check()
        if self.fail_after is not None and len(self.messages) >= self.fail_after:
            raise ConnectionError("server went away")
        assert stream_name in self.streams
        self.messages.append(data)
        return len(self.messages) - 1


def test_stream_manager_gets_a_file_backed_stream_exporting_to_kinesis(tmp_path: Path):
    pytest.importorskip("stream_manager")
    from stream_manager import Persistence, StrategyOnFull

    sm = FakeStreamManager()
    sm.down = True
    store = StreamStore(tmp_path / "s.db", max_events=10_000)
    exporter = StreamManagerExporter(sm, "chat-stream", "site-a", max_bytes=4_000_000)
    pump = ExportPump(store, exporter, backoff_first_s=0.05, backoff_max_s=0.2)
    pump.start()
    try:
        store.commit_window(events(1200), [])
        wait_until(lambda: pump.stats.failures >= 2, 10, "failed attempts while Stream Manager is down")
        sm.down = False
        sm.fail_after = 700  # dies half way through a batch: the rest stays spooled
        wait_until(lambda: len(sm.messages) == 700, 10, "a partial batch")
        sm.fail_after = None
        wait_until(lambda: store.stats().queued == 0, 10, "the spool to drain")
    finally:
        pump.stop()
    ids = [json.loads(m)["id"] for m in sm.messages]
    assert ids == [f"site-a-{seq}" for seq in range(1, 1201)]  # in order, each once
    definition = sm.streams["edgechat-stream"]
    assert definition.persistence == Persistence.File
    assert definition.strategy_on_full == StrategyOnFull.OverwriteOldestData
    (kinesis,) = definition.export_definition.kinesis
    assert kinesis.kinesis_stream_name == "chat-stream" and kinesis.batch_size == 500
    assert kinesis.batch_interval_millis >= 60_000
    # The real SDK validates the definition as the server would.
    definition.as_dict()
    store.close()
