"""DynamoStore's part for edits, deletes and moderation (the contract of
store/base.py, as SQLite keeps it at the edge).

| pk              | sk                      | what                                     |
| rev#<id>        | rev                     | an edit or delete (its own id, order key) |
| early#<target>  | rev#<id>                | a revision that came before its message (sync) |
| revs#<room>     | meta                    | the room's revision counter: ``lastRevSeq`` |
| revs#<room>     | r#<revSeq>              | which revision has that number (``id``)  |
| room#<room>     | m#<seq>                 | the message, with ``editedKey``, ``deletedKey``, ``revs`` |
| mod#state       | mute#<room>#<client>    | a mute and when it runs out               |
| mod#state       | room#<room>             | a room's lock and pinned announcement     |
| audit           | <ts:015>#<random>       | one moderation action                     |

A revision is written with its message in one transaction, conditional on the
revision id being new and on the message not having changed since it was read,
so two Lambdas revising one message concurrently cannot both win.  One whose
message is not here yet (sync: sites' batches are ingested concurrently) is
kept with an ``early#`` marker and merged by ``add`` when the message comes.
The same transaction numbers the revision with its room's ``revSeq`` (once per
revision id: the put of ``rev#<id>`` is conditional), so a site can page a
room's revisions by number and see a gap (docs/sync.md).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from edgechat.cloud.items import ddb_dump, ddb_load, pages
from edgechat.core import lifecycle
from edgechat.core.lifecycle import Revision
from edgechat.core.moderation import Action, ModerationState
from edgechat.core.protocol import Message
from edgechat.store.base import StoreError

MOD_PK: Final = "mod#state"
AUDIT_PK: Final = "audit"
MAX_ATTEMPTS: Final = 10
_REV_DIGITS: Final = 12


def _rev_item(r: Revision) -> dict[str, Any]:
    return {
        "pk": f"rev#{r.id}", "sk": "rev", "id": r.id, "target": r.target, "room": r.room, "kind": r.kind,
        "text": r.text, "clientId": r.client_id, "ts": r.ts, "orderKey": r.order_key, "site": r.site,
        "revSeq": r.rev_seq,
    }  # fmt: skip


def _rev_of(item: dict[str, Any]) -> Revision:
    return Revision(
        item["id"], item["target"], item["room"], item["kind"], item["text"], item["clientId"],
        int(item["ts"]), item["orderKey"], item["site"], int(item.get("revSeq", 0)),
    )  # fmt: skip


def _guarded(call: Callable[[], Any]) -> Any:
    try:
        return call()
    except (ClientError, BotoCoreError) as exc:
        raise StoreError(f"DynamoDB: {exc}") from exc


class DynamoLifecycle:
    _db: Any
    table: str

    def _message_item(self, message_id: str) -> dict[str, Any] | None:
        got = self._db.get_item(
            TableName=self.table, Key=ddb_dump({"pk": f"id#{message_id}", "sk": "id"}), ConsistentRead=True
        )
        if "Item" not in got:
            return None
        ref = ddb_load(got["Item"])
        key = {"pk": f"room#{ref['room']}", "sk": f"m#{int(ref['seq']):012d}"}
        msg = self._db.get_item(TableName=self.table, Key=ddb_dump(key), ConsistentRead=True)
        return ddb_load(msg["Item"]) if "Item" in msg else None

    def get(self, message_id: str) -> Message | None:
        from edgechat.cloud.dynamo import from_item  # dynamo imports this module

        item = _guarded(lambda: self._message_item(message_id))
        return None if item is None else from_item(item)

    def revise(self, revisions: Sequence[Revision]) -> list[tuple[Revision, bool, bool]]:
        return _guarded(lambda: [self._revise(r) for r in revisions])

    def _known(self, rid: str) -> Revision | None:
        got = self._db.get_item(
            TableName=self.table, Key=ddb_dump({"pk": f"rev#{rid}", "sk": "rev"}), ConsistentRead=True
        )
        return _rev_of(ddb_load(got["Item"])) if "Item" in got else None

    def _revise(self, rev: Revision) -> tuple[Revision, bool, bool]:
        for _ in range(MAX_ATTEMPTS):
            known = self._known(rev.id)
            if known is not None:
                return known, False, False
            msg = self._message_item(rev.target)
            deleted = msg is not None and "deletedKey" in msg
            applied = msg is not None and lifecycle.supersedes(
                rev.kind, rev.order_key, msg.get("editedKey"), deleted
            )
            last = self._last_rev_seq(rev.room)
            stored = replace(rev, text="" if deleted else rev.text, rev_seq=(last or 0) + 1)
            put = {
                "Put": {
                    "TableName": self.table, "Item": ddb_dump(_rev_item(stored)),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }  # fmt: skip
            items: list[dict[str, Any]] = [put]
            if msg is not None:
                items.append({"Update": self._message_update(msg, rev, applied)})
            else:  # merged when the message arrives (``_apply_early``)
                early = {"pk": f"early#{rev.target}", "sk": f"rev#{rev.id}"}
                items.append({"Put": {"TableName": self.table, "Item": ddb_dump(early)}})
            items += self._numbered(stored, last)
            try:
                self._db.transact_write_items(TransactItems=items)
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "TransactionCanceledException":
                    raise
                continue  # the revision arrived meanwhile, or the message changed: read again
            if applied and rev.kind == lifecycle.DELETE:
                self._blank(msg.get("revs", []) if msg else [])
            return stored, True, applied
        raise StoreError(f"revision {rev.id}: gave up after {MAX_ATTEMPTS} contended attempts")

    def _last_rev_seq(self, room: str) -> int | None:
        got = self._db.get_item(
            TableName=self.table, Key=ddb_dump({"pk": f"revs#{room}", "sk": "meta"}), ConsistentRead=True
        )
        return int(ddb_load(got["Item"])["lastRevSeq"]) if "Item" in got else None

    def _numbered(self, rev: Revision, last: int | None) -> list[dict[str, Any]]:
        """The writes that give ``rev`` its room's next revSeq: the counter
        (on condition nobody took that number since it was read) and the index item."""
        counter = {"pk": f"revs#{rev.room}", "sk": "meta", "kind": "revs", "room": rev.room,
                   "lastRevSeq": rev.rev_seq}  # fmt: skip
        cond: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(pk)"}
        if last is not None:
            cond = {"ConditionExpression": "lastRevSeq = :prev",
                    "ExpressionAttributeValues": ddb_dump({":prev": last})}  # fmt: skip
        index = {"pk": f"revs#{rev.room}", "sk": f"r#{rev.rev_seq:0{_REV_DIGITS}d}", "id": rev.id}
        return [
            {"Put": {"TableName": self.table, "Item": ddb_dump(counter), **cond}},
            {"Put": {"TableName": self.table, "Item": ddb_dump(index),
                     "ConditionExpression": "attribute_not_exists(pk)"}},
        ]  # fmt: skip

    def revisions_after(self, room: str, after: int, limit: int) -> tuple[list[Revision], bool]:
        """``room``'s revisions numbered after ``after``, in revSeq order, and
        whether there are more (a site's revision backfill, docs/sync.md)."""

        def read() -> tuple[list[Revision], bool]:
            got = self._db.query(
                TableName=self.table, KeyConditionExpression="pk = :pk AND sk BETWEEN :lo AND :hi",
                ExpressionAttributeValues=ddb_dump({
                    ":pk": f"revs#{room}", ":lo": f"r#{after + 1:0{_REV_DIGITS}d}",
                    ":hi": "r#" + "9" * _REV_DIGITS,
                }),
                Limit=limit + 1, ConsistentRead=True,
            )  # fmt: skip
            items = [ddb_load(i) for i in got["Items"]]
            revs = [r for r in (self._known(i["id"]) for i in items[:limit]) if r is not None]
            return revs, len(items) > limit

        return _guarded(read)

    def last_rev_seqs(self) -> dict[str, int]:
        """Each room's last revSeq (rooms with no revision: absent)."""

        def read() -> dict[str, int]:
            from edgechat.cloud.dynamo import KIND_INDEX  # dynamo imports this module

            out: dict[str, int] = {}
            args: dict[str, Any] = {
                "TableName": self.table, "IndexName": KIND_INDEX, "KeyConditionExpression": "kind = :k",
                "ExpressionAttributeValues": ddb_dump({":k": "revs"}),
            }  # fmt: skip
            for got in pages(self._db.query, **args):
                for item in map(ddb_load, got["Items"]):
                    out[item["room"]] = int(item["lastRevSeq"])
            return out

        return _guarded(read)

    def _blank(self, rids: list[str]) -> None:
        """A deleted message's edits keep no words either."""
        for rid in rids:
            self._db.update_item(
                TableName=self.table, Key=ddb_dump({"pk": f"rev#{rid}", "sk": "rev"}),
                UpdateExpression="SET #t = :e", ExpressionAttributeNames={"#t": "text"},
                ExpressionAttributeValues=ddb_dump({":e": ""}),
            )  # fmt: skip

    def _apply_early(self, message_id: str) -> bool:
        """Merge the revisions that came before message ``message_id`` (just
        added), one by one as ``_revise`` would have; True if there were any."""
        markers = self._query_all(f"early#{message_id}")
        for marker in markers:
            rev = self._known(marker["sk"].removeprefix("rev#"))
            key = ddb_dump({"pk": marker["pk"], "sk": marker["sk"]})
            drop = {"Delete": {"TableName": self.table, "Key": key}}
            for _ in range(MAX_ATTEMPTS):
                msg = self._message_item(message_id)
                if rev is None or msg is None or rev.id in msg.get("revs", []):
                    self._db.transact_write_items(TransactItems=[drop])
                    break
                deleted = "deletedKey" in msg
                applied = lifecycle.supersedes(rev.kind, rev.order_key, msg.get("editedKey"), deleted)
                update = {"Update": self._message_update(msg, rev, applied)}
                try:
                    self._db.transact_write_items(TransactItems=[update, drop])
                except ClientError as exc:
                    if exc.response["Error"]["Code"] != "TransactionCanceledException":
                        raise
                    continue
                if deleted or (applied and rev.kind == lifecycle.DELETE):
                    self._blank([*msg.get("revs", []), rev.id])
                break
        return bool(markers)

    def revisions_of(self, messages: Sequence[Message]) -> list[Revision]:
        """Every revision stored of those ``messages`` that were edited or deleted
        (a sync page carries them with their messages, docs/sync.md)."""
        return _guarded(lambda: [r for m in messages if m.edited or m.deleted for r in self._revs_of(m.id)])

    def _revs_of(self, message_id: str) -> list[Revision]:
        item = self._message_item(message_id) or {}
        return [r for r in (self._known(rid) for rid in item.get("revs", [])) if r is not None]

    def _message_update(self, msg: dict[str, Any], rev: Revision, applied: bool) -> dict[str, Any]:
        """Add the revision to the message's list and, when it wins, change the
        message; on condition that nobody revised it since it was read."""
        sets = ["revs = list_append(if_not_exists(revs, :none), :one)"]
        values: dict[str, Any] = {":none": [], ":one": [rev.id]}
        names: dict[str, str] = {}
        if applied and rev.kind == lifecycle.EDIT:
            sets += ["#t = :text", "editedKey = :key"]
            values |= {":text": rev.text, ":key": rev.order_key}
            names["#t"] = "text"
        elif applied:
            sets += ["#t = :empty", "deletedKey = :key"]
            values |= {":empty": "", ":key": rev.order_key}
            names["#t"] = "text"
        update = f"SET {', '.join(sets)}" + (
            " REMOVE attachments" if applied and rev.kind != lifecycle.EDIT else ""
        )
        n = len(msg.get("revs", []))
        condition = "size(revs) = :n" if n else "attribute_not_exists(revs)"
        if n:
            values[":n"] = n
        out: dict[str, Any] = {
            "TableName": self.table, "Key": ddb_dump({"pk": msg["pk"], "sk": msg["sk"]}),
            "UpdateExpression": update, "ConditionExpression": condition,
            "ExpressionAttributeValues": ddb_dump(values),
        }  # fmt: skip
        if names:
            out["ExpressionAttributeNames"] = names
        return out

    # -- moderation

    def moderate(self, action: Action) -> None:
        audit = {"pk": AUDIT_PK, "sk": f"{action.ts:015d}#{uuid.uuid4().hex[:12]}", **action.to_json()}
        if "detail" in audit:
            audit["detail"] = action.detail_json()
        writes: list[dict[str, Any]] = [{"Put": {"TableName": self.table, "Item": ddb_dump(audit)}}]
        room = action.room or ""
        match action.action:
            case "mute":
                item = {"pk": MOD_PK, "sk": f"mute#{room}#{action.target}", "room": room,
                        "clientId": action.target, "untilTs": int(action.detail["untilTs"])}  # fmt: skip
                writes.append({"Put": {"TableName": self.table, "Item": ddb_dump(item)}})
            case "unmute":
                key = {"pk": MOD_PK, "sk": f"mute#{room}#{action.target}"}
                writes.append({"Delete": {"TableName": self.table, "Key": ddb_dump(key)}})
            case "lock" | "unlock" | "announce" | "unpin":
                if action.action in ("lock", "unlock"):
                    field, value = "locked", action.action == "lock"
                else:
                    pinned = action.detail.get("announcement")
                    field, value = "pinned", json.dumps(pinned) if pinned else ""
                update = {
                    "TableName": self.table, "Key": ddb_dump({"pk": MOD_PK, "sk": f"room#{room}"}),
                    "UpdateExpression": "SET #f = :v, #r = :r",  # "room" is a reserved word
                    "ExpressionAttributeNames": {"#f": field, "#r": "room"},
                    "ExpressionAttributeValues": ddb_dump({":v": value, ":r": room}),
                }  # fmt: skip
                writes.append({"Update": update})
        _guarded(lambda: self._db.transact_write_items(TransactItems=writes))

    def _query_all(self, pk: str, **kw: Any) -> list[dict[str, Any]]:
        args: dict[str, Any] = {
            "TableName": self.table, "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": ddb_dump({":pk": pk}), "ConsistentRead": True, **kw,
        }  # fmt: skip
        items: list[dict[str, Any]] = []
        for got in pages(self._db.query, **args):
            items += [ddb_load(i) for i in got["Items"]]
            if "Limit" in kw:  # one page of at most Limit items was asked for
                break
        return items

    def moderation_state(self, now_ms: int) -> ModerationState:
        state = ModerationState()
        for item in _guarded(lambda: self._query_all(MOD_PK)):
            if item["sk"].startswith("mute#") and int(item["untilTs"]) > now_ms:
                state.mutes[(item["room"], item["clientId"])] = int(item["untilTs"])
            elif item["sk"].startswith("room#"):
                if item.get("locked"):
                    state.locked.add(item["room"])
                if item.get("pinned"):
                    state.pinned[item["room"]] = json.loads(item["pinned"])
        return state

    def audit_log(self, limit: int = 50) -> list[Action]:
        items = _guarded(lambda: self._query_all(AUDIT_PK, ScanIndexForward=False, Limit=limit))
        return [
            Action(int(i["ts"]), i["actor"], i["action"], i["target"], i.get("room"),
                   json.loads(i["detail"]) if i.get("detail") else {})
            for i in items
        ]  # fmt: skip
