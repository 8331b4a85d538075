"""Raw stream events out of the spool, to Kinesis (docs/stream.md).

One ``Exporter`` interface, two adapters:

* ``KinesisExporter`` (standalone): boto3 ``PutRecords`` in batches of at most
  500; a record Kinesis refused (``ErrorCode`` in its result) stays in the spool
  and is sent again, alone with the other refused ones, until accepted.
* ``StreamManagerExporter`` (under the nucleus): appends each record to a
  Greengrass Stream Manager message stream with file persistence and a Kinesis
  export definition; Stream Manager then batches and retries to Kinesis itself.

``ExportPump`` is the shell around either: a thread that takes the oldest
records from the spool, exports them and deletes what was accepted, backing off
while the link is down.  Each record carries an id (site and spool sequence)
that never changes on a retry, so a consumer can drop the rare duplicate (a
PutRecords whose answer was lost).
"""

from __future__ import annotations

import base64
import json
import logging
import random
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any, Final, Protocol

from edgechat.stream.store import Spooled, StreamStore

log = logging.getLogger(__name__)

MAX_BATCH: Final = 500  # PutRecords' limit, and Stream Manager's largest Kinesis batch


def record(site: str, item: Spooled) -> tuple[str, bytes]:
    """(partition key, data) for one spooled event: the same shape as the cloud's
    StreamRule output (payload, clientId, receivedMs), so one consumer reads both."""
    data = {
        "id": f"{site}-{item.seq}",
        "site": site,
        "clientId": item.client_id,
        "receivedMs": item.received_ms,
        "payload": base64.b64encode(item.event.encode()).decode(),
    }
    return item.client_id, json.dumps(data, separators=(",", ":")).encode()


class Exporter(Protocol):
    name: str

    def open(self) -> None:
        """Prepare the destination (may raise: retried like an export)."""
        ...

    def export(self, items: list[Spooled]) -> list[int]:
        """Send ``items`` (at most 500); returns the seqs accepted.  Raises when
        nothing could be sent (link down)."""
        ...


class KinesisExporter:
    name = "kinesis"

    def __init__(self, client: Any, stream: str, site: str) -> None:
        self.client, self.stream, self.site = client, stream, site

    def open(self) -> None:
        pass  # the stream is the cloud half's (template.yaml's ChatStream)

    def export(self, items: list[Spooled]) -> list[int]:
        records = [record(self.site, item) for item in items[:MAX_BATCH]]
        got = self.client.put_records(
            StreamName=self.stream, Records=[{"PartitionKey": pk, "Data": data} for pk, data in records]
        )
        return [
            item.seq
            for item, result in zip(items, got["Records"], strict=False)
            if not result.get("ErrorCode") and result.get("SequenceNumber")
        ]


def kinesis_client(region: str, endpoint_url: str) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(retries={"max_attempts": 1}, connect_timeout=3, read_timeout=10)
    return boto3.client(
        "kinesis", region_name=region or None, endpoint_url=endpoint_url or None, config=config
    )


class StreamManagerExporter:
    """Greengrass Stream Manager: the message stream persists to files and
    exports to Kinesis; we only append.  ``client`` is a StreamManagerClient
    (made in the component's main: its constructor connects)."""

    name = "streammanager"
    STREAM_NAME: Final = "edgechat-stream"

    def __init__(self, client: Any, kinesis_stream: str, site: str, *, max_bytes: int) -> None:
        self.client, self.kinesis_stream, self.site, self.max_bytes = client, kinesis_stream, site, max_bytes

    def definition(self) -> Any:
        from stream_manager import (
            ExportDefinition,
            KinesisConfig,
            MessageStreamDefinition,
            Persistence,
            StrategyOnFull,
        )

        kinesis = KinesisConfig(
            identifier="edgechat-kinesis",
            kinesis_stream_name=self.kinesis_stream,
            batch_size=MAX_BATCH,
            batch_interval_millis=60_000,  # Stream Manager's minimum
        )
        return MessageStreamDefinition(
            name=self.STREAM_NAME,
            max_size=self.max_bytes,
            strategy_on_full=StrategyOnFull.OverwriteOldestData,  # as our own spool: drop oldest
            persistence=Persistence.File,
            flush_on_write=False,
            export_definition=ExportDefinition(kinesis=[kinesis]),
        )

    def open(self) -> None:
        definition = self.definition()
        if self.STREAM_NAME in self.client.list_streams():
            self.client.update_message_stream(definition)
        else:
            self.client.create_message_stream(definition)

    def export(self, items: list[Spooled]) -> list[int]:
        accepted: list[int] = []
        for item in items[:MAX_BATCH]:
            _, data = record(self.site, item)
            try:
                self.client.append_message(self.STREAM_NAME, data)
            except Exception:
                if not accepted:
                    raise
                break  # the rest stays in the spool for the next round
            accepted.append(item.seq)
        return accepted


@dataclass(slots=True)
class ExportStats:
    exporter: str
    connected: bool = False
    batches: int = 0
    records: int = 0
    refused: int = 0  # records Kinesis refused once (each is retried)
    failures: int = 0  # rounds where nothing could be sent
    last_error: str | None = None
    last_export_ms: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "exporter": self.exporter, "connected": self.connected, "batches": self.batches,
            "records": self.records, "refused": self.refused, "failures": self.failures,
            "lastError": self.last_error, "lastExportMs": self.last_export_ms,
        }  # fmt: skip


class ExportPump:
    """Drains the spool through an exporter on its own thread until stopped."""

    def __init__(
        self,
        store: StreamStore,
        exporter: Exporter,
        *,
        idle_s: float = 0.2,
        backoff_first_s: float = 0.5,
        backoff_max_s: float = 30.0,
    ) -> None:
        self.store, self.exporter = store, exporter
        self.idle_s, self.backoff_first_s, self.backoff_max_s = idle_s, backoff_first_s, backoff_max_s
        self.stats = ExportStats(exporter.name)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"export-{self.exporter.name}", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 15.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def wake(self) -> None:
        """New events were spooled."""
        self._wake.set()

    def _wait(self, seconds: float) -> None:
        self._wake.wait(seconds)
        self._wake.clear()

    def _run(self) -> None:
        opened = False
        delay = self.backoff_first_s
        while not self._stop.is_set():
            try:
                if not opened:
                    self.exporter.open()
                    opened = True
                batch = self.store.peek(MAX_BATCH)
                if not batch:
                    self._wait(self.idle_s)
                    continue
                accepted = self.exporter.export(batch)
                if not accepted:
                    raise RuntimeError("no record of the batch was accepted")
            except Exception as exc:  # the link is down, or the destination refuses: wait, retry
                self.stats.failures += 1
                self.stats.connected = False
                self.stats.last_error = f"{type(exc).__name__}: {exc}"[:300]
                log.debug("export: %s; retrying in %.1f s", self.stats.last_error, delay)
                self._stop.wait(delay * random.uniform(0.8, 1.2))
                delay = min(delay * 2, self.backoff_max_s)
                continue
            try:
                self.store.ack(accepted)
            except Exception:
                log.exception("export: could not delete exported records from the spool")
                self._stop.wait(1.0)
                continue
            delay = self.backoff_first_s
            self.stats.connected = True
            self.stats.batches += 1
            self.stats.records += len(accepted)
            self.stats.last_export_ms = time.time_ns() // 1_000_000
            refused = len(batch) - len(accepted)
            if refused:  # throttled records: retried on their own, after a short pause
                self.stats.refused += refused
                self._stop.wait(self.backoff_first_s * random.uniform(0.5, 1.0))

    def status(self) -> dict[str, Any]:
        return {**self.stats.to_json(), "spool": asdict(self.store.stats())}
