"""The local Kinesis poller keeps Lambda's promise: after a partial batch failure
it starts again at the lowest failed record, and gives up on one after its retries."""

import threading

from edgechat.cloud.local.poller import KinesisPoller


class FakeKinesis:
    def __init__(self, n: int) -> None:
        self.records = [
            {"SequenceNumber": str(i), "PartitionKey": "k", "Data": b"x"} for i in range(1, n + 1)
        ]

    def describe_stream(self, StreamName):
        return {"StreamDescription": {"Shards": [{"ShardId": "shard-0"}]}}

    def get_shard_iterator(self, StreamName, ShardId, ShardIteratorType, StartingSequenceNumber=None):
        start = {"TRIM_HORIZON": 0, "AT_SEQUENCE_NUMBER": int(StartingSequenceNumber or 0) - 1,
                 "AFTER_SEQUENCE_NUMBER": int(StartingSequenceNumber or 0)}[ShardIteratorType]  # fmt: skip
        return {"ShardIterator": str(start)}

    def get_records(self, ShardIterator, Limit):
        start = int(ShardIterator)
        batch = self.records[start : start + Limit]
        return {"Records": batch, "NextShardIterator": str(start + len(batch))}


def test_restarts_at_the_lowest_failure_then_gives_up_on_a_poison_record():
    seen: list[list[str]] = []
    done = threading.Event()

    def consume(event):
        seqs = [r["kinesis"]["sequenceNumber"] for r in event["Records"]]
        seen.append(seqs)
        if seqs == ["5"]:  # past the poison record: the last batch the story expects
            done.set()
        failed = [s for s in seqs if s in ("2", "4")]
        if "2" in failed and len(seen) > 1:
            failed.remove("2")  # record 2 succeeds on its retry; record 4 never does
        return {"batchItemFailures": [{"itemIdentifier": s} for s in failed]}

    poller = KinesisPoller(FakeKinesis(5), "s", consume, batch=10, interval_s=0.01, max_retries=2)
    poller.start()
    assert done.wait(5)
    poller.stop()
    assert seen[:5] == [
        ["1", "2", "3", "4", "5"],  # 2 and 4 fail: restart at 2
        ["2", "3", "4", "5"],  # 4 fails (retry 1)
        ["4", "5"],  # retry 2
        ["4", "5"],  # retries used up: skip past 4
        ["5"],
    ]
