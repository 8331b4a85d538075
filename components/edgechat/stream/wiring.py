"""The Stream service wired to its store, exporter and the broker's loopback
listener, from Settings: shared by ``edgechat up`` and the component's main."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from edgechat.broker import system_password
from edgechat.broker.config import SYSTEM_USER
from edgechat.settings import Settings
from edgechat.stream.export import (
    Exporter,
    ExportPump,
    KinesisExporter,
    StreamManagerExporter,
    kinesis_client,
)
from edgechat.stream.service import StreamService
from edgechat.stream.store import StreamStore

# What one spooled event takes in Stream Manager's files, to size its stream
# like our spool (events) in bytes.
BYTES_PER_EVENT = 400


def status_file(settings: Settings) -> Path:
    return settings.paths.root / "run" / "stream.json"


def open_store(settings: Settings) -> StreamStore:
    return StreamStore(settings.paths.stream, max_events=settings.stream.spool_max_events)


def exporter(settings: Settings, stream_manager: Callable[[], Any] | None = None) -> Exporter | None:
    """The exporter the settings ask for; ``stream_manager`` makes a Stream
    Manager client (only under the nucleus, where one runs)."""
    s = settings.stream
    if s.export == "kinesis":
        return KinesisExporter(
            kinesis_client(s.aws_region, s.endpoint_url), s.kinesis_stream, settings.site_id
        )
    if s.export == "streammanager":
        if stream_manager is None:
            raise ValueError("stream.export streammanager: runs only under Greengrass (--greengrass)")
        max_bytes = max(1024, s.spool_max_events * BYTES_PER_EVENT)
        return StreamManagerExporter(
            stream_manager(), s.kinesis_stream, settings.site_id, max_bytes=max_bytes
        )
    return None


def stream_service(
    settings: Settings, store: StreamStore, stream_manager: Callable[[], Any] | None = None
) -> StreamService:
    chosen = exporter(settings, stream_manager)
    return StreamService(
        store,
        host="127.0.0.1",
        port=settings.internal_port,
        username=SYSTEM_USER,
        password=system_password(settings),
        limits=settings.stream.limits,
        window_ms=settings.stream.window_ms,
        pump=None if chosen is None else ExportPump(store, chosen),
        status_file=status_file(settings),
        retention_ms=settings.retention_ms,
    )
