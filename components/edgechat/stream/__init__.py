"""The Stream component: high-volume events (typing, reactions, read marks,
device readings) in micro-batches, aggregates on ``chat/pub``, raw events
spooled and exported to Kinesis (docs/stream.md)."""

from edgechat.stream.export import ExportPump, KinesisExporter, StreamManagerExporter
from edgechat.stream.service import StreamService
from edgechat.stream.store import StreamStore

__all__ = ["ExportPump", "KinesisExporter", "StreamManagerExporter", "StreamService", "StreamStore"]
