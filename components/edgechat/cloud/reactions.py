"""Reaction sets and who is typing, in the cloud's table (the StreamFunction's
state between invocations).

Reactions: one item per (message, emoji, client): ``pk = react#<message id>``,
``sk = <client id>#<emoji>``.  A put of the same key is the same item, so
applying a batch twice (a Lambda retry) changes nothing; counts are a Query.
Beside them, one item per reacted-to message of a room (``pk = reactroom#<room>``,
``sk = <message id>``, ``ts`` of its last change), so a ``reactions`` query
finds a room's messages without a scan or an index.

Typing: one item per (room, client) with ``until`` (ms) and the table's TTL
attribute, so the list outlives one micro-batch and expires by itself: readers
drop ``until <= now`` at once, DynamoDB's TTL deletes the item later.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from edgechat.cloud.items import pages
from edgechat.core.stream import ReactionChange

TTL_ATTRIBUTE = "expiresAt"  # seconds; the table's TimeToLiveSpecification (template.yaml)


def reaction_pk(message_id: str) -> str:
    return f"react#{message_id}"


def room_reactions_pk(room: str) -> str:
    return f"reactroom#{room}"


def typing_pk(room: str) -> str:
    return f"typing#{room}"


def _partition(db: Any, table: str, pk: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
    """Every item under partition key ``pk``, read consistently, page by page."""
    query = {"KeyConditionExpression": "pk = :pk", "ExpressionAttributeValues": {":pk": {"S": pk}}}
    for got in pages(db.query, TableName=table, ConsistentRead=True, **query, **kwargs):
        yield from got["Items"]


def _is_condition_failure(exc: Exception) -> bool:
    code = getattr(exc, "response", {}).get("Error", {}).get("Code")
    return code == "ConditionalCheckFailedException"


class DynamoReactions:
    def __init__(self, client: Any, table: str) -> None:
        self._db, self.table = client, table

    def apply(self, room: str, changes: Iterable[ReactionChange], ts: int) -> None:
        touched: set[str] = set()
        for c in changes:
            key = {"pk": {"S": reaction_pk(c.message_id)}, "sk": {"S": f"{c.client_id}#{c.emoji}"}}
            if c.remove:
                self._db.delete_item(TableName=self.table, Key=key)
            else:
                item = {**key, "room": {"S": room}, "ts": {"N": str(ts)}}
                self._db.put_item(TableName=self.table, Item=item)
            touched.add(c.message_id)
        for mid in sorted(touched):
            item = {"pk": {"S": room_reactions_pk(room)}, "sk": {"S": mid}, "ts": {"N": str(ts)}}
            self._db.put_item(TableName=self.table, Item=item)

    def counts(self, message_ids: Iterable[str]) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for mid in sorted(set(message_ids)):
            items = _partition(self._db, self.table, reaction_pk(mid), ProjectionExpression="sk")
            for item in items:
                emoji = item["sk"]["S"].split("#", 1)[1]
                per = out.setdefault(mid, {})
                per[emoji] = per.get(emoji, 0) + 1
        return out

    def room_counts(self, room: str, limit: int) -> dict[str, dict[str, int]]:
        """Counts for the ``limit`` messages of ``room`` reacted to most recently
        (the edge's ``room_reactions``); messages left with none are omitted."""
        items = _partition(self._db, self.table, room_reactions_pk(room))
        recent = sorted(items, key=lambda i: int(i["ts"]["N"]), reverse=True)[:limit]
        return {mid: n for mid, n in self.counts(i["sk"]["S"] for i in recent).items() if n}


class DynamoTyping:
    """Who is typing per room, across invocations (the edge's ``TypingBoard``)."""

    def __init__(self, client: Any, table: str, ttl_ms: int) -> None:
        self._db, self.table, self.ttl_ms = client, table, ttl_ms

    def update(self, room: str, typing: Mapping[str, tuple[bool, int]], now_ms: int) -> list[dict[str, Any]]:
        """Apply one batch's ``client -> (active, at)`` and return the room's whole list."""
        for client_id, (active, at_ms) in sorted(typing.items()):
            until = at_ms + self.ttl_ms
            key = {"pk": {"S": typing_pk(room)}, "sk": {"S": client_id}}
            # Never let an older event (a retried or late record) undo a newer one.
            newer = {
                "ConditionExpression": "attribute_not_exists(#u) OR #u <= :u",
                "ExpressionAttributeNames": {"#u": "until"},
                "ExpressionAttributeValues": {":u": {"N": str(until)}},
            }
            try:
                if active and until > now_ms:
                    item = {**key, "until": {"N": str(until)}, TTL_ATTRIBUTE: {"N": str(until // 1000 + 1)}}
                    self._db.put_item(TableName=self.table, Item=item, **newer)
                else:
                    self._db.delete_item(TableName=self.table, Key=key, **newer)
            except Exception as exc:
                if not _is_condition_failure(exc):
                    raise
        return self.typing(room, now_ms)

    def typing(self, room: str, now_ms: int) -> list[dict[str, Any]]:
        items = _partition(self._db, self.table, typing_pk(room))
        until = {i["sk"]["S"]: int(i["until"]["N"]) for i in items}
        return [{"clientId": c, "expiresInMs": u - now_ms} for c, u in sorted(until.items()) if u > now_ms]
