"""StreamFunction: ``chat/stream`` micro-batches from Kinesis.

High-volume, low-value events (typing, reactions, read marks, readings) are
parsed by the same pure rules as the edge Stream (``core/stream.py``), grouped
by room and published as one ``activity`` event per room per batch, the shape
the edge publishes (docs/protocol.md).  Reactions are sets kept in the table
(``cloud/reactions.py``), so a retried batch changes nothing.  Records come from
the cloud's StreamRule or from an edge core's export (same shape).

Reporting: a record that cannot be parsed is dropped (retrying never fixes it
and would hold up its shard); the records of a room that could not be stored
or published are returned in ``batchItemFailures``, so Lambda retries from them.
Lambda keeps nothing between batches, so who is typing is kept in the table
(``DynamoTyping``: until when, with a TTL) and each ``typing`` list is the
room's whole list, as at the edge.  A ``reactions`` query (a page joining a
room) is answered on the asker's ``chat/in`` from the stored reaction sets.
"""

from __future__ import annotations

import base64
import json
import logging
from dataclasses import dataclass
from typing import Any, Final

from edgechat.cloud.handlers.deps import Deps, from_env
from edgechat.cloud.handlers.events import BadEvent, KinesisRecord, client_id, kinesis_records
from edgechat.core import topics
from edgechat.core.errors import ClientError
from edgechat.core.protocol import encode
from edgechat.core.stream import (
    ReactionsQuery,
    RoomBatch,
    StreamEvent,
    StreamLimits,
    activity_event,
    batch_by_room,
    parse_event,
    reactions_json,
)

log = logging.getLogger(__name__)

LIMITS: Final = StreamLimits()


@dataclass(frozen=True, slots=True)
class Activity:
    sequence_number: str
    client_id: str
    event: StreamEvent
    received_ms: int

    @property
    def room(self) -> str:
        return self.event.room


def parse_activity(record: KinesisRecord) -> Activity:
    """The rule's output (base64 payload + clientId + receivedMs) to one Activity."""
    try:
        outer = json.loads(record.data)
        who = client_id(outer["clientId"])
        received = outer["receivedMs"]
        if isinstance(received, bool) or not isinstance(received, int):
            raise BadEvent("receivedMs: not an integer")
        event = parse_event(base64.b64decode(outer["payload"], validate=True), LIMITS)
    except (ValueError, KeyError, TypeError, ClientError) as exc:
        raise BadEvent(f"record {record.sequence_number}: {exc}") from exc
    return Activity(record.sequence_number, who, event, received)


def typing_list(batch: RoomBatch, deps: Deps, now_ms: int) -> list[dict[str, Any]] | None:
    """Who is typing in the room after this batch, each with the time left
    (without a table: who typed in this batch only)."""
    if not batch.typing:
        return None
    if deps.typing is not None:
        return deps.typing.update(batch.room, batch.typing, now_ms)
    ttl = LIMITS.typing_ttl_ms
    return [
        {"clientId": c, "expiresInMs": at + ttl - now_ms}
        for c, (active, at) in sorted(batch.typing.items())
        if active and at + ttl > now_ms
    ]


def room_event(batch: RoomBatch, deps: Deps, now_ms: int) -> dict[str, Any] | None:
    reactions = None
    if batch.reactions and deps.reactions is not None:
        deps.reactions.apply(batch.room, batch.reactions, now_ms)
        touched = batch.touched_messages()
        reactions = reactions_json(deps.reactions.counts(touched), touched)
    return activity_event(
        batch, batch.room, typing=typing_list(batch, deps, now_ms), reactions=reactions, ts=now_ms
    )


def answer_reactions(query: Activity, deps: Deps, now_ms: int) -> None:
    """The stored counts of the room's recently reacted-to messages, to the asker
    (the edge Stream's answer, same shape)."""
    if deps.reactions is None:
        return
    counts = deps.reactions.room_counts(query.room, LIMITS.max_reaction_rows)
    reactions = reactions_json(counts, counts)
    event = {"type": "activity", "room": query.room, "ts": now_ms, "reactions": reactions}
    deps.publish(topics.client_in(query.client_id), encode(event))


def consume(records: list[KinesisRecord], deps: Deps) -> list[str]:
    """Store and publish the batch; returns the sequence numbers of records that failed."""
    activities: list[Activity] = []
    for record in records:
        try:
            activities.append(parse_activity(record))
        except BadEvent as exc:
            log.warning("dropped a stream record: %s", exc)
    now = deps.now_ms()
    failed: list[str] = []
    for query in [a for a in activities if isinstance(a.event, ReactionsQuery)]:
        try:
            answer_reactions(query, deps, now)
        except Exception as exc:  # the asker is still waiting: retry it
            log.warning("reactions of %s not answered: %s", query.room, exc)
            failed.append(query.sequence_number)
    batches = batch_by_room((a.client_id, a.event, a.received_ms) for a in activities)
    for room, batch in batches.items():
        try:
            event = room_event(batch, deps, now)
            if event is not None:
                deps.publish(topics.room_pub(room), encode(event))
        except Exception as exc:  # any failure to store or publish: retry these records
            log.warning("activity for %s not published: %s", room, exc)
            failed += [a.sequence_number for a in activities if a.room == room]
    return failed


def handle(event: dict[str, Any], deps: Deps) -> dict[str, Any]:
    try:
        records = kinesis_records(event)
    except BadEvent as exc:
        log.warning("dropped a malformed Kinesis event: %s", exc)
        return {"batchItemFailures": []}
    failed = consume(records, deps)
    return {"batchItemFailures": [{"itemIdentifier": seq} for seq in failed]}


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:  # pragma: no cover - AWS entry
    return handle(event, from_env())
