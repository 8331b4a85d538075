"""The Kinesis poller: what Lambda's event source mapping does, locally.  Reads
each shard in micro-batches, hands them to the consumer, and on a partial batch
failure starts again at the lowest failed record (as Lambda does), giving up on
a record after ``max_retries``."""

from __future__ import annotations

import base64
import logging
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)


def lambda_event(shard: str, records: list[dict[str, Any]]) -> dict[str, Any]:
    return {"Records": [
        {"eventSource": "aws:kinesis", "eventID": f"{shard}:{r['SequenceNumber']}",
         "kinesis": {"sequenceNumber": r["SequenceNumber"], "partitionKey": r["PartitionKey"],
                     "data": base64.b64encode(r["Data"]).decode()}}
        for r in records
    ]}  # fmt: skip


class KinesisPoller:
    def __init__(
        self,
        kinesis: Any,
        stream: str,
        consume: Callable[[dict[str, Any]], dict[str, Any]],
        *,
        batch: int = 500,
        interval_s: float = 0.2,
        max_retries: int = 3,
    ) -> None:
        self.kinesis = kinesis
        self.stream = stream
        self.consume = consume
        self.batch = batch
        self.interval_s = interval_s
        self.max_retries = max_retries
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        shards = self.kinesis.describe_stream(StreamName=self.stream)["StreamDescription"]["Shards"]
        for shard in shards:
            t = threading.Thread(target=self._poll, args=(shard["ShardId"],), name="kinesis", daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=5)

    def _iterator(self, shard: str, kind: str, seq: str | None = None) -> str:
        kwargs = {"StartingSequenceNumber": seq} if seq else {}
        got = self.kinesis.get_shard_iterator(
            StreamName=self.stream, ShardId=shard, ShardIteratorType=kind, **kwargs
        )
        return got["ShardIterator"]

    def _poll(self, shard: str) -> None:
        iterator = self._iterator(shard, "TRIM_HORIZON")
        retries: dict[str, int] = {}
        while not self._stop.is_set():
            try:
                got = self.kinesis.get_records(ShardIterator=iterator, Limit=self.batch)
            except Exception:
                log.exception("kinesis poll failed")
                self._stop.wait(1.0)
                continue
            records = got["Records"]
            iterator = got["NextShardIterator"]
            if not records:
                self._stop.wait(self.interval_s)
                continue
            try:
                failures = self.consume(lambda_event(shard, records)).get("batchItemFailures", [])
            except Exception:
                log.exception("stream consumer failed on the whole batch")
                failures = [{"itemIdentifier": records[0]["SequenceNumber"]}]
            if failures:
                lowest = min((f["itemIdentifier"] for f in failures), key=int)
                retries[lowest] = retries.get(lowest, 0) + 1
                if retries[lowest] <= self.max_retries:
                    iterator = self._iterator(shard, "AT_SEQUENCE_NUMBER", lowest)
                else:
                    log.warning("giving up on stream record %s after %d retries", lowest, self.max_retries)
                    iterator = self._iterator(shard, "AFTER_SEQUENCE_NUMBER", lowest)
                    del retries[lowest]
