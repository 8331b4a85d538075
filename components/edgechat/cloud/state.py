"""The little state the Router keeps between requests, in DynamoDB.

At the edge the Router lives in one process and keeps sessions and presence in
memory; a Lambda cannot.  Each request loads what it needs (the sender's
session, the presence of the rooms involved, the site clock), builds a Router
from it, and saves what changed in one transaction conditional on the versions
it read.  If another request changed the same state meanwhile, the save fails
and the request is run again on fresh state: the rules stay in the core.

| pk             | sk       | what                                                   |
| client#<id>    | session  | nick, rate bucket, last seen, rooms present, version     |
| room#<room>    | presence | members {clientId: nick}, version (kind "presence")     |
| site#<site>    | clock    | the hybrid logical clock: wall, counter                 |
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from botocore.exceptions import ClientError

from edgechat.cloud.dynamo import KIND_INDEX, room_pk
from edgechat.cloud.items import ddb_dump, ddb_load, pages
from edgechat.core.clock import Hlc
from edgechat.core.presence import Presence
from edgechat.core.protocol import Member
from edgechat.core.ratelimit import Bucket
from edgechat.core.router import Router, Session

SESSION_TTL_S: Final = 24 * 3600  # DynamoDB forgets sessions idle for a day


@dataclass
class Snapshot:
    """What one request loaded, with the versions to save against."""

    client_id: str
    sessions: dict[str, Session]
    session_version: int
    presence: Presence
    room_versions: dict[str, int] = field(default_factory=dict)  # 0: no item yet
    clock: Hlc = field(default_factory=Hlc)
    # As loaded: the Router changes ``presence`` in place.
    loaded_members: dict[str, dict[str, str]] = field(default_factory=dict)


class RouterState:
    def __init__(self, client: Any, table: str, site: str) -> None:
        self._db = client
        self.table = table
        self.site = site

    def load(self, client_id: str, rooms: set[str] | None) -> Snapshot:
        """The sender's session, presence of its rooms plus ``rooms`` (None: every
        room, for a room list), and the clock."""
        got = self._get(f"client#{client_id}", "session")
        sessions: dict[str, Session] = {}
        version = 0
        wanted = set(rooms or ())
        if got:
            sessions[client_id] = Session(
                got["nick"], Bucket(int(got["tokensMilli"]) / 1000, int(got["updatedMs"])), int(got["seenMs"])
            )
            version = int(got["version"])
            wanted |= set(got.get("rooms", []))
        snap = Snapshot(client_id, sessions, version, Presence())
        items = self._all_presence() if rooms is None else [self._get(room_pk(r), "presence") for r in wanted]
        for item in items:
            if item:
                room = item["room"]
                snap.room_versions[room] = int(item["version"])
                snap.presence.rooms[room] = {c: Member(c, n) for c, n in item["members"].items()}
                snap.loaded_members[room] = dict(item["members"])
        for room in wanted:
            snap.room_versions.setdefault(room, 0)
        snap.clock = self.load_clock()
        return snap

    def load_clock(self) -> Hlc:
        clock = self._get(f"site#{self.site}", "clock")
        return Hlc(int(clock["wall"]), int(clock["counter"])) if clock else Hlc()

    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        got = self._db.get_item(TableName=self.table, Key=ddb_dump({"pk": pk, "sk": sk}), ConsistentRead=True)
        return ddb_load(got["Item"]) if "Item" in got else None

    def _all_presence(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for got in pages(
            self._db.query,
            TableName=self.table,
            IndexName=KIND_INDEX,
            KeyConditionExpression="kind = :k",
            ExpressionAttributeValues=ddb_dump({":k": "presence"}),
        ):
            items += [ddb_load(i) for i in got["Items"]]
        return items

    def save(self, snap: Snapshot, router: Router, now_ms: int) -> bool:
        """Write what ``router`` changed; False if someone else changed it first."""
        writes: list[dict[str, Any]] = []
        for room, version in snap.room_versions.items():
            now = {cid: m.nick for cid, m in router.presence.rooms.get(room, {}).items()}
            if now == snap.loaded_members.get(room, {}):
                continue
            writes.append(self._versioned(room_pk(room), "presence", version, {
                "kind": "presence", "room": room, "members": now,
            } if now else None))  # fmt: skip
        session = router.session(snap.client_id)
        if session is not None or snap.session_version:
            body = None
            if session is not None:
                body = {
                    "nick": session.nick,
                    "tokensMilli": round(session.bucket.tokens * 1000),
                    "updatedMs": session.bucket.updated_ms,
                    "seenMs": session.seen_ms,
                    "rooms": router.presence.rooms_of(snap.client_id),
                    "expiresAt": now_ms // 1000 + SESSION_TTL_S,
                }
            writes.append(self._versioned(f"client#{snap.client_id}", "session", snap.session_version, body))
        if not writes:
            return True
        try:
            self._db.transact_write_items(TransactItems=writes)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "TransactionCanceledException":
                return False
            raise
        return True

    def _versioned(self, pk: str, sk: str, version: int, body: dict[str, Any] | None) -> dict[str, Any]:
        cond = "#v = :v" if version else "attribute_not_exists(pk)"
        values: dict[str, Any] = {}
        if version:
            values = {"ExpressionAttributeValues": ddb_dump({":v": version})}
            values["ExpressionAttributeNames"] = {"#v": "version"}
        if body is None:
            return {"Delete": {"TableName": self.table, "Key": ddb_dump({"pk": pk, "sk": sk}),
                               "ConditionExpression": cond, **values}}  # fmt: skip
        item = {"pk": pk, "sk": sk, **body, "version": version + 1}
        return {"Put": {"TableName": self.table, "Item": ddb_dump(item),
                        "ConditionExpression": cond, **values}}  # fmt: skip

    def save_clock(self, clock: Hlc) -> None:
        """Move the site clock forward to ``clock``; a concurrent request that got
        further wins (order keys stay unique: they end in the message id)."""
        try:
            self._db.put_item(
                TableName=self.table,
                Item=ddb_dump({"pk": f"site#{self.site}", "sk": "clock", "wall": clock.wall_ms,
                            "counter": clock.counter}),
                ConditionExpression="attribute_not_exists(pk) OR wall < :w OR (wall = :w AND #c < :c)",
                ExpressionAttributeNames={"#c": "counter"},
                ExpressionAttributeValues=ddb_dump({":w": clock.wall_ms, ":c": clock.counter}),
            )  # fmt: skip
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
