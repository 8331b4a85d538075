"""Sync's decisions, pure: what to send up, what to inject, when a cursor moves.

The shell (``edgechat.sync.service``) feeds in what happens (connected, a row
batch read from the outbox, a message from the cloud, the Router's answer, the
time) and carries out the effects.  Nothing here does I/O or reads a clock.

Up: the outbox is read past ``sent_upto`` and sent in batches of at most
``batch_size`` (and of at most ``max_batch_bytes`` JSON), ``max_in_flight``
batches at a time.  Only the cloud's ``synced`` retires rows.  A batch without
an answer within ``ack_timeout_ms`` makes everything unacknowledged go again
from the start of the outbox after a backoff (the cloud's ingest is idempotent).

Down (docs/sync.md): per room, ``cursor`` is the highest cloud seq up to which
every message is stored here (durable), ``high`` the highest handed to the
Router so far.  A live message with ``seq == high + 1`` is injected; a larger
one means a gap: backfill after ``high``; a smaller one is old news.  While a
backfill runs, live messages of that room are left to it; when its last page is
in and a later seq was seen meanwhile, it runs again.  The cursor moves only
when the Router says the messages are committed, in the order injected; a
failed or unanswered injection rewinds ``high`` to the cursor and backfills.

Edits and deletes (revisions) have the same machinery, a second stream per
room: the cloud numbers them with ``revSeq``; a live one with the next number
is injected, a gap asks for ``revisions`` after ``high``, and the revision
cursor moves when the Router has stored them.  A room's two cursors are
independent: a revision whose message is not here yet is stored early and
merged when the message comes.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from edgechat.core.lifecycle import Revision
from edgechat.core.protocol import Message

# Edits and deletes on ``chat/pub/<room>`` (core/lifecycle.py): numbered by the cloud's
# ``revSeq``, merged in any order.
REVISION_EVENTS = ("messageEdited", "messageRemoved")


@dataclass(frozen=True, slots=True)
class _Stream:
    """What differs between a room's messages and its revisions."""

    request: str  # the up request that pages it
    seq_key: str  # the cloud's number in each event
    last_key: str  # the cloud's last number in ``roomsState``


MESSAGES = _Stream("backfill", "seq", "lastSeq")
REVISIONS = _Stream("revisions", "revSeq", "lastRevSeq")


@dataclass(frozen=True, slots=True)
class SyncConfig:
    batch_size: int = 100  # the cloud takes at most 100 messages per batch
    max_batch_bytes: int = 120 * 1024  # IoT Core's payload limit is 128 KB
    max_in_flight: int = 4
    ack_timeout_ms: int = 30_000
    backoff_min_ms: int = 500
    backoff_max_ms: int = 60_000
    backfill_limit: int = 200
    backfill_timeout_ms: int = 20_000
    inject_timeout_ms: int = 30_000
    max_inject_bytes: int = 48 * 1024  # the edge broker's packets are at most 64 KiB
    rooms_every_ms: int = 300_000  # a full check even when nothing looks missing


# --- effects ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SendUp:
    """Publish ``body`` on ``sync/<thing>/up``."""

    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class InjectMessages:
    """Hand ``messages`` (cloud events) and ``revisions`` (their edits and
    deletes) to the Router on ``edgechat/sync/in``."""

    request_id: str
    messages: list[dict[str, Any]]
    revisions: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class RetireOutbox:
    """The cloud has these ids (messages; ``revisions``: edits and deletes):
    delete them from the outbox."""

    ids: list[str]
    revisions: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class SaveCursors:
    cursors: dict[str, int]
    revisions: dict[str, int] = field(default_factory=dict)  # the rooms' revision cursors


Effect = SendUp | InjectMessages | RetireOutbox | SaveCursors


# --- state -----------------------------------------------------------------------


@dataclass(slots=True)
class _Batch:
    ids: list[str]
    last_n: int
    sent_ms: int


@dataclass(slots=True)
class _Room:
    cursor: int = 0
    high: int = 0
    seen: int = 0
    fetching: str | None = None  # the backfill request waiting for its page
    fetch_ms: int = 0
    fetch_timeouts: int = 0  # in a row: each doubles the wait for the next page
    # Recent backfill requests and their ``after``: a late page still counts if
    # it was asked after no more than ``high`` (it then covers everything past it).
    asked: dict[str, int] = field(default_factory=dict)
    # Injections not yet confirmed, in order: [request id, high after it, done].
    waiting: deque[list[Any]] = field(default_factory=deque)
    # Live messages accepted (``high`` counts them) and not yet handed over:
    # a burst goes to the Router as one request (``flush``).
    live: list[dict[str, Any]] = field(default_factory=list)
    stream: _Stream = MESSAGES


@dataclass(slots=True)
class SyncCounters:
    sent: int = 0  # messages sent up (resends included)
    acked: int = 0  # outbox rows retired by the cloud's answer
    rejected: int = 0  # messages the cloud refused for good
    received: int = 0  # messages from the cloud handed to the Router
    backfills: int = 0
    timeouts: int = 0
    ack_ms: int = 0  # the last batch's round trip to the cloud's answer


def _seq(event: Any, key: str = "seq") -> int | None:
    seq = event.get(key) if isinstance(event, dict) else None
    return seq if isinstance(seq, int) and not isinstance(seq, bool) and seq > 0 else None


def _ids(items: Any) -> list[str]:
    """The ``id`` of each object in a list from the cloud (anything else skipped)."""
    if not isinstance(items, list):
        return []
    return [i["id"] for i in items if isinstance(i, dict) and isinstance(i.get("id"), str)]


def _chunks(events: list[dict[str, Any]], budget: int) -> list[list[dict[str, Any]]]:
    """Consecutive runs of ``events`` whose JSON fits ``budget`` bytes (one at least)."""
    out: list[list[dict[str, Any]]] = []
    size = budget
    for event in events:
        length = len(json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()) + 1
        if size + length > budget:
            out.append([])
            size = 0
        out[-1].append(event)
        size += length
    return out


def _room(event: Any) -> str | None:
    room = event.get("room") if isinstance(event, dict) else None
    return room if isinstance(room, str) and room else None


class SyncCore:
    def __init__(
        self, config: SyncConfig, cursors: dict[str, int], id_prefix: str,
        revision_cursors: dict[str, int] | None = None,
    ) -> None:  # fmt: skip
        """``cursors`` (messages) and ``revision_cursors`` as stored; ``id_prefix``
        makes request and batch ids unique across restarts (a few random characters)."""
        self.config = config
        self.rooms: dict[str, _Room] = {r: _Room(c, c, c) for r, c in cursors.items()}
        self.revs: dict[str, _Room] = {
            r: _Room(c, c, c, stream=REVISIONS) for r, c in (revision_cursors or {}).items()
        }
        self.connected = False
        self.counters = SyncCounters()
        self.last_contact_ms: int | None = None
        self._prefix = id_prefix
        self._counter = 0
        self._in_flight: dict[str, _Batch] = {}
        # Batches allowed in flight: back to one after a timeout (a slow cloud
        # must not get every batch again at once), one more per answer.
        self._window = config.max_in_flight
        self._sent_upto = 0
        self._backoff_ms = 0
        self._not_before_ms = 0
        self._injects: dict[str, tuple[str, _Room]] = {}  # request id -> its room
        self._inject_ms: dict[str, int] = {}
        self._rooms_request: str | None = None
        self._rooms_ms: int | None = None
        # Set when the cloud stopped answering; its next word means the link is
        # back (under Greengrass, IPC does not say when the nucleus reconnects).
        self._silent = False
        # Live edits and deletes for the Router, and those handed over, unanswered.
        self._revisions: list[dict[str, Any]] = []
        self._revision_injects: dict[str, tuple[list[dict[str, Any]], int]] = {}

    def _next_id(self, kind: str) -> str:
        self._counter += 1
        return f"{kind}-{self._prefix}-{self._counter}"

    def _room_state(self, room: str, stream: _Stream = MESSAGES) -> _Room:
        if stream is REVISIONS:
            return self.revs.setdefault(room, _Room(stream=REVISIONS))
        return self.rooms.setdefault(room, _Room())

    def _streams(self) -> list[tuple[str, _Room]]:
        """Every room's two streams, messages first."""
        return [*self.rooms.items(), *self.revs.items()]

    # -- connection

    def on_connected(self, now_ms: int) -> list[Effect]:
        """(Re)connected to the cloud: resend what was unanswered, ask where every room is."""
        self.connected = True
        self._in_flight.clear()
        self._sent_upto = 0
        self._not_before_ms = 0
        for _, r in self._streams():
            r.fetching = None
        return self._ask_rooms(now_ms)

    def on_disconnected(self) -> None:
        self.connected = False

    def _ask_rooms(self, now_ms: int) -> list[Effect]:
        self._rooms_request = self._next_id("rooms")
        self._rooms_ms = now_ms
        return [SendUp({"type": "rooms", "requestId": self._rooms_request})]

    # -- up: the outbox

    def outbox_wanted(self, now_ms: int) -> tuple[int, int] | None:
        """(after, limit) to read from the outbox now, or None to send nothing."""
        free = self._window - len(self._in_flight)
        if not self.connected or free <= 0 or now_ms < self._not_before_ms:
            return None
        return self._sent_upto, free * self.config.batch_size

    def outbox_passed(self, upto: int) -> None:
        """Rows up to ``upto`` were dealt with without being sent (set aside to
        wait for their pictures, docs/sync.md): read on from there.  A resend
        from the start (timeout, reconnect) reads them again."""
        self._sent_upto = max(self._sent_upto, upto)

    def outbox_read(self, rows: list[tuple[int, Message | Revision]], now_ms: int) -> list[Effect]:
        """Batches to send from the rows read for ``outbox_wanted``: messages and
        revisions (edits, deletes) in outbox order, counted together."""
        effects: list[Effect] = []
        budget = self.config.max_batch_bytes - 100
        batch: list[tuple[int, dict[str, Any]]] = []
        size = 0
        for n, item in rows:
            event = item.to_event()
            event.pop("seq", None)  # this site's seq means nothing elsewhere
            length = len(json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()) + 1
            if batch and (len(batch) >= self.config.batch_size or size + length > budget):
                effects.append(self._send_batch(batch, now_ms))
                batch, size = [], 0
            batch.append((n, event))
            size += length
        if batch:
            effects.append(self._send_batch(batch, now_ms))
        return effects

    def _send_batch(self, batch: list[tuple[int, dict[str, Any]]], now_ms: int) -> SendUp:
        batch_id = self._next_id("b")
        self._in_flight[batch_id] = _Batch([e["id"] for _, e in batch], batch[-1][0], now_ms)
        self._sent_upto = max(self._sent_upto, batch[-1][0])
        self.counters.sent += len(batch)
        messages = [e for _, e in batch if e["type"] == "message"]
        body: dict[str, Any] = {"type": "sync", "batchId": batch_id, "messages": messages}
        revisions = [e for _, e in batch if e["type"] in REVISION_EVENTS]
        if revisions:  # the cloud stores the messages first, then these
            body["revisions"] = revisions
        return SendUp(body)

    def _on_synced(self, body: dict[str, Any], now_ms: int) -> list[Effect]:
        batch = self._in_flight.pop(str(body.get("batchId")), None)
        if batch is not None:
            self._window = min(self._window + 1, self.config.max_in_flight)
            self.counters.ack_ms = now_ms - batch.sent_ms
        self._backoff_ms = 0
        ids = _ids(body.get("accepted"))
        # A message the cloud refuses can never be accepted: resending it forever helps no one.
        refused = _ids(body.get("rejected"))
        revs = body.get("revisions") if isinstance(body.get("revisions"), dict) else {}
        rev_ids, rev_refused = _ids(revs.get("accepted")), _ids(revs.get("rejected"))
        self.counters.acked += len(ids) + len(rev_ids)
        self.counters.rejected += len(refused) + len(rev_refused)
        if not (ids or refused or rev_ids or rev_refused):
            return []
        return [RetireOutbox(ids + refused, rev_ids + rev_refused)]

    # -- down: messages from the cloud

    def on_cloud(self, body: Any, now_ms: int) -> list[Effect]:
        """A message on ``sync/<thing>/down`` or ``chat/pub/+`` from the cloud."""
        if not isinstance(body, dict):
            return []
        self.last_contact_ms = now_ms
        effects: list[Effect] = []
        if self._silent and self.connected:
            self._silent = False
            effects += self._ask_rooms(now_ms)
        return effects + self._dispatch(body, now_ms)

    def _dispatch(self, body: dict[str, Any], now_ms: int) -> list[Effect]:
        match body.get("type"):
            case "synced":
                return self._on_synced(body, now_ms)
            case "message":
                return self._on_live(body, now_ms)
            case "page":
                return self._on_page(body, now_ms)
            case "revisionPage":
                return self._on_revision_page(body, now_ms)
            case "roomsState":
                return self._on_rooms_state(body, now_ms)
            case "messageEdited" | "messageRemoved":
                if _seq(body, REVISIONS.seq_key) is not None:
                    return self._on_live(body, now_ms, REVISIONS)
                self._revisions.append(body)  # unnumbered (an older cloud): with the next flush
        return []

    def _on_live(self, event: dict[str, Any], now_ms: int, stream: _Stream = MESSAGES) -> list[Effect]:
        room, seq = _room(event), _seq(event, stream.seq_key)
        if room is None or seq is None:
            return []
        r = self._room_state(room, stream)
        r.seen = max(r.seen, seq)
        if r.fetching is not None or seq <= r.high:
            return []
        if seq == r.high + 1:
            r.high = seq
            r.live.append(event)
            return []
        return self._backfill(room, r, now_ms)

    def flush(self, now_ms: int) -> list[Effect]:
        """Hand the live messages and revisions gathered so far to the Router
        (the shell calls this when it has no more events waiting, and ``tick`` does)."""
        effects: list[Effect] = [
            e for room, r in self._streams() if r.live for e in self._flush_room(room, r, now_ms)
        ]
        revisions, self._revisions = self._revisions, []
        for chunk in _chunks(revisions, self.config.max_inject_bytes) if revisions else []:
            # No seq, no cursor: kept here until the Router has them (again on failure).
            request_id = self._next_id("v")
            self._revision_injects[request_id] = (chunk, now_ms)
            effects.append(InjectMessages(request_id, [], chunk))
        return effects

    def _flush_room(self, room: str, r: _Room, now_ms: int) -> list[Effect]:
        events, r.live = r.live, []
        return [
            self._inject(room, r, chunk, now_ms) for chunk in _chunks(events, self.config.max_inject_bytes)
        ]

    @property
    def buffered(self) -> int:
        return sum(len(r.live) for _, r in self._streams()) + len(self._revisions)

    def _backfill(self, room: str, r: _Room, now_ms: int) -> list[Effect]:
        flushed = self._flush_room(room, r, now_ms)  # injected in seq order: these come first
        r.fetching = self._next_id("f")
        r.fetch_ms = now_ms
        r.asked[r.fetching] = r.high
        while len(r.asked) > 8:
            del r.asked[next(iter(r.asked))]
        self.counters.backfills += 1
        body = {"type": r.stream.request, "requestId": r.fetching, "room": room, "after": r.high,
                "limit": self.config.backfill_limit}  # fmt: skip
        return [*flushed, SendUp(body)]

    def _page_room(self, page: dict[str, Any], rooms: dict[str, _Room]) -> tuple[str, _Room] | None:
        """The room whose request ``page`` answers, if it still counts."""
        room = _room(page)
        r = rooms.get(room) if room else None
        after = r.asked.pop(str(page.get("requestId")), None) if r is not None else None
        if room is None or r is None or after is None or after > r.high:
            return None  # unknown, or asked after a high that was rewound: it could skip one
        r.fetching = None
        r.fetch_timeouts = 0
        return room, r

    def _on_revision_page(self, page: dict[str, Any], now_ms: int) -> list[Effect]:
        """A room's revisions after ``high`` in revSeq order: stored, the cursor passes them."""
        found = self._page_room(page, self.revs)
        if found is None:
            return []
        room, r = found
        raw, key = page.get("revisions"), REVISIONS.seq_key
        listed = raw if isinstance(raw, list) else []
        events = [e for e in listed if _seq(e, key) is not None and _room(e) == room]
        events.sort(key=lambda e: e[key])
        fresh = [e for e in events if e[key] > r.high]
        effects: list[Effect] = []
        if fresh:  # the page is the cloud's whole answer after ``high``: a number it skips does not exist
            r.seen = max(r.seen, fresh[-1][key])
            chunks = _chunks(fresh, self.config.max_inject_bytes)
            effects += [self._inject(room, r, chunk, now_ms) for chunk in chunks]
        if (page.get("hasMore") is True and fresh) or r.seen > r.high:
            effects += self._backfill(room, r, now_ms)
        return effects

    def _on_page(self, page: dict[str, Any], now_ms: int) -> list[Effect]:
        found = self._page_room(page, self.rooms)
        if found is None:
            return []
        room, r = found
        raw = page.get("messages")
        events = sorted(
            (e for e in (raw if isinstance(raw, list) else []) if _seq(e) is not None and _room(e) == room),
            key=lambda e: e["seq"],
        )
        fresh = [e for e in events if e["seq"] > r.high]
        revisions: dict[str, list[dict[str, Any]]] = {}  # the edits and deletes of its messages
        raw_revisions = page.get("revisions")
        for rev in raw_revisions if isinstance(raw_revisions, list) else []:
            if isinstance(rev, dict) and isinstance(rev.get("target"), str):
                revisions.setdefault(rev["target"], []).append(rev)
        effects: list[Effect] = []
        if fresh:
            # The page is the cloud's whole answer after ``high``: a seq it skips
            # does not exist there, so the cursor may pass it.
            r.seen = max(r.seen, fresh[-1]["seq"])
            # Revisions go with their messages: the cursor passes a message only once they are in.
            units = [{"m": e, "r": revisions.get(str(e.get("id")), [])} for e in fresh]
            for chunk in _chunks(units, self.config.max_inject_bytes):
                events = [u["m"] for u in chunk]
                effects.append(self._inject(room, r, events, now_ms, [v for u in chunk for v in u["r"]]))
        if (page.get("hasMore") is True and fresh) or r.seen > r.high:  # more, or seen meanwhile
            effects += self._backfill(room, r, now_ms)
        return effects

    def _on_rooms_state(self, body: dict[str, Any], now_ms: int) -> list[Effect]:
        if body.get("requestId") != self._rooms_request:
            return []
        self._rooms_request = None
        effects: list[Effect] = []
        rooms = body.get("rooms")
        for info in rooms if isinstance(rooms, list) else []:
            for stream in (MESSAGES, REVISIONS):
                room, last = _room(info), _seq(info, stream.last_key)
                if room is None or last is None:
                    continue  # 0, absent or not a number: nothing to fetch
                r = self._room_state(room, stream)
                r.seen = max(r.seen, last)
                if last > r.high and r.fetching is None:
                    effects += self._backfill(room, r, now_ms)
        if body.get("hasMore") is True:  # more rooms than fit one answer: the next check goes on
            self._rooms_ms = now_ms - self.config.rooms_every_ms + self.config.backoff_min_ms
        return effects

    def _inject(
        self, room: str, r: _Room, events: list[dict[str, Any]], now_ms: int,
        revisions: list[dict[str, Any]] | None = None,
    ) -> InjectMessages:  # fmt: skip
        request_id = self._next_id("i")
        last = events[-1][r.stream.seq_key]
        r.high = max(r.high, last)
        r.waiting.append([request_id, last, False])
        self._injects[request_id] = (room, r)
        self._inject_ms[request_id] = now_ms
        if r.stream is REVISIONS:
            return InjectMessages(request_id, [], events)
        self.counters.received += len(events)
        return InjectMessages(request_id, events, revisions or [])

    # -- the Router's answers

    def on_router(self, body: Any, now_ms: int) -> list[Effect]:
        """The Router's answer on ``edgechat/sync/stored``."""
        if not isinstance(body, dict):
            return []
        request_id = body.get("requestId")
        revisions = self._revision_injects.pop(request_id, None) if isinstance(request_id, str) else None
        if revisions is not None:
            if body.get("type") != "stored":
                self._revisions += revisions[0]  # not stored: handed over again at the next flush
            return []
        found = self._injects.pop(request_id, None) if isinstance(request_id, str) else None
        self._inject_ms.pop(request_id, None)  # type: ignore[arg-type]
        if found is None:
            return []  # not ours, or given up on already
        room, r = found
        if body.get("type") != "stored":
            return self._rewind(room, r, now_ms)
        for item in r.waiting:
            if item[0] == request_id:
                item[2] = True
        moved = False
        while r.waiting and r.waiting[0][2]:
            r.cursor = max(r.cursor, r.waiting.popleft()[1])
            moved = True
        if not moved:
            return []
        return [SaveCursors({}, {room: r.cursor}) if r.stream is REVISIONS else SaveCursors({room: r.cursor})]

    def _rewind(self, room: str, r: _Room, now_ms: int) -> list[Effect]:
        """Injections of ``room`` failed or went unanswered: start again from the cursor."""
        for request_id, _, _ in r.waiting:
            self._injects.pop(request_id, None)
            self._inject_ms.pop(request_id, None)
        r.waiting.clear()
        r.live.clear()
        r.high = r.cursor
        # A page asked for after the old high would leave a hole: its answer is dropped.
        r.fetching = None
        r.asked = {rid: after for rid, after in r.asked.items() if after <= r.high}
        return self._backfill(room, r, now_ms) if self.connected else []

    # -- time

    def tick(self, now_ms: int) -> list[Effect]:
        """Timeouts and periodic checks; call about once a second."""
        effects: list[Effect] = self.flush(now_ms)
        c = self.config
        late = [b for b in self._in_flight.values() if now_ms - b.sent_ms >= c.ack_timeout_ms]
        if late:
            self.counters.timeouts += 1
            self._silent = True
            self._window = 1
            self._in_flight.clear()
            self._sent_upto = 0  # everything still queued goes again
            self._backoff_ms = min(max(self._backoff_ms * 2, c.backoff_min_ms), c.backoff_max_ms)
            self._not_before_ms = now_ms + self._backoff_ms
        for request_id, (events, sent) in list(self._revision_injects.items()):
            if now_ms - sent >= c.inject_timeout_ms:  # unanswered: handed over again (stored once by id)
                del self._revision_injects[request_id]
                self._revisions += events
        for request_id, sent in list(self._inject_ms.items()):
            if now_ms - sent >= c.inject_timeout_ms and request_id in self._injects:
                effects += self._rewind(*self._injects[request_id], now_ms)
        if not self.connected:
            return effects
        for room, r in self._streams():
            wait_ms = c.backfill_timeout_ms * 2 ** min(r.fetch_timeouts, 3)
            if (
                r.fetching is not None and now_ms - r.fetch_ms >= wait_ms
            ):  # a slow cloud is not asked ever faster
                r.fetching = None
                r.fetch_timeouts += 1
                effects += self._backfill(room, r, now_ms)
        if self._rooms_ms is None or now_ms - self._rooms_ms >= c.rooms_every_ms:
            effects += self._ask_rooms(now_ms)
        return effects

    # -- what the state looks like

    @property
    def in_flight(self) -> int:
        return sum(len(b.ids) for b in self._in_flight.values())

    def caught_up(self) -> bool:
        """Every room received as far as the cloud was known to have it."""
        rooms = all(
            r.fetching is None and not r.waiting and not r.live and r.cursor >= r.seen
            for _, r in self._streams()
        )
        return rooms and not self._revisions and not self._revision_injects


def state_event(core: SyncCore, backlog: int, oldest_ms: int | None, now_ms: int) -> dict[str, Any]:
    """What Sync publishes, retained, on ``chat/sync/state`` (docs/protocol.md)."""
    return {
        "type": "syncState",
        "connected": core.connected,
        "backlog": backlog,
        "lagMs": 0 if oldest_ms is None else max(0, now_ms - oldest_ms),
        "lastContactMs": core.last_contact_ms,
        "synced": core.connected and backlog == 0 and core.caught_up(),
        "updatedMs": now_ms,
    }
