"""StreamFunction: ``chat/stream`` micro-batches from Kinesis.

High-volume, low-value events (typing, reactions, read marks, readings) are
validated, grouped by room and published as one ``activity`` event per room per
batch: the point of the micro-batch.  Reporting: a record that cannot be parsed
is dropped (retrying never fixes it and would hold up its shard); a record whose
room could not be published is returned in ``batchItemFailures``, so Lambda
retries from it and only it is reported.
"""

from __future__ import annotations

import base64
import json
import logging
from dataclasses import dataclass
from typing import Any, Final

from edgechat.cloud.handlers.deps import Deps, Publish, from_env
from edgechat.cloud.handlers.events import BadEvent, KinesisRecord, client_id, kinesis_records
from edgechat.core import names, topics
from edgechat.core.errors import ClientError
from edgechat.core.protocol import encode

log = logging.getLogger(__name__)

KINDS: Final = frozenset({"typing", "reaction", "read", "reading"})
MAX_EVENTS_PER_ROOM: Final = 200  # one activity event stays far below IoT's 128 KB


@dataclass(frozen=True, slots=True)
class Activity:
    sequence_number: str
    room: str
    event: dict[str, Any]


def parse_activity(record: KinesisRecord) -> Activity:
    """The rule's output (base64 payload + clientId + receivedMs) to one Activity."""
    try:
        outer = json.loads(record.data)
        inner = json.loads(_b64(outer["payload"]))
        who = client_id(outer["clientId"])
        kind = inner["type"]
        if kind not in KINDS:
            raise BadEvent(f"type {kind!r} is not a stream event")
        room = names.room(inner["room"])
        event: dict[str, Any] = {"clientId": who, "kind": kind, "ts": int(outer["receivedMs"])}
        if "messageId" in inner:
            event["messageId"] = names.message_id(inner["messageId"])
        if isinstance(inner.get("emoji"), str) and len(inner["emoji"]) <= 16:
            event["emoji"] = inner["emoji"]
        if isinstance(inner.get("value"), int | float) and not isinstance(inner["value"], bool):
            event["value"] = inner["value"]
    except (ValueError, KeyError, TypeError, ClientError) as exc:
        raise BadEvent(f"record {record.sequence_number}: {exc}") from exc
    return Activity(record.sequence_number, room, event)


def _b64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def by_room(activities: list[Activity]) -> dict[str, list[Activity]]:
    rooms: dict[str, list[Activity]] = {}
    for a in activities:
        rooms.setdefault(a.room, []).append(a)
    return rooms


def consume(records: list[KinesisRecord], publish: Publish) -> list[str]:
    """Publish the batch; returns the sequence numbers of records that failed."""
    activities: list[Activity] = []
    for record in records:
        try:
            activities.append(parse_activity(record))
        except BadEvent as exc:
            log.warning("dropped a stream record: %s", exc)
    failed: list[str] = []
    for room, items in by_room(activities).items():
        for i in range(0, len(items), MAX_EVENTS_PER_ROOM):
            chunk = items[i : i + MAX_EVENTS_PER_ROOM]
            event = {"type": "activity", "room": room, "events": [a.event for a in chunk]}
            try:
                publish(topics.room_pub(room), encode(event))
            except Exception as exc:  # any failure to publish: retry these records
                log.warning("activity for %s not published: %s", room, exc)
                failed += [a.sequence_number for a in chunk]
    return failed


def handle(event: dict[str, Any], deps: Deps) -> dict[str, Any]:
    try:
        records = kinesis_records(event)
    except BadEvent as exc:
        log.warning("dropped a malformed Kinesis event: %s", exc)
        return {"batchItemFailures": []}
    failed = consume(records, deps.publish)
    return {"batchItemFailures": [{"itemIdentifier": seq} for seq in failed]}


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:  # pragma: no cover - AWS entry
    return handle(event, from_env())
