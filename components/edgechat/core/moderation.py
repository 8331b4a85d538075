"""Moderation: what moderators may ask, the state it leaves, and the audit
record of each action (docs/protocol.md, docs/operations.md).  No I/O here.

Moderators are ordinary broker accounts that the operator marked as such
(``edgechat credentials new --moderator``); their requests come on their own
``chat/out/{clientId}`` like anyone's, and the Router checks the role.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from edgechat.core import names
from edgechat.core.errors import ClientError, ErrorCode
from edgechat.core.lifecycle import Fields as _Fields

if TYPE_CHECKING:
    from edgechat.core.protocol import Limits

MAX_MUTE_MINUTES: Final = 7 * 24 * 60
MAX_BAN_MINUTES: Final = 365 * 24 * 60
AUDIT_MAX: Final = 200


@dataclass(frozen=True, slots=True)
class Mute:
    room: str
    client_id: str
    minutes: int
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class Unmute:
    room: str
    client_id: str
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class Ban:
    """Revoke ``client_id``'s credential and keep the address its session came
    from out for ``minutes`` (None: the Router's default, ``ban_hours``)."""

    client_id: str
    reason: str | None = None
    request_id: str | None = None
    minutes: int | None = None


@dataclass(frozen=True, slots=True)
class Unban:
    """Let the address ``client_id``'s session came from have sessions again
    (its revoked credential stays revoked)."""

    client_id: str
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class Lock:
    room: str
    locked: bool  # "lock" or "unlock"
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class Announce:
    """Pin ``text`` at the top of ``room`` (None: take the pinned one down)."""

    room: str
    text: str | None
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class Notice:
    """A line of text from a moderator to one client or to everyone in a room."""

    text: str
    room: str | None = None
    client_id: str | None = None
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class AppUpdate:
    """Tell every open app that a new version is served (it offers a reload)."""

    version: str | None = None
    note: str | None = None
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class AuditQuery:
    limit: int = 50
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class ConsoleQuery:
    """What the operator's console shows: rooms, who is here, rates, disk, sync."""

    request_id: str | None = None


ModRequest = Mute | Unmute | Ban | Unban | Lock | Announce | Notice | AppUpdate | AuditQuery | ConsoleQuery

TYPE_NAMES: Final[dict[type, str]] = {
    Mute: "mute",
    Unmute: "unmute",
    Ban: "ban",
    Unban: "unban",
    Lock: "lock",
    Announce: "announce",
    Notice: "notice",
    AppUpdate: "appUpdate",
    AuditQuery: "audit",
    ConsoleQuery: "console",
}


def _minutes(value: object, name: str, most: int = MAX_MUTE_MINUTES) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= most:
        raise ClientError(ErrorCode.INVALID_FIELD, f"{name}: 1-{most} minutes", field=name)
    return value


def _ban_minutes(value: object, name: str) -> int:
    return _minutes(value, name, MAX_BAN_MINUTES)


def _positive(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ClientError(ErrorCode.INVALID_FIELD, f"{name}: a positive integer", field=name)
    return value


def _short_text(limits: Limits) -> Any:
    return lambda v, n: names.text(v, min(limits.max_text_chars, 1000), n)


def build(kind: str, f: _Fields, limits: Limits, rid: str | None) -> ModRequest:
    match kind:
        case "mute":
            return Mute(
                f.required("room", names.room), f.required("clientId", names.client_id),
                f.required("minutes", _minutes), rid,
            )  # fmt: skip
        case "unmute":
            return Unmute(f.required("room", names.room), f.required("clientId", names.client_id), rid)
        case "ban":
            reason = f.optional("reason", _short_text(limits))
            minutes = f.optional("minutes", _ban_minutes)
            return Ban(f.required("clientId", names.client_id), reason, rid, minutes)
        case "unban":
            return Unban(f.required("clientId", names.client_id), rid)
        case "lock" | "unlock":
            return Lock(f.required("room", names.room), kind == "lock", rid)
        case "announce":
            return Announce(f.required("room", names.room), f.optional("text", _short_text(limits)), rid)
        case "notice":
            room = f.optional("room", names.room)
            client = f.optional("clientId", names.client_id)
            if (room is None) == (client is None):
                raise ClientError(ErrorCode.MISSING_FIELD, "room or clientId: give one", field="room")
            return Notice(f.required("text", _short_text(limits)), room, client, rid)
        case "appUpdate":
            version = f.optional("version", lambda v, n: names.text(v, 40, n))
            return AppUpdate(version, f.optional("note", _short_text(limits)), rid)
        case "audit":
            return AuditQuery(min(f.optional("limit", _positive) or 50, AUDIT_MAX), rid)
        case "console":
            return ConsoleQuery(rid)
    raise AssertionError(kind)  # pragma: no cover


KINDS: Final = frozenset(TYPE_NAMES.values()) | {"unlock"}


def type_name(request: ModRequest) -> str:
    if isinstance(request, Lock):
        return "lock" if request.locked else "unlock"
    return TYPE_NAMES[type(request)]


# --- state and audit ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Action:
    """One moderation action, as the audit log keeps it: who, what, when."""

    ts: int
    actor: str  # the moderator's client id (or "system" for the CLI)
    action: str  # delete, mute, unmute, ban, unban, lock, unlock, announce, unpin, notice
    target: str  # a client id, message id or room
    room: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ts": self.ts, "actor": self.actor, "action": self.action}
        out["target"] = self.target
        if self.room is not None:
            out["room"] = self.room
        if self.detail:
            out["detail"] = self.detail
        return out

    def detail_json(self) -> str | None:
        return json.dumps(self.detail, ensure_ascii=False, sort_keys=True) if self.detail else None


@dataclass(slots=True)
class ModerationState:
    """What moderation left in force: mutes (until when), locked rooms, pinned
    announcements.  Restored from the store when the Router starts."""

    mutes: dict[tuple[str, str], int] = field(default_factory=dict)  # (room, client) -> until ms
    locked: set[str] = field(default_factory=set)
    pinned: dict[str, dict[str, Any]] = field(default_factory=dict)  # room -> announcement event

    def muted_until(self, room: str, client_id: str, now_ms: int) -> int | None:
        until = self.mutes.get((room, client_id))
        if until is None:
            return None
        if until <= now_ms:
            del self.mutes[(room, client_id)]
            return None
        return until

    def apply(self, action: Action) -> None:
        """The state change an action makes (the store makes the same one)."""
        room = action.room or ""
        match action.action:
            case "mute":
                self.mutes[(room, action.target)] = int(action.detail["untilTs"])
            case "unmute":
                self.mutes.pop((room, action.target), None)
            case "lock":
                self.locked.add(room)
            case "unlock":
                self.locked.discard(room)
            case "announce":
                self.pinned[room] = dict(action.detail["announcement"])
            case "unpin":
                self.pinned.pop(room, None)


def not_a_moderator(kind: str) -> ClientError:
    return ClientError(ErrorCode.NOT_ALLOWED, f"{kind}: moderators only")
