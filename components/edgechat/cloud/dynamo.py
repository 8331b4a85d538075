"""The cloud's MessageStore on DynamoDB: the same contract as SQLite at the edge.

One table (template.yaml, ChatTable):

| pk            | sk           | what                                              |
| room#<room>   | m#<seq:012>  | a message, numbered by the cloud's own per-room seq |
| room#<room>   | meta         | the room's counter: lastSeq, lastTs, maxKey         |
| id#<id>       | id           | the idempotency item: which room/seq holds that id  |

A message is written in one transaction: the id item (condition: the id is new),
the message item (condition: the key is free) and the room counter (condition:
it still has the value read).  A resent id fails the first condition and finds
the stored copy; a concurrent writer to the room fails the third and retries
with the next seq.  So nothing is ever overwritten, sequences have no gaps, and
duplicates are caught by the same conditional write on the client-made id as
at the edge.  Each message is its own transaction (a batch is not atomic here,
but every message in it is idempotent, so a retried batch is safe).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from functools import partial
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from edgechat.cloud.dynamo_lifecycle import DynamoLifecycle
from edgechat.cloud.items import ddb_dump, ddb_load, ddb_value, pages
from edgechat.core.attachments import (
    PictureLabel,
    dump_attachments,
    dump_labels,
    load_attachments,
    load_labels,
)
from edgechat.core.clock import Hlc, hlc_of
from edgechat.core.protocol import Message, RoomInfo
from edgechat.store.base import StoreError, with_picture_labels

log = logging.getLogger(__name__)

KIND_INDEX: Final = "byKind"
MAX_ATTEMPTS: Final = 20  # contended room counters: each retry means another writer won
_SEQ_DIGITS: Final = 12


def room_pk(room: str) -> str:
    return f"room#{room}"


def message_sk(seq: int) -> str:
    return f"m#{seq:0{_SEQ_DIGITS}d}"


def id_pk(message_id: str) -> str:
    return f"id#{message_id}"


def picture_pk(sha256: str) -> str:
    """Labels by picture hash: ``pic#<sha256>`` / ``labels``."""
    return f"pic#{sha256}"


def to_item(m: Message, expires_at: int | None) -> dict[str, Any]:
    item: dict[str, Any] = {
        "pk": room_pk(m.room), "sk": message_sk(m.seq), "id": m.id, "room": m.room, "seq": m.seq,
        "ts": m.ts, "orderKey": m.order_key, "site": m.site, "clientId": m.client_id,
        "nick": m.nick, "text": m.text,
    }  # fmt: skip
    if m.reply_to is not None:
        item["replyTo"] = m.reply_to
    if m.attachments:  # the same JSON as SQLite's column
        item["attachments"] = dump_attachments(m.attachments)
    if expires_at is not None:
        item["expiresAt"] = expires_at
    return item


def from_item(item: dict[str, Any]) -> Message:
    return Message(
        id=item["id"], room=item["room"], seq=int(item["seq"]), ts=int(item["ts"]),
        order_key=item["orderKey"], site=item["site"], client_id=item["clientId"],
        nick=item["nick"], text=item["text"], reply_to=item.get("replyTo"),
        attachments=load_attachments(item.get("attachments")),
        edited="editedKey" in item, deleted="deletedKey" in item,
    )  # fmt: skip


class DynamoStore(DynamoLifecycle):
    """``client`` is a boto3 DynamoDB client; ``retention_s`` sets each item's TTL."""

    def __init__(self, client: Any, table: str, *, retention_s: int | None = None) -> None:
        self._db = client
        self.table = table
        self.retention_s = retention_s

    # -- writes

    def add(self, messages: Sequence[Message]) -> list[tuple[Message, bool]]:
        rooms: dict[str, dict[str, Any]] = {}
        try:
            return [self._add_one(m, rooms) for m in messages]
        except (ClientError, BotoCoreError) as exc:
            raise StoreError(f"DynamoDB: {exc}") from exc

    def _add_one(self, m: Message, rooms: dict[str, dict[str, Any]]) -> tuple[Message, bool]:
        for _ in range(MAX_ATTEMPTS):
            meta = rooms.get(m.room) or self._meta(m.room)
            stored = replace(m, seq=int(meta.get("lastSeq", 0)) + 1)
            new_meta = {
                "pk": room_pk(m.room), "sk": "meta", "kind": "room", "room": m.room,
                "lastSeq": stored.seq, "lastTs": max(int(meta.get("lastTs", 0)), m.ts),
                "maxKey": max(str(meta.get("maxKey", "")), m.order_key),
            }  # fmt: skip
            expires = m.ts // 1000 + self.retention_s if self.retention_s else None
            id_item = {"pk": id_pk(m.id), "sk": "id", "room": m.room, "seq": stored.seq}
            id_item["clientId"] = m.client_id  # so id_conflict holds even after TTL
            if expires is not None:
                id_item["expiresAt"] = expires
            counter_ok = (
                "lastSeq = :prev" if "lastSeq" in meta else "attribute_not_exists(pk)",
                {":prev": ddb_value(meta["lastSeq"])} if "lastSeq" in meta else {},
            )
            try:
                self._db.transact_write_items(
                    TransactItems=[
                        {"Put": {"TableName": self.table, "Item": ddb_dump(id_item),
                                 "ConditionExpression": "attribute_not_exists(pk)"}},
                        {"Put": {"TableName": self.table, "Item": ddb_dump(to_item(stored, expires)),
                                 "ConditionExpression": "attribute_not_exists(pk)"}},
                        {"Put": {"TableName": self.table, "Item": ddb_dump(new_meta),
                                 "ConditionExpression": counter_ok[0],
                                 **({"ExpressionAttributeValues": counter_ok[1]} if counter_ok[1] else {})}},
                    ]
                )  # fmt: skip
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "TransactionCanceledException":
                    raise
                rooms.pop(m.room, None)
                existing = self._by_id(m.id)
                if existing is not None:
                    return existing, False
                continue  # another writer took this seq: read the counter again
            rooms[m.room] = new_meta
            if self._apply_early(m.id):  # its edits or delete came first
                return self._by_id(m.id) or stored, True
            return stored, True
        raise StoreError(f"room {m.room}: gave up after {MAX_ATTEMPTS} contended attempts")

    def _meta(self, room: str) -> dict[str, Any]:
        got = self._db.get_item(
            TableName=self.table, Key=ddb_dump({"pk": room_pk(room), "sk": "meta"}), ConsistentRead=True
        )
        return ddb_load(got["Item"]) if "Item" in got else {}

    def _by_id(self, message_id: str) -> Message | None:
        got = self._db.get_item(
            TableName=self.table, Key=ddb_dump({"pk": id_pk(message_id), "sk": "id"}), ConsistentRead=True
        )
        if "Item" not in got:
            return None
        ref = ddb_load(got["Item"])
        msg = self._db.get_item(
            TableName=self.table,
            Key=ddb_dump({"pk": room_pk(ref["room"]), "sk": message_sk(int(ref["seq"]))}),
            ConsistentRead=True,
        )
        if "Item" not in msg:
            # TTL removed the message before its id item (deletions are not atomic):
            # it is still a duplicate; answer with what the id item remembers.
            return Message(id=message_id, room=ref["room"], text="", client_id=str(ref.get("clientId", "")),
                           nick="", ts=0, order_key="", site="", seq=int(ref["seq"]))  # fmt: skip
        return from_item(ddb_load(msg["Item"]))

    # -- reads

    def history(
        self, room: str, *, before: int | None = None, after: int | None = None, limit: int = 50
    ) -> tuple[list[Message], bool]:
        if after is not None:
            lo, hi, forward = after + 1, 10**_SEQ_DIGITS - 1, True
        else:
            lo, hi, forward = 1, (10**_SEQ_DIGITS if before is None else before) - 1, False
        if lo > hi:
            return [], False
        try:
            got = self._db.query(
                TableName=self.table,
                KeyConditionExpression="pk = :pk AND sk BETWEEN :lo AND :hi",
                ExpressionAttributeValues=ddb_dump(
                    {":pk": room_pk(room), ":lo": message_sk(lo), ":hi": message_sk(hi)}
                ),
                ScanIndexForward=forward,
                Limit=limit + 1,
                ConsistentRead=True,
            )
        except (ClientError, BotoCoreError) as exc:
            raise StoreError(f"DynamoDB: {exc}") from exc
        items = [from_item(ddb_load(i)) for i in got["Items"]]
        return with_picture_labels(items[:limit], self.picture_labels), len(items) > limit

    def put_labels(self, sha256: str, labels: Sequence[PictureLabel]) -> None:
        item = {"pk": picture_pk(sha256), "sk": "labels", "labels": dump_labels(labels)}
        try:
            self._db.put_item(TableName=self.table, Item=ddb_dump(item))
        except (ClientError, BotoCoreError) as exc:
            raise StoreError(f"DynamoDB: {exc}") from exc

    def picture_labels(self, shas: Sequence[str]) -> dict[str, tuple[PictureLabel, ...]]:
        found: dict[str, tuple[PictureLabel, ...]] = {}
        try:
            for i in range(0, len(shas), 100):  # BatchGetItem takes at most 100 keys
                keys = [ddb_dump({"pk": picture_pk(s), "sk": "labels"}) for s in shas[i : i + 100]]
                request: dict[str, Any] = {self.table: {"Keys": keys}}
                while request:
                    got = self._db.batch_get_item(RequestItems=request)
                    for raw in got["Responses"].get(self.table, []):
                        item = ddb_load(raw)
                        found[item["pk"].removeprefix("pic#")] = load_labels(item["labels"])
                    request = got.get("UnprocessedKeys") or {}
        except (ClientError, BotoCoreError) as exc:
            raise StoreError(f"DynamoDB: {exc}") from exc
        return found

    def _room_metas(self) -> list[dict[str, Any]]:
        metas: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": KIND_INDEX,
            "KeyConditionExpression": "kind = :k",
            "ExpressionAttributeValues": ddb_dump({":k": "room"}),
        }
        try:
            for got in pages(self._db.query, **kwargs):
                metas += [ddb_load(i) for i in got["Items"]]
            return metas
        except (ClientError, BotoCoreError) as exc:
            raise StoreError(f"DynamoDB: {exc}") from exc

    def rooms(self) -> list[RoomInfo]:
        infos = [RoomInfo(m["room"], int(m["lastSeq"]), int(m["lastTs"])) for m in self._room_metas()]
        return sorted(infos, key=lambda i: (-i.last_ts, i.room))

    def max_clock(self) -> Hlc:
        keys = [str(m["maxKey"]) for m in self._room_metas() if m.get("maxKey")]
        return hlc_of(max(keys)) if keys else Hlc()

    # -- housekeeping (DynamoDB's TTL does this in the cloud; here for the contract)

    def _scan_messages(self, extra: str = "", values: dict[str, Any] | None = None, **kw: Any) -> Any:
        return self._db.scan(
            TableName=self.table,
            FilterExpression="begins_with(sk, :m)" + extra,
            ExpressionAttributeValues=ddb_dump({":m": "m#", **(values or {})}),
            **kw,
        )

    def expire(self, older_than_ms: int, batch: int = 1000) -> int:
        doomed: list[dict[str, Any]] = []
        try:
            for got in pages(partial(self._scan_messages, " AND ts < :t", {":t": older_than_ms})):
                doomed += [ddb_load(i) for i in got["Items"]]
                if len(doomed) >= batch:
                    break
            doomed = doomed[:batch]
            keys = [{"pk": d["pk"], "sk": d["sk"]} for d in doomed]
            keys += [{"pk": id_pk(d["id"]), "sk": "id"} for d in doomed]
            for i in range(0, len(keys), 25):  # BatchWriteItem takes at most 25
                requests = [{"DeleteRequest": {"Key": ddb_dump(k)}} for k in keys[i : i + 25]]
                self._db.batch_write_item(RequestItems={self.table: requests})
        except (ClientError, BotoCoreError) as exc:
            raise StoreError(f"DynamoDB: {exc}") from exc
        return len(doomed)

    def count(self) -> int:
        try:
            return sum(got["Count"] for got in pages(self._scan_messages, Select="COUNT"))
        except (ClientError, BotoCoreError) as exc:
            raise StoreError(f"DynamoDB: {exc}") from exc

    def close(self) -> None:
        pass
