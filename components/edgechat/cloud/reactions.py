"""Reaction sets in the cloud's table (the StreamFunction's stored aggregate).

One item per (message, emoji, client): ``pk = react#<message id>``,
``sk = <client id>#<emoji>``.  A put of the same key is the same item, so
applying a batch twice (a Lambda retry) changes nothing; counts are a Query.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from edgechat.core.stream import ReactionChange


def reaction_pk(message_id: str) -> str:
    return f"react#{message_id}"


class DynamoReactions:
    def __init__(self, client: Any, table: str) -> None:
        self._db, self.table = client, table

    def apply(self, room: str, changes: Iterable[ReactionChange], ts: int) -> None:
        for c in changes:
            key = {"pk": {"S": reaction_pk(c.message_id)}, "sk": {"S": f"{c.client_id}#{c.emoji}"}}
            if c.remove:
                self._db.delete_item(TableName=self.table, Key=key)
            else:
                item = {**key, "room": {"S": room}, "ts": {"N": str(ts)}}
                self._db.put_item(TableName=self.table, Item=item)

    def counts(self, message_ids: Iterable[str]) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for mid in sorted(set(message_ids)):
            kwargs: dict[str, Any] = {
                "TableName": self.table,
                "KeyConditionExpression": "pk = :pk",
                "ExpressionAttributeValues": {":pk": {"S": reaction_pk(mid)}},
                "ProjectionExpression": "sk",
                "ConsistentRead": True,
            }
            while True:
                got = self._db.query(**kwargs)
                for item in got["Items"]:
                    emoji = item["sk"]["S"].split("#", 1)[1]
                    per = out.setdefault(mid, {})
                    per[emoji] = per.get(emoji, 0) + 1
                if "LastEvaluatedKey" not in got:
                    break
                kwargs["ExclusiveStartKey"] = got["LastEvaluatedKey"]
        return out
