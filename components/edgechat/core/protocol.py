"""The wire protocol: client requests in, events out (docs/protocol.md).

Requests arrive as JSON objects on ``chat/out/{clientId}``.  ``parse_request``
turns raw bytes into one frozen request type or raises a ``ClientError``; it never
raises anything else, whatever the bytes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from edgechat.core import attachments as pictures
from edgechat.core import lifecycle, moderation, names
from edgechat.core.attachments import Attachment
from edgechat.core.errors import ChatError, ClientError, ErrorCode

REQUEST_ID_FIELD: Final = "requestId"


@dataclass(frozen=True, slots=True)
class Limits:
    """Sizes a request may have; the same numbers are published in ``welcome``."""

    max_payload_bytes: int = 16 * 1024
    max_text_chars: int = 4000
    history_default: int = 50
    history_max: int = 200
    # Largest event the system publishes: the broker refuses (and disconnects
    # for) packets over its max_packet_bytes, so long pages are cut to fit.
    max_event_bytes: int = 56 * 1024

    def to_json(self) -> dict[str, int]:
        return {
            "maxPayloadBytes": self.max_payload_bytes,
            "maxTextChars": self.max_text_chars,
            "historyDefault": self.history_default,
            "historyMax": self.history_max,
        }


@dataclass(frozen=True, slots=True)
class Hello:
    nick: str | None = None
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class Join:
    room: str
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class Leave:
    room: str
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class Bye:
    """Leaving every room: a polite goodbye, or the client's MQTT Last Will."""

    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class SendMessage:
    id: str
    room: str
    text: str
    reply_to: str | None = None
    request_id: str | None = None
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True, slots=True)
class History:
    """A page of a room's history: ``before`` pages back (newest first),
    ``after`` fetches what was missed (oldest first); both are room sequences."""

    room: str
    before: int | None = None
    after: int | None = None
    limit: int = 50
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class ListRooms:
    request_id: str | None = None


Request = (
    Hello | Join | Leave | Bye | SendMessage | History | ListRooms
    | lifecycle.Edit | lifecycle.Delete | moderation.ModRequest
)  # fmt: skip

_TYPE_NAMES: Final[dict[type, str]] = {
    Hello: "hello",
    Join: "join",
    Leave: "leave",
    Bye: "bye",
    SendMessage: "message",
    History: "history",
    ListRooms: "rooms",
}


_TYPE_NAMES.update({lifecycle.Edit: "edit", lifecycle.Delete: "delete"})
_KNOWN_TYPES: Final = frozenset(_TYPE_NAMES.values()) | moderation.KINDS


def request_type(request: Request) -> str:
    """The wire ``type`` of a parsed request."""
    if isinstance(request, moderation.Lock):
        return moderation.type_name(request)
    return _TYPE_NAMES[type(request)]


@dataclass(frozen=True, slots=True)
class Message:
    """An accepted chat message, stamped by the site that accepted it.

    ``seq`` is this site's per-room sequence number, given by the store when the
    message is first stored (0 until then).
    """

    id: str
    room: str
    text: str
    client_id: str
    nick: str
    ts: int
    order_key: str
    site: str
    reply_to: str | None = None
    seq: int = 0
    attachments: tuple[Attachment, ...] = ()
    # Set by the store from the message's revisions (core/lifecycle.py).
    edited: bool = False
    deleted: bool = False

    def to_event(self) -> dict[str, Any]:
        event: dict[str, Any] = {
            "type": "message",
            "id": self.id,
            "room": self.room,
            "seq": self.seq,
            "ts": self.ts,
            "orderKey": self.order_key,
            "site": self.site,
            "clientId": self.client_id,
            "nick": self.nick,
            "text": self.text,
        }
        if self.reply_to is not None:
            event["replyTo"] = self.reply_to
        if self.edited:
            event["edited"] = True
        if self.deleted:
            event["deleted"] = True
        if self.attachments:
            event["attachments"] = [a.to_json() for a in self.attachments]
        return event


@dataclass(frozen=True, slots=True)
class Member:
    client_id: str
    nick: str

    def to_json(self) -> dict[str, str]:
        return {"clientId": self.client_id, "nick": self.nick}


@dataclass(frozen=True, slots=True)
class RoomInfo:
    room: str
    last_seq: int
    last_ts: int
    members: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "room": self.room,
            "lastSeq": self.last_seq,
            "lastTs": self.last_ts,
            "members": self.members,
        }


_ENCODER: Final = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def encode(event: dict[str, Any]) -> bytes:
    # One encoder made once: json.dumps with options builds a new one per call.
    return _ENCODER.encode(event).encode()


# --- parsing -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Fields:
    """Typed access to a request's JSON object; every miss is a ClientError."""

    raw: dict[str, Any]

    def required(self, name: str, check: Callable[[object, str], Any]) -> Any:
        if name not in self.raw:
            raise ClientError(ErrorCode.MISSING_FIELD, f"{name}: required", field=name)
        return check(self.raw[name], name)

    def optional(self, name: str, check: Callable[[object, str], Any]) -> Any:
        value = self.raw.get(name)
        return None if value is None else check(value, name)


def _seq(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0 or value > 2**53:
        raise ClientError(ErrorCode.INVALID_FIELD, f"{name}: a non-negative integer", field=name)
    return value


def _request_id(value: object, name: str) -> str:
    return names.client_id(value, name)


def _parse_object(payload: bytes, limits: Limits) -> dict[str, Any]:
    if len(payload) > limits.max_payload_bytes:
        raise ClientError(
            ErrorCode.TOO_LARGE,
            f"payload is {len(payload)} bytes; at most {limits.max_payload_bytes}",
        )
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ClientError(ErrorCode.BAD_UTF8, f"payload is not UTF-8 ({exc.reason})") from None
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ClientError(ErrorCode.BAD_JSON, f"payload is not JSON: {exc}"[:200]) from None
    if not isinstance(obj, dict):
        raise ClientError(ErrorCode.NOT_AN_OBJECT, "payload must be a JSON object")
    return obj


def parse_request(payload: bytes, limits: Limits) -> Request:
    """Bytes from ``chat/out/{clientId}`` to a request, or a ``ClientError``."""
    obj = _parse_object(payload, limits)
    kind = obj.get("type")
    ref = obj.get(REQUEST_ID_FIELD) if kind not in ("message", "edit", "delete") else obj.get("id")
    ref = ref if isinstance(ref, str) and names.CLIENT_ID_RE.fullmatch(ref) else None
    # Echo only what we know is clean: the input may hold anything, even lone
    # surrogates that cannot be encoded back into UTF-8.
    kind_name = kind if isinstance(kind, str) and kind in _KNOWN_TYPES else None
    try:
        return _build(kind, _Fields(obj), limits)
    except ChatError as exc:
        raise exc.about(kind_name, ref) from None


def _build(kind: object, f: _Fields, limits: Limits) -> Request:
    rid = f.optional(REQUEST_ID_FIELD, _request_id)
    match kind:
        case "message":
            attached = f.optional("attachments", pictures.attachments) or ()
            # A picture may come without words: then the text may be empty or left out.
            wordless = bool(attached) and f.raw.get("text") in ("", None)
            return SendMessage(
                id=f.required("id", names.message_id),
                room=f.required("room", names.room),
                text=""
                if wordless
                else f.required("text", lambda v, n: names.text(v, limits.max_text_chars, n)),
                reply_to=f.optional("replyTo", names.message_id),
                request_id=rid,
                attachments=attached,
            )
        case "hello":
            return Hello(nick=f.optional("nick", names.nick), request_id=rid)
        case "join":
            return Join(room=f.required("room", names.room), request_id=rid)
        case "leave":
            return Leave(room=f.required("room", names.room), request_id=rid)
        case "bye":
            return Bye(request_id=rid)
        case "history":
            before = f.optional("before", _seq)
            after = f.optional("after", _seq)
            if before is not None and after is not None:
                raise ClientError(
                    ErrorCode.INVALID_FIELD, "before and after: give one, not both", field="after"
                )
            limit = f.optional("limit", _seq)
            limit = limits.history_default if limit is None else max(1, min(limit, limits.history_max))
            return History(
                room=f.required("room", names.room),
                before=before,
                after=after,
                limit=limit,
                request_id=rid,
            )
        case "edit":
            return lifecycle.build_edit(f, limits, rid)
        case "delete":
            return lifecycle.build_delete(f, limits, rid)
        case str() if kind in moderation.KINDS:
            return moderation.build(kind, f, limits, rid)
        case "rooms":
            return ListRooms(request_id=rid)
        case None:
            raise ClientError(ErrorCode.MISSING_FIELD, "type: required", field="type")
        case str():
            raise ClientError(ErrorCode.UNKNOWN_TYPE, f"unknown request type {kind[:32]!r}", field="type")
        case _:
            raise ClientError(ErrorCode.INVALID_FIELD, "type: must be a string", field="type")
