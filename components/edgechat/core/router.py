"""The Router's rules: client requests in, effects out.  No I/O, no clock.

The shell (``edgechat.router.service``) feeds ``receive`` with what arrives on
``chat/out/{clientId}`` and the current time, carries out the effects, and feeds
the results of storage and queries back (``stored``, ``store_failed``,
``history_page``, ``rooms_listed``).  A message is announced on its room only
from ``stored``, i.e. after the store has committed it.
"""

from __future__ import annotations

import logging
from collections.abc import Container
from dataclasses import dataclass, field
from typing import Any

from edgechat.core import lifecycle, moderation
from edgechat.core.clock import Hlc, order_key
from edgechat.core.errors import ChatError, ClientError, ErrorCode, Muted, RateLimited, ServerError
from edgechat.core.moderation import Action, ModerationState, ModRequest
from edgechat.core.presence import Presence, presence_event
from edgechat.core.protocol import (
    Bye,
    Hello,
    History,
    Join,
    Leave,
    Limits,
    ListRooms,
    Member,
    Message,
    Request,
    RoomInfo,
    SendMessage,
    encode,
    parse_request,
    request_type,
)
from edgechat.core.ratelimit import Bucket, RateLimit

log = logging.getLogger(__name__)

SESSION_IDLE_MS = 10 * 60 * 1000


# --- effects -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reply:
    """Send ``event`` to one client, on ``chat/in/{client_id}``."""

    client_id: str
    event: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Broadcast:
    """Send ``event`` to everyone in ``room``, on ``chat/pub/{room}``."""

    room: str
    event: dict[str, Any]


@dataclass(frozen=True, slots=True)
class StoreMessage:
    """Store ``message`` durably, then call ``Router.stored`` (or ``store_failed``)."""

    message: Message


@dataclass(frozen=True, slots=True)
class QueryHistory:
    client_id: str
    request: History


@dataclass(frozen=True, slots=True)
class QueryRooms:
    client_id: str
    request: ListRooms


@dataclass(frozen=True, slots=True)
class LoadTarget:
    """Fetch the message an edit or delete names (``Store.get``), then call
    ``Router.target_loaded``."""

    client_id: str
    request: lifecycle.Edit | lifecycle.Delete
    moderator: bool


@dataclass(frozen=True, slots=True)
class StoreRevision:
    """Store ``revision`` (``Store.revise``), then call ``Router.revised``.
    ``author`` wrote the target; a delete by anyone else is a moderator's."""

    revision: lifecycle.Revision
    author: str


@dataclass(frozen=True, slots=True)
class RecordModeration:
    """Write ``action`` to the store (its state change and the audit log)
    before carrying out the effects after it."""

    action: Action


@dataclass(frozen=True, slots=True)
class Revoke:
    """Ban: keep the address ``client_id``'s session came from out until
    ``until_ms``, then remove its broker credential; the broker closes its
    connection and refuses it from now on."""

    client_id: str
    until_ms: int = 0
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class LiftBan:
    """Unban: the address ``client_id``'s session came from may have sessions again."""

    client_id: str


@dataclass(frozen=True, slots=True)
class QueryAudit:
    client_id: str
    request: moderation.AuditQuery


@dataclass(frozen=True, slots=True)
class QueryConsole:
    client_id: str
    request: moderation.ConsoleQuery


Effect = (
    Reply | Broadcast | StoreMessage | QueryHistory | QueryRooms
    | LoadTarget | StoreRevision | RecordModeration | Revoke | LiftBan | QueryAudit | QueryConsole
)  # fmt: skip


# --- state -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RouterConfig:
    site: str = "edge"
    limits: Limits = field(default_factory=Limits)
    rate: RateLimit = field(default_factory=RateLimit)
    # How long after sending an author may edit or delete a message.
    edit_window_ms: int = 15 * 60_000
    # How long a ban keeps the banned session's address out (a ban may say).
    ban_ms: int = 24 * 3_600_000


@dataclass(slots=True)
class Session:
    """What the Router remembers about one client.  Public so that a shell
    without a long-lived process (the cloud's Lambda) can restore and save it."""

    nick: str
    bucket: Bucket
    seen_ms: int


def _with_request_id(event: dict[str, Any], request_id: str | None) -> dict[str, Any]:
    if request_id is not None:
        event["requestId"] = request_id
    return event


class Router:
    def __init__(
        self,
        config: RouterConfig,
        clock: Hlc | None = None,
        *,
        presence: Presence | None = None,
        sessions: dict[str, Session] | None = None,
        moderation: ModerationState | None = None,
    ) -> None:
        """``presence`` and ``sessions`` restore state saved elsewhere (the cloud
        builds a Router per request from DynamoDB); the edge starts empty."""
        self.config = config
        self.clock = clock or Hlc()
        self.presence = presence if presence is not None else Presence()
        self._sessions: dict[str, Session] = sessions if sessions is not None else {}
        self.moderation = moderation if moderation is not None else ModerationState()
        # Client ids with the moderator role: anything that answers ``in``.  The
        # edge's shell gives a view of the roles file, read only when asked, so
        # it is asked only when the answer matters (not for a plain message).
        self.moderators: Container[str] = frozenset()

    # -- requests

    def receive(self, client_id: str, payload: bytes, now_ms: int) -> list[Effect]:
        """Everything to do about ``payload`` arriving from ``client_id``."""
        session = self._session(client_id, now_ms)
        try:
            request = parse_request(payload, self.config.limits)
            if not isinstance(request, Bye):
                session.bucket, wait_ms = session.bucket.take(self.config.rate, now_ms)
                if wait_ms:
                    raise RateLimited(wait_ms).about(request_type(request), _ref(request))
            return self._handle(client_id, session, request, now_ms)
        except ChatError as exc:
            return [Reply(client_id, exc.to_event())]

    def _session(self, client_id: str, now_ms: int) -> Session:
        session = self._sessions.get(client_id)
        if session is None:
            session = Session(client_id, Bucket.full(self.config.rate, now_ms), now_ms)
            self._sessions[client_id] = session
        session.seen_ms = now_ms
        return session

    def _handle(self, client_id: str, session: Session, request: Request, now_ms: int) -> list[Effect]:
        match request:
            case SendMessage() if refused := self._refuse_speech(client_id, request.room, now_ms):
                raise refused.about("message", request.id)
            case SendMessage():
                return [StoreMessage(self._stamp(client_id, session, request, now_ms))]
            case Hello(nick=nick, request_id=rid):
                return self._hello(client_id, session, nick, rid, now_ms)
            case Join(room=room, request_id=rid):
                return self._join(client_id, session, room, rid)
            case Leave(room=room, request_id=rid):
                left = self._leave(client_id, room, "leave")
                return [*left, Reply(client_id, _with_request_id({"type": "left", "room": room}, rid))]
            case Bye():
                effects: list[Effect] = []
                for room in self.presence.rooms_of(client_id):
                    effects += self._leave(client_id, room, "bye")
                self._sessions.pop(client_id, None)
                return effects
            case History():
                return [QueryHistory(client_id, request)]
            case ListRooms():
                return [QueryRooms(client_id, request)]
            case lifecycle.Edit() if refused := self._refuse_speech(client_id, request.room, now_ms):
                raise refused.about("edit", request.id)
            case lifecycle.Edit() | lifecycle.Delete():
                return [LoadTarget(client_id, request, client_id in self.moderators)]
            case _ if isinstance(request, _MOD_REQUESTS):
                return self._moderate(client_id, session, request, now_ms)
        raise AssertionError(f"unhandled request {request!r}")  # pragma: no cover

    def _stamp(self, client_id: str, session: Session, req: SendMessage, now_ms: int) -> Message:
        self.clock = self.clock.tick(now_ms)
        return Message(
            id=req.id,
            room=req.room,
            text=req.text,
            client_id=client_id,
            nick=session.nick,
            ts=self.clock.wall_ms,
            order_key=order_key(self.clock, self.config.site, req.id),
            site=self.config.site,
            reply_to=req.reply_to,
            attachments=req.attachments,
        )

    def _hello(
        self, client_id: str, session: Session, nick: str | None, rid: str | None, now_ms: int
    ) -> list[Effect]:
        effects: list[Effect] = []
        if nick is not None and nick != session.nick:
            session.nick = nick
            member = Member(client_id, nick)
            for room in self.presence.rooms_of(client_id):
                self.presence.join(room, member)
                effects.append(Broadcast(room, presence_event(room, "update", member)))
        welcome = {
            "type": "welcome",
            "clientId": client_id,
            "nick": session.nick,
            "site": self.config.site,
            "serverTime": now_ms,
            "rooms": self.presence.rooms_of(client_id),
            "limits": self.config.limits.to_json(),
        }
        welcome["editWindowMs"] = self.config.edit_window_ms
        if client_id in self.moderators:
            welcome["moderator"] = True  # the app shows moderation tools and the console
        effects.append(Reply(client_id, _with_request_id(welcome, rid)))
        return effects

    def _join(self, client_id: str, session: Session, room: str, rid: str | None) -> list[Effect]:
        member = Member(client_id, session.nick)
        effects: list[Effect] = []
        if self.presence.join(room, member):
            effects.append(Broadcast(room, presence_event(room, "join", member)))
        members = [m.to_json() for m in self.presence.members(room)]
        joined: dict[str, Any] = {"type": "joined", "room": room, "members": members}
        if room in self.moderation.locked:
            joined["locked"] = True
        if room in self.moderation.pinned:
            joined["pinned"] = self.moderation.pinned[room]
        effects.append(Reply(client_id, _with_request_id(joined, rid)))
        return effects

    def _leave(self, client_id: str, room: str, reason: str) -> list[Effect]:
        member = self.presence.leave(room, client_id)
        if member is None:
            return []
        return [Broadcast(room, presence_event(room, "leave", member, reason))]

    # -- results from the shell

    def stored(self, sent: Message, stored: Message, created: bool) -> list[Effect]:
        """``sent`` was stored as ``stored`` (a resend finds the first copy)."""
        if not created and stored.client_id != sent.client_id:
            err = ClientError(ErrorCode.ID_CONFLICT, "id: already used by another message", field="id")
            return [Reply(sent.client_id, err.about("message", sent.id).to_event())]
        ack = {
            "type": "ack",
            "id": stored.id,
            "room": stored.room,
            "seq": stored.seq,
            "ts": stored.ts,
            "orderKey": stored.order_key,
            "duplicate": not created,
        }
        effects: list[Effect] = [Broadcast(stored.room, stored.to_event())] if created else []
        effects.append(Reply(sent.client_id, ack))
        return effects

    def store_failed(self, sent: Message, *, full: bool = False) -> list[Effect]:
        """The store could not take ``sent``; the sender may retry (same id)."""
        if full:
            err = ServerError(ErrorCode.STORAGE_FULL, "message not stored: the edge core's storage is full")
        else:
            err = ServerError(ErrorCode.STORE_UNAVAILABLE, "message not stored: the message store failed")
        return [Reply(sent.client_id, err.about("message", sent.id).to_event())]

    def query_failed(self, client_id: str, request_type: str, request_id: str | None) -> list[Effect]:
        err = ServerError(ErrorCode.STORE_UNAVAILABLE, "the message store could not answer")
        return [Reply(client_id, err.about(request_type, request_id).to_event())]

    def history_page(self, query: QueryHistory, messages: list[Message], has_more: bool) -> list[Effect]:
        """The page as one event, cut short (``hasMore``) where it would not fit
        in one MQTT packet; the client pages on from the last message it got."""
        req = query.request
        events = _fitting([m.to_event() for m in messages], self.config.limits.max_event_bytes - 512)
        event = {
            "type": "history",
            "room": req.room,
            "direction": "after" if req.after is not None else "before",
            "messages": events,
            "hasMore": has_more or len(events) < len(messages),
        }
        return [Reply(query.client_id, _with_request_id(event, req.request_id))]

    def rooms_listed(self, query: QueryRooms, stored: list[RoomInfo]) -> list[Effect]:
        by_name = {info.room: info for info in stored}
        for room in self.presence.rooms:
            by_name.setdefault(room, RoomInfo(room, 0, 0))
        rooms = _fitting(
            [
                RoomInfo(i.room, i.last_seq, i.last_ts, self.presence.count(i.room)).to_json()
                for i in sorted(by_name.values(), key=lambda i: (-i.last_ts, i.room))
            ],
            self.config.limits.max_event_bytes - 512,
        )
        event = {"type": "rooms", "rooms": rooms}
        return [Reply(query.client_id, _with_request_id(event, query.request.request_id))]

    # -- message lifecycle (core/lifecycle.py)

    def _refuse_speech(self, client_id: str, room: str, now_ms: int) -> ChatError | None:
        """Why ``client_id`` may not post or edit in ``room`` now (None: it may)."""
        locked = room in self.moderation.locked
        until = self.moderation.muted_until(room, client_id, now_ms)
        if (not locked and until is None) or client_id in self.moderators:
            return None
        if locked:
            return ClientError(ErrorCode.ROOM_LOCKED, f"{room} is read-only for now", field="room")
        assert until is not None
        return Muted(room, until - now_ms)

    def target_loaded(self, load: LoadTarget, target: Message | None, now_ms: int) -> list[Effect]:
        """The message an edit or delete names, as stored (None: not found)."""
        req = load.request
        kind = lifecycle.EDIT if isinstance(req, lifecycle.Edit) else lifecycle.DELETE
        refused = lifecycle.check(
            req, load.client_id, target, now_ms,
            window_ms=self.config.edit_window_ms, moderator=load.moderator,
        )  # fmt: skip
        if refused is not None or target is None:
            err = refused or ClientError(ErrorCode.NOT_FOUND, "target: no such message", field="target")
            return [Reply(load.client_id, err.about(kind, req.id).to_event())]
        self.clock = self.clock.tick(now_ms)
        revision = lifecycle.Revision(
            id=req.id, target=req.target, room=req.room, kind=kind,
            text=req.text if isinstance(req, lifecycle.Edit) else "",
            client_id=load.client_id, ts=self.clock.wall_ms,
            order_key=order_key(self.clock, self.config.site, req.id), site=self.config.site,
        )  # fmt: skip
        return [StoreRevision(revision, target.client_id)]

    def revised(
        self, sent: StoreRevision, stored: lifecycle.Revision, created: bool, applied: bool
    ) -> list[Effect]:
        """``sent`` was stored as ``stored``; ``applied`` says it changed the message
        (an edit older than the one shown, or anything after a delete, does not)."""
        rev = sent.revision
        if not created and stored.client_id != rev.client_id:
            err = ClientError(ErrorCode.ID_CONFLICT, "id: already used by another revision", field="id")
            return [Reply(rev.client_id, err.about(rev.kind, rev.id).to_event())]
        effects: list[Effect] = []
        if created and rev.kind == lifecycle.DELETE and sent.author != rev.client_id:
            action = Action(rev.ts, rev.client_id, "delete", rev.target, rev.room, {"author": sent.author})
            effects.append(RecordModeration(action))
        if created and applied:
            effects.append(Broadcast(stored.room, stored.to_event()))
        ack = {
            "type": "ack", "id": stored.id, "target": stored.target, "room": stored.room,
            "ts": stored.ts, "orderKey": stored.order_key, "duplicate": not created,
        }  # fmt: skip
        effects.append(Reply(rev.client_id, ack))
        return effects

    def revise_failed(self, sent: StoreRevision, *, full: bool = False) -> list[Effect]:
        err = ServerError(
            ErrorCode.STORAGE_FULL if full else ErrorCode.STORE_UNAVAILABLE,
            f"{sent.revision.kind} not stored: the message store failed",
        )
        return [Reply(sent.revision.client_id, err.about(sent.revision.kind, sent.revision.id).to_event())]

    # -- moderation (core/moderation.py)

    def _moderate(self, client_id: str, session: Session, req: ModRequest, now_ms: int) -> list[Effect]:
        kind = moderation.type_name(req)
        if client_id not in self.moderators:
            raise moderation.not_a_moderator(kind).about(kind, req.request_id)
        match req:
            case moderation.AuditQuery():
                return [QueryAudit(client_id, req)]
            case moderation.ConsoleQuery():
                return [QueryConsole(client_id, req)]
        action, effects = self._moderation_action(client_id, session, req, now_ms)
        self.moderation.apply(action)
        done = {"type": "moderated", "action": action.action, "target": action.target}
        return [RecordModeration(action), *effects, Reply(client_id, _with_request_id(done, req.request_id))]

    def _moderation_action(
        self, client_id: str, session: Session, req: ModRequest, now_ms: int
    ) -> tuple[Action, list[Effect]]:
        """The audit record of a moderator's request and the events it makes."""
        effects: list[Effect] = []
        action: Action | None = None
        match req:
            case moderation.Mute(room=room, client_id=who, minutes=minutes):
                until = now_ms + minutes * 60_000
                action = Action(now_ms, client_id, "mute", who, room, {"untilTs": until, "minutes": minutes})
                effects.append(Reply(who, {"type": "muted", "room": room, "muted": True, "untilTs": until}))
            case moderation.Unmute(room=room, client_id=who):
                action = Action(now_ms, client_id, "unmute", who, room)
                effects.append(Reply(who, {"type": "muted", "room": room, "muted": False}))
            case moderation.Ban(client_id=who, reason=reason, minutes=minutes):
                until = now_ms + (minutes * 60_000 if minutes else self.config.ban_ms)
                detail: dict[str, Any] = {"untilTs": until} | ({"reason": reason} if reason else {})
                action = Action(now_ms, client_id, "ban", who, None, detail)
                banned: dict[str, Any] = {"type": "banned", "untilTs": until}
                if reason:
                    banned["reason"] = reason
                effects.append(Reply(who, banned))  # before the broker closes its connection
                for room in self.presence.rooms_of(who):
                    effects += self._leave(who, room, "banned")
                self._sessions.pop(who, None)
                effects.append(Revoke(who, until, reason))
            case moderation.Unban(client_id=who):
                action = Action(now_ms, client_id, "unban", who, None)
                effects.append(LiftBan(who))
            case moderation.Lock(room=room, locked=locked):
                action = Action(now_ms, client_id, "lock" if locked else "unlock", room, room)
                effects.append(Broadcast(room, {"type": "roomLocked", "room": room, "locked": locked}))
            case moderation.Announce(room=room, text=None):
                action = Action(now_ms, client_id, "unpin", room, room)
                effects.append(Broadcast(room, {"type": "announcement", "room": room, "removed": True}))
            case moderation.Announce(room=room, text=str(text)):
                pinned = {"type": "announcement", "room": room, "text": text, "ts": now_ms}
                pinned["nick"] = session.nick
                action = Action(now_ms, client_id, "announce", room, room, {"announcement": pinned})
                effects.append(Broadcast(room, pinned))
            case moderation.Notice(text=text, room=room, client_id=who):
                notice: dict[str, Any] = {"type": "notice", "text": text, "ts": now_ms}
                if room is not None:
                    notice["room"] = room
                    effects.append(Broadcast(room, notice))
                else:
                    effects.append(Reply(str(who), notice))
                action = Action(now_ms, client_id, "notice", room or str(who), room, {"text": text})
            case moderation.AppUpdate(version=version, note=note):
                update: dict[str, Any] = {"type": "appUpdate"}
                update |= {k: v for k, v in (("version", version), ("note", note)) if v is not None}
                effects += [Broadcast(room, dict(update)) for room in sorted(self.presence.rooms)]
                action = Action(now_ms, client_id, "appUpdate", "all", None, update)
        assert action is not None, req
        return action, effects

    def audit_listed(self, query: QueryAudit, actions: list[Action]) -> list[Effect]:
        entries = _fitting([a.to_json() for a in actions], self.config.limits.max_event_bytes - 512)
        event = {"type": "audit", "entries": entries}
        return [Reply(query.client_id, _with_request_id(event, query.request.request_id))]

    def console_listed(self, query: QueryConsole, facts: dict[str, Any], now_ms: int) -> list[Effect]:
        """The console's picture: ``facts`` from the shell (counters, disk,
        sync, rooms stored) joined with who is where and what is in force."""
        state = self.moderation
        rooms = sorted(set(self.presence.rooms) | state.locked | set(state.pinned))
        event = {
            "type": "console",
            **facts,
            "present": [
                {
                    "room": room,
                    "members": [m.to_json() for m in self.presence.members(room)],
                    "locked": room in state.locked,
                    "pinned": state.pinned.get(room),
                    "muted": [
                        {"clientId": who, "untilTs": until}
                        for (r, who), until in sorted(state.mutes.items())
                        if r == room and until > now_ms
                    ],
                }
                for room in rooms
            ],
            "sessions": len(self._sessions),
        }
        return [Reply(query.client_id, _with_request_id(event, query.request.request_id))]

    # -- housekeeping

    def prune(self, now_ms: int) -> int:
        """Forget idle sessions that are in no room; returns how many."""
        in_rooms = {cid for who in self.presence.rooms.values() for cid in who}
        idle = [
            cid
            for cid, s in self._sessions.items()
            if cid not in in_rooms
            and now_ms - s.seen_ms > SESSION_IDLE_MS
            and s.bucket.is_full(self.config.rate, now_ms)
        ]
        for cid in idle:
            del self._sessions[cid]
        return len(idle)

    def session(self, client_id: str) -> Session | None:
        """``client_id``'s session, if the Router has one (for shells that save it)."""
        return self._sessions.get(client_id)

    @property
    def session_count(self) -> int:
        return len(self._sessions)


def _fitting(items: list[dict[str, Any]], budget: int) -> list[dict[str, Any]]:
    """The longest prefix of ``items`` whose JSON fits in ``budget`` bytes
    (at least one item: a single message always fits a packet)."""
    size = 0
    for n, item in enumerate(items):
        size += len(encode(item)) + 1
        if size > budget and n > 0:
            return items[:n]
    return items


def _ref(request: Request) -> str | None:
    if isinstance(request, SendMessage | lifecycle.Edit | lifecycle.Delete):
        return request.id
    return request.request_id


_MOD_REQUESTS = (
    moderation.Mute, moderation.Unmute, moderation.Ban, moderation.Unban, moderation.Lock,
    moderation.Announce, moderation.Notice, moderation.AppUpdate, moderation.AuditQuery,
    moderation.ConsoleQuery,
)  # fmt: skip
