"""The Router wired to an in-memory store and an in-memory 'broker', so its
rules can be tested with no I/O (as h11 wires two endpoints together)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from edgechat.core.protocol import encode
from edgechat.core.router import (
    Broadcast,
    Effect,
    LiftBan,
    LoadTarget,
    QueryAudit,
    QueryConsole,
    QueryHistory,
    QueryRooms,
    RecordModeration,
    Reply,
    Revoke,
    Router,
    RouterConfig,
    StoreMessage,
    StoreRevision,
)
from edgechat.store import MemoryStore


@dataclass
class Harness:
    config: RouterConfig = field(default_factory=RouterConfig)
    now_ms: int = 1_700_000_000_000
    store: MemoryStore = field(default_factory=MemoryStore)
    inbox: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    rooms: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    revoked: list[str] = field(default_factory=list)
    banned_until: dict[str, int] = field(default_factory=dict)  # client id -> its address's ban end

    def __post_init__(self) -> None:
        self.router = Router(self.config)

    def send(self, client_id: str, request: dict[str, Any] | bytes, advance_ms: int = 1) -> None:
        self.now_ms += advance_ms
        payload = request if isinstance(request, bytes) else json.dumps(request).encode()
        self.apply(self.router.receive(client_id, payload, self.now_ms))

    def apply(self, effects: list[Effect]) -> None:
        for effect in effects:
            match effect:
                case Reply(client_id=cid, event=event):
                    encode(event)  # what the shell will publish: must be UTF-8 JSON
                    self.inbox.setdefault(cid, []).append(event)
                case Broadcast(room=room, event=event):
                    encode(event)
                    self.rooms.setdefault(room, []).append(event)
                case StoreMessage(message=m):
                    ((stored, created),) = self.store.add([m])
                    self.apply(self.router.stored(m, stored, created))
                case QueryHistory(request=r) as q:
                    page, more = self.store.history(r.room, before=r.before, after=r.after, limit=r.limit)
                    self.apply(self.router.history_page(q, page, more))
                case QueryRooms() as q:
                    self.apply(self.router.rooms_listed(q, self.store.rooms()))
                case LoadTarget() as load:
                    target = self.store.get(load.request.target)
                    self.apply(self.router.target_loaded(load, target, self.now_ms))
                case StoreRevision() as sent:
                    ((stored, created, applied),) = self.store.revise([sent.revision])
                    self.apply(self.router.revised(sent, stored, created, applied))
                case RecordModeration(action=action):
                    self.store.moderate(action)
                case Revoke(client_id=cid, until_ms=until):
                    self.revoked.append(cid)
                    self.banned_until[cid] = until
                case LiftBan(client_id=cid):
                    self.banned_until.pop(cid, None)
                case QueryAudit() as q:
                    self.apply(self.router.audit_listed(q, self.store.audit_log(q.request.limit)))
                case QueryConsole() as q:
                    self.apply(self.router.console_listed(q, {}, self.now_ms))

    def last(self, client_id: str) -> dict[str, Any]:
        return self.inbox[client_id][-1]

    def messages(self, room: str) -> list[dict[str, Any]]:
        return [e for e in self.rooms.get(room, []) if e["type"] == "message"]
