"""High-volume events on ``chat/stream/{clientId}``, pure (docs/stream.md).

Typing indicators, reactions, read marks and device readings: parsed once into
frozen events (``parse_event``, typed ``ClientError`` otherwise), admitted by a
token bucket per client sized for high volume (``Gate``), then folded into one
``RoomBatch`` per room per micro-batch window.  The edge Stream component and
the cloud StreamFunction use the same functions; the edge also keeps who is
typing across windows (``TypingBoard``).  No I/O, no clock: time is passed in.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final

from edgechat.core import names
from edgechat.core.errors import ClientError, ErrorCode, RateLimited
from edgechat.core.protocol import Limits, _Fields, _parse_object
from edgechat.core.ratelimit import Bucket, RateLimit

TYPES: Final = ("typing", "reaction", "read", "reading", "reactions")
SENSOR_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}")
MAX_EMOJI_CHARS: Final = 16
MAX_UNIT_CHARS: Final = 16


@dataclass(frozen=True, slots=True)
class StreamLimits:
    """Sizes and rates for stream events (published in docs/protocol.md)."""

    max_payload_bytes: int = 1024
    # A client repeats ``typing`` every few seconds while typing; it counts as
    # typing until this long after the last one.
    typing_ttl_ms: int = 6000
    # Per client: a device may send tens of readings a second; a browser a few
    # typing/reaction events.  The burst absorbs a reconnect's backlog.
    rate: RateLimit = field(default_factory=lambda: RateLimit(per_second=50.0, burst=200))
    # How much of a room's reaction table one ``reactions`` query returns.
    max_reaction_rows: int = 2000


# --- events ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Typing:
    room: str
    active: bool = True


@dataclass(frozen=True, slots=True)
class Reaction:
    """``client`` adds (or removes) ``emoji`` on a message: a set, so resending is harmless."""

    room: str
    message_id: str
    emoji: str
    remove: bool = False


@dataclass(frozen=True, slots=True)
class Read:
    room: str
    seq: int


@dataclass(frozen=True, slots=True)
class Reading:
    room: str
    sensor: str
    value: float
    unit: str | None = None


@dataclass(frozen=True, slots=True)
class ReactionsQuery:
    """Asks for a room's reaction counts (a client that just joined)."""

    room: str


StreamEvent = Typing | Reaction | Read | Reading | ReactionsQuery

_WIRE_TYPES: Final[dict[type, str]] = {
    Typing: "typing", Reaction: "reaction", Read: "read", Reading: "reading", ReactionsQuery: "reactions",
}  # fmt: skip


def event_type(event: StreamEvent) -> str:
    return _WIRE_TYPES[type(event)]


def to_json(event: StreamEvent) -> dict[str, Any]:
    """The normalized wire form (what is exported: parsed, so always valid)."""
    out: dict[str, Any] = {"type": event_type(event), "room": event.room}
    match event:
        case Typing(active=active):
            out["active"] = active
        case Reaction(message_id=mid, emoji=emoji, remove=remove):
            out |= {"messageId": mid, "emoji": emoji}
            if remove:
                out["remove"] = True
        case Read(seq=seq):
            out["seq"] = seq
        case Reading(sensor=sensor, value=value, unit=unit):
            out |= {"sensor": sensor, "value": value}
            if unit is not None:
                out["unit"] = unit
    return out


def _bool(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise ClientError(ErrorCode.INVALID_FIELD, f"{name}: true or false", field=name)
    return value


def _label(value: object, name: str, max_chars: int) -> str:
    """A short display label (an emoji, a unit): NFC, no controls, no blanks."""
    if not isinstance(value, str):
        raise ClientError(ErrorCode.INVALID_FIELD, f"{name}: must be a string", field=name)
    text = unicodedata.normalize("NFC", value)
    if not text.strip() or len(text) > max_chars:
        raise ClientError(ErrorCode.INVALID_FIELD, f"{name}: 1-{max_chars} characters", field=name)
    if any(unicodedata.category(c) in ("Cc", "Cs", "Co", "Zl", "Zp") for c in text) or any(
        c in text for c in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
    ):
        raise ClientError(ErrorCode.INVALID_FIELD, f"{name}: no control characters", field=name)
    return text


def _sensor(value: object, name: str) -> str:
    if not isinstance(value, str) or not SENSOR_RE.fullmatch(value):
        why = "1-32 characters from A-Z a-z 0-9 _ . -, starting with a letter or digit"
        raise ClientError(ErrorCode.INVALID_FIELD, f"{name}: {why}", field=name)
    return value


def _number(value: object, name: str) -> float:
    # json.loads accepts NaN and Infinity: neither is a reading.
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ClientError(ErrorCode.INVALID_FIELD, f"{name}: a finite number", field=name)
    if abs(value) > 1e15:
        raise ClientError(ErrorCode.INVALID_FIELD, f"{name}: at most 1e15 in size", field=name)
    return float(value)


def _seq(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 2**53:
        raise ClientError(ErrorCode.INVALID_FIELD, f"{name}: a non-negative integer", field=name)
    return value


def parse_event(payload: bytes, limits: StreamLimits) -> StreamEvent:
    """Bytes from ``chat/stream/{clientId}`` to an event, or a ``ClientError``
    (never anything else, whatever the bytes)."""
    obj = _parse_object(payload, Limits(max_payload_bytes=limits.max_payload_bytes))
    kind = obj.get("type")
    f = _Fields(obj)
    try:
        match kind:
            case "typing":
                active = f.optional("active", _bool)
                return Typing(f.required("room", names.room), True if active is None else active)
            case "reaction":
                return Reaction(
                    room=f.required("room", names.room),
                    message_id=f.required("messageId", names.message_id),
                    emoji=f.required("emoji", lambda v, n: _label(v, n, MAX_EMOJI_CHARS)),
                    remove=bool(f.optional("remove", _bool)),
                )
            case "read":
                return Read(f.required("room", names.room), f.required("seq", _seq))
            case "reading":
                return Reading(
                    room=f.required("room", names.room),
                    sensor=f.required("sensor", _sensor),
                    value=f.required("value", _number),
                    unit=f.optional("unit", lambda v, n: _label(v, n, MAX_UNIT_CHARS)),
                )
            case "reactions":
                return ReactionsQuery(f.required("room", names.room))
            case None:
                raise ClientError(ErrorCode.MISSING_FIELD, "type: required", field="type")
            case str():
                raise ClientError(
                    ErrorCode.UNKNOWN_TYPE, f"unknown stream event type {kind[:32]!r}", field="type"
                )
            case _:
                raise ClientError(ErrorCode.INVALID_FIELD, "type: must be a string", field="type")
    except ClientError as exc:
        raise exc.about(kind if isinstance(kind, str) and kind in TYPES else None, None) from None


# --- admission ------------------------------------------------------------------


@dataclass(slots=True)
class _Sender:
    bucket: Bucket
    quiet_until_ms: int = 0  # no second rate_limited error before this


class Gate:
    """A token bucket per client.  A flooding client gets one ``rate_limited``
    error per wait, not one per dropped event (that would double the flood)."""

    def __init__(self, rate: RateLimit) -> None:
        self.rate = rate
        self._senders: dict[str, _Sender] = {}

    def admit(self, client_id: str, now_ms: int) -> tuple[bool, RateLimited | None]:
        """(passes, the error to send the client or None)."""
        sender = self._senders.get(client_id)
        if sender is None:
            sender = self._senders[client_id] = _Sender(Bucket.full(self.rate, now_ms))
        sender.bucket, wait_ms = sender.bucket.take(self.rate, now_ms)
        if not wait_ms:
            return True, None
        if now_ms < sender.quiet_until_ms:
            return False, None  # already told to wait
        sender.quiet_until_ms = now_ms + wait_ms
        return False, RateLimited(wait_ms)

    def prune(self, now_ms: int) -> int:
        """Forget clients whose bucket has refilled: they start full again anyway."""
        idle = [c for c, s in self._senders.items() if s.bucket.is_full(self.rate, now_ms)]
        for c in idle:
            del self._senders[c]
        return len(idle)

    def __len__(self) -> int:
        return len(self._senders)


# --- micro-batches --------------------------------------------------------------


@dataclass(slots=True)
class ReadingStats:
    """One device's one sensor over a window: latest, min, max, mean."""

    client_id: str
    sensor: str
    unit: str | None
    count: int = 0
    total: float = 0.0
    low: float = math.inf
    high: float = -math.inf
    latest: float = 0.0
    latest_ms: int = 0

    def add(self, value: float, at_ms: int, unit: str | None) -> None:
        self.count += 1
        self.total += value
        self.low = min(self.low, value)
        self.high = max(self.high, value)
        self.latest, self.latest_ms = value, at_ms
        if unit is not None:
            self.unit = unit

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "clientId": self.client_id, "sensor": self.sensor, "count": self.count,
            "latest": self.latest, "min": self.low, "max": self.high,
            "avg": round(self.total / self.count, 6), "ts": self.latest_ms,
        }  # fmt: skip
        if self.unit is not None:
            out["unit"] = self.unit
        return out


@dataclass(frozen=True, slots=True)
class ReactionChange:
    client_id: str
    message_id: str
    emoji: str
    remove: bool


@dataclass(slots=True)
class RoomBatch:
    """What one room's events in one window add up to."""

    room: str
    typing: dict[str, tuple[bool, int]] = field(default_factory=dict)  # client -> (active, at)
    reactions: list[ReactionChange] = field(default_factory=list)  # in arrival order
    reads: dict[str, int] = field(default_factory=dict)  # client -> highest seq
    readings: dict[tuple[str, str], ReadingStats] = field(default_factory=dict)
    events: int = 0

    def add(self, client_id: str, event: StreamEvent, at_ms: int) -> None:
        self.events += 1
        match event:
            case Typing(active=active):
                self.typing[client_id] = (active, at_ms)
            case Reaction(message_id=mid, emoji=emoji, remove=remove):
                self.reactions.append(ReactionChange(client_id, mid, emoji, remove))
            case Read(seq=seq):
                self.reads[client_id] = max(seq, self.reads.get(client_id, 0))
            case Reading(sensor=sensor, value=value, unit=unit):
                key = (client_id, sensor)
                stats = self.readings.get(key)
                if stats is None:
                    stats = self.readings[key] = ReadingStats(client_id, sensor, unit)
                stats.add(value, at_ms, unit)

    def touched_messages(self) -> list[str]:
        return sorted({c.message_id for c in self.reactions})


def batch_by_room(events: Iterable[tuple[str, StreamEvent, int]]) -> dict[str, RoomBatch]:
    """(client, event, at) in arrival order -> one batch per room (queries are skipped)."""
    rooms: dict[str, RoomBatch] = {}
    for client_id, event, at_ms in events:
        if isinstance(event, ReactionsQuery):
            continue
        batch = rooms.get(event.room)
        if batch is None:
            batch = rooms[event.room] = RoomBatch(event.room)
        batch.add(client_id, event, at_ms)
    return rooms


# Reaction counts: each (message, emoji) counts the clients that hold it.
ReactionKey = tuple[str, str, str]  # (message id, emoji, client)


def apply_reactions(held: set[ReactionKey], changes: Iterable[ReactionChange]) -> set[ReactionKey]:
    """The reaction set after ``changes``, in order (the in-memory store; the
    SQLite and DynamoDB ones do the same with INSERT OR IGNORE / DELETE)."""
    out = set(held)
    for c in changes:
        key = (c.message_id, c.emoji, c.client_id)
        if c.remove:
            out.discard(key)
        else:
            out.add(key)
    return out


def count_reactions(
    held: Iterable[ReactionKey], message_ids: Iterable[str] | None = None
) -> dict[str, dict[str, int]]:
    wanted = None if message_ids is None else set(message_ids)
    counts: dict[str, dict[str, int]] = {}
    for mid, emoji, _client in held:
        if wanted is None or mid in wanted:
            per = counts.setdefault(mid, {})
            per[emoji] = per.get(emoji, 0) + 1
    return counts


def reactions_json(counts: dict[str, dict[str, int]], touched: Iterable[str]) -> list[dict[str, Any]]:
    """Counts for every touched message: one that lost its last reaction is
    listed with no counts, so a client clears it."""
    return [
        {"messageId": mid, "counts": dict(sorted(counts.get(mid, {}).items()))}
        for mid in sorted(set(touched))
    ]


# --- who is typing, across windows ----------------------------------------------


class TypingBoard:
    """Who is typing in each room, each until ``typing_ttl_ms`` after their last
    ``typing``.  ``update`` returns the rooms whose list changed."""

    def __init__(self, ttl_ms: int) -> None:
        self.ttl_ms = ttl_ms
        self._rooms: dict[str, dict[str, int]] = {}  # room -> client -> until

    def update(self, batches: Iterable[RoomBatch], now_ms: int) -> set[str]:
        changed: set[str] = set()
        for batch in batches:
            for client_id, (active, at_ms) in batch.typing.items():
                room = self._rooms.setdefault(batch.room, {})
                was = client_id in room
                if active and at_ms + self.ttl_ms > now_ms:
                    room[client_id] = at_ms + self.ttl_ms
                    if not was:
                        changed.add(batch.room)
                elif was:
                    del room[client_id]
                    changed.add(batch.room)
        return changed | self.expire(now_ms)

    def expire(self, now_ms: int) -> set[str]:
        changed: set[str] = set()
        for room, who in list(self._rooms.items()):
            gone = [c for c, until in who.items() if until <= now_ms]
            for c in gone:
                del who[c]
            if gone:
                changed.add(room)
            if not who:
                del self._rooms[room]
        return changed

    def typing(self, room: str, now_ms: int) -> list[dict[str, Any]]:
        """Who types in ``room``, with how long each still counts (clients expire
        them by themselves: an update that would remove them may be lost)."""
        who = self._rooms.get(room, {})
        return [
            {"clientId": c, "expiresInMs": until - now_ms}
            for c, until in sorted(who.items())
            if until > now_ms
        ]

    def next_expiry(self) -> int | None:
        return min((u for who in self._rooms.values() for u in who.values()), default=None)


# --- what is published -----------------------------------------------------------


def activity_event(
    batch: RoomBatch | None,
    room: str,
    *,
    typing: list[dict[str, Any]] | None = None,
    reactions: list[dict[str, Any]] | None = None,
    ts: int,
) -> dict[str, Any] | None:
    """One ``activity`` event on ``chat/pub/{room}``; None when nothing to say."""
    event: dict[str, Any] = {"type": "activity", "room": room, "ts": ts}
    if typing is not None:
        event["typing"] = typing
    if reactions:
        event["reactions"] = reactions
    if batch is not None and batch.reads:
        event["reads"] = [{"clientId": c, "seq": s} for c, s in sorted(batch.reads.items())]
    if batch is not None and batch.readings:
        event["readings"] = [s.to_json() for _, s in sorted(batch.readings.items())]
    return event if len(event) > 3 else None


# --- the edge's window: parse, admit, gather ---------------------------------------


@dataclass(slots=True)
class Window:
    """One micro-batch: a batch per room, and the rooms whose typing list changed."""

    batches: dict[str, RoomBatch]
    typing_changed: set[str]
    accepted: list[tuple[str, StreamEvent, int]]

    def rooms(self) -> list[str]:
        return sorted(set(self.batches) | self.typing_changed)


class Batcher:
    """The edge Stream's rules: ``receive`` each payload as it comes, ``take``
    a window every few hundred milliseconds."""

    def __init__(self, limits: StreamLimits) -> None:
        self.limits = limits
        self.gate = Gate(limits.rate)
        self.board = TypingBoard(limits.typing_ttl_ms)
        self._pending: list[tuple[str, StreamEvent, int]] = []

    def receive(
        self, client_id: str, payload: bytes, now_ms: int
    ) -> tuple[StreamEvent | None, dict[str, Any] | None]:
        """(the accepted event or None, the error event for the sender or None)."""
        passes, limited = self.gate.admit(client_id, now_ms)
        if not passes:
            return None, None if limited is None else limited.to_event()
        try:
            event = parse_event(payload, self.limits)
        except ClientError as exc:
            return None, exc.to_event()
        if not isinstance(event, ReactionsQuery):
            self._pending.append((client_id, event, now_ms))
        return event, None

    def take(self, now_ms: int) -> Window:
        accepted, self._pending = self._pending, []
        batches = batch_by_room(accepted)
        changed = self.board.update(batches.values(), now_ms)
        return Window(batches, changed, accepted)

    @property
    def pending(self) -> int:
        return len(self._pending)

    def activity(
        self, window: Window, room: str, counts: dict[str, dict[str, int]], now_ms: int
    ) -> dict[str, Any] | None:
        """The ``activity`` event for ``room`` after this window (``counts``: the
        stored reaction counts of the messages this window touched)."""
        batch = window.batches.get(room)
        typing = self.board.typing(room, now_ms) if room in window.typing_changed else None
        reactions = reactions_json(counts, batch.touched_messages()) if batch else None
        return activity_event(batch, room, typing=typing, reactions=reactions, ts=now_ms)
