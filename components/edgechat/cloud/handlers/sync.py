"""SyncFunction: an edge core's requests on ``sync/{thing}/up`` (docs/sync.md).

Three requests, each answered on ``sync/{thing}/down``:

* ``{"type":"sync","batchId","messages":[message events],"revisions"?:[messageEdited/messageRemoved]}``
  -> ``{"type":"synced","batchId","accepted":[{"id","cloudSeq","duplicate"}],"rejected"?:[{"id","error"}],
  "revisions"?:{"accepted":[{"id","duplicate"}],"rejected":[{"id","error"}]}}``
* ``{"type":"backfill","requestId","room","after","limit"}`` ->
  ``{"type":"page","requestId","room","messages":[message events, cloud seq],"revisions":[their
  edits and deletes],"hasMore"}``
* ``{"type":"revisions","requestId","room","after","limit"}`` ->
  ``{"type":"revisionPage","requestId","room","revisions":[edits and deletes, with "revSeq"],"hasMore"}``
* ``{"type":"rooms","requestId"}`` ->
  ``{"type":"roomsState","requestId","rooms":[{"room","lastSeq","lastRevSeq"}],"hasMore"}``

``sync`` is the cloud's idempotent ingest: each message keeps its origin's id,
order key and site; the DynamoDB store adds it once (conditional on its id) and
numbers it with the cloud's own per-room sequence; each is announced on
``chat/pub/{room}`` with that sequence, to cloud browsers and to every other
core (again when a batch is resent: announcement is at least once, receivers
keep one copy per id).  The ack lists every id sent, duplicates included, so the core can retire
them from its outbox; a message that fails validation is ``rejected`` (a resend
cannot fix it) and the rest of its batch is still taken.  ``backfill`` pages a
room by cloud seq (``after`` = the core's cursor); pages and room lists are cut
to fit IoT Core's 128 KB payload, ``hasMore`` says so.  A request that cannot
be read at all is logged and dropped: nothing crashes on input.

Edits and deletes (revisions) are stored after the batch's messages, once per
revision id (the merge makes their order of arrival irrelevant: a delete wins
and erases the text, else the greatest order key), acked, and announced on
``chat/pub/{room}`` as ``messageEdited`` / ``messageRemoved`` (again on a resend)
with their ``revSeq``: the store numbers each room's revisions once per id, so a
site that missed an announcement sees the gap and pages them with ``revisions``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any, Final

from edgechat.cloud.handlers.deps import Deps, from_env
from edgechat.cloud.handlers.events import BadEvent, SyncUp
from edgechat.core import names, remote, topics
from edgechat.core.clock import hlc_of
from edgechat.core.errors import ClientError
from edgechat.core.lifecycle import Revision
from edgechat.core.protocol import Message, encode
from edgechat.core.router import _fitting

log = logging.getLogger(__name__)

MAX_BATCH: Final = 100
MAX_PAGE: Final = 500
DEFAULT_PAGE: Final = 200
# IoT Core's payload limit is 128 KB; keep room for the envelope around the list.
PAYLOAD_BUDGET: Final = 128 * 1024 - 1024


def sync_down(thing: str) -> str:
    return f"sync/{thing}/down"


def parse_message(raw: Any, limits_text: int) -> Message:
    """A message event from another site, validated as strictly as a client's
    (by the same rules the edge Router applies: core/remote.py)."""
    try:
        return remote.parse_message(raw, limits_text)
    except remote.BadRemoteMessage as exc:
        raise BadEvent(str(exc)) from exc


def parse_revision(raw: Any, limits_text: int) -> Revision:
    """An edit or delete made elsewhere, validated like the edge Router does."""
    try:
        return remote.parse_revision(raw, limits_text)
    except remote.BadRemoteMessage as exc:
        raise BadEvent(str(exc)) from exc


def _each(raws: list[Any], parse: Any) -> tuple[list[Any], list[dict[str, str]]]:
    """Parse each item; a bad one with a readable id is rejected by it, one
    without makes the whole batch unreadable (nothing to answer it by)."""
    good, rejected = [], []
    for raw in raws:
        try:
            good.append(parse(raw))
        except BadEvent as exc:
            mid = raw.get("id") if isinstance(raw, dict) else None
            if not isinstance(mid, str) or not names.MESSAGE_ID_RE.fullmatch(mid):
                raise
            rejected.append({"id": mid, "error": str(exc)})
    return good, rejected


# --- requests, parsed once ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class SyncBatch:
    batch_id: str
    messages: list[Message]
    rejected: list[dict[str, str]]  # {"id", "error"} of messages that failed validation
    revisions: list[Revision] = field(default_factory=list)
    revisions_rejected: list[dict[str, str]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Backfill:
    request_id: str
    room: str
    after: int
    limit: int


@dataclass(frozen=True, slots=True)
class RevisionsQuery:
    """A room's revisions numbered after ``after`` (the site's revision cursor)."""

    request_id: str
    room: str
    after: int
    limit: int


@dataclass(frozen=True, slots=True)
class RoomsQuery:
    request_id: str


SyncRequest = SyncBatch | Backfill | RevisionsQuery | RoomsQuery


def _nonneg_int(body: dict[str, Any], key: str, default: int | None = None) -> int:
    value = body.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise BadEvent(f"{key}: a non-negative integer")
    return value


def parse_request(payload: bytes, limits_text: int) -> SyncRequest:
    """Raises ``BadEvent`` for anything that is not one of the three requests."""
    try:
        body = json.loads(payload)
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadEvent(f"not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise BadEvent("not an object")
    try:
        match body.get("type"):
            case "sync":
                batch_id = names.client_id(body.get("batchId"), "batchId")
                raw_messages, raw_revisions = body.get("messages"), body.get("revisions", [])
                if not isinstance(raw_messages, list) or not isinstance(raw_revisions, list):
                    raise BadEvent("messages, revisions: lists")
                if len(raw_messages) + len(raw_revisions) > MAX_BATCH:
                    raise BadEvent(f"messages and revisions: at most {MAX_BATCH} in all")
                messages, rejected = _each(raw_messages, lambda m: parse_message(m, limits_text))
                revisions, refused = _each(raw_revisions, lambda r: parse_revision(r, limits_text))
                return SyncBatch(batch_id, messages, rejected, revisions, refused)
            case "backfill" | "revisions" as kind:
                limit = _nonneg_int(body, "limit", DEFAULT_PAGE)
                if not 1 <= limit <= MAX_PAGE:
                    raise BadEvent(f"limit: 1 to {MAX_PAGE}")
                query = Backfill if kind == "backfill" else RevisionsQuery
                return query(
                    names.client_id(body.get("requestId"), "requestId"),
                    names.room(body.get("room")), _nonneg_int(body, "after"), limit,
                )  # fmt: skip
            case "rooms":
                return RoomsQuery(names.client_id(body.get("requestId"), "requestId"))
            case other:
                raise BadEvent(f"type: unknown {other!r}")
    except ClientError as exc:
        raise BadEvent(str(exc)) from exc


# --- the shell ------------------------------------------------------------------


def ingest(batch: SyncBatch, deps: Deps) -> dict[str, Any]:
    results = deps.store.add(batch.messages)  # StoreError propagates: Lambda retries, the add is idempotent
    if batch.messages:
        latest, now = max(hlc_of(m.order_key) for m in batch.messages), deps.now_ms()
        # a site's clock far ahead pulls the cloud's only so far (core/remote.py)
        deps.state.save_clock(deps.state.load_clock().observe(remote.observable(latest, now), now))
    for stored, created in results:
        # A resent batch is announced again: its first run may have died between
        # the write and the publish (Lambda retries; so does the core), and every
        # receiver keeps one copy per id.  Not an expired copy (TTL: no text left).
        if created or stored.order_key:
            deps.publish(topics.room_pub(stored.room), encode(stored.to_event()))
    accepted = [{"id": s.id, "cloudSeq": s.seq, "duplicate": not c} for s, c in results]
    ack: dict[str, Any] = {"type": "synced", "batchId": batch.batch_id, "accepted": accepted}
    if batch.rejected:
        ack["rejected"] = batch.rejected
        log.warning("batch %s: rejected %s", batch.batch_id, batch.rejected)
    if batch.revisions or batch.revisions_rejected:
        ack["revisions"] = _revise(batch, deps)
    return ack


def _revise(batch: SyncBatch, deps: Deps) -> dict[str, Any]:
    """Store the batch's edits and deletes (after its messages: a revision of a
    message not here yet is kept and merged when it comes) and announce them."""
    revised = deps.store.revise(batch.revisions)  # StoreError propagates: retried, idempotent by id
    if batch.revisions:
        latest, now = max(hlc_of(r.order_key) for r in batch.revisions), deps.now_ms()
        deps.state.save_clock(deps.state.load_clock().observe(remote.observable(latest, now), now))
    for stored, _, _ in revised:
        # Every one, a resend's too (at least once, like messages); receivers
        # merge by id, so one that changes nothing here changes nothing there.
        deps.publish(topics.room_pub(stored.room), encode(stored.to_event()))
    if batch.revisions_rejected:
        log.warning("batch %s: rejected revisions %s", batch.batch_id, batch.revisions_rejected)
    accepted = [{"id": r.id, "duplicate": not created} for r, created, _ in revised]
    return {"accepted": accepted, "rejected": batch.revisions_rejected}


def page(q: Backfill, deps: Deps) -> dict[str, Any]:
    messages, more = deps.store.history(q.room, after=q.after, limit=q.limit)
    # Each message with its edits and deletes: a site that gets a message late
    # (it missed the live announcements) merges them to the same text.
    revisions = [r.to_event() for r in deps.store.revisions_of(messages)]
    events = _fitting([m.to_event() for m in messages], PAYLOAD_BUDGET - _size(revisions))
    ids = {e["id"] for e in events}
    return {
        "type": "page", "requestId": q.request_id, "room": q.room, "messages": events,
        "revisions": [r for r in revisions if r["target"] in ids],
        "hasMore": more or len(events) < len(messages),
    }  # fmt: skip


def revision_page(q: RevisionsQuery, deps: Deps) -> dict[str, Any]:
    """The room's revisions after ``q.after`` in revSeq order, cut to fit 128 KB
    (at least one); a number the page skips does not exist in the cloud."""
    revisions, more = deps.store.revisions_after(q.room, q.after, q.limit)
    events = _fitting([r.to_event() for r in revisions], PAYLOAD_BUDGET)
    return {
        "type": "revisionPage", "requestId": q.request_id, "room": q.room, "revisions": events,
        "hasMore": more or len(events) < len(revisions),
    }  # fmt: skip


def _size(events: list[dict[str, Any]]) -> int:
    return len(encode({"l": events}))


def rooms_state(q: RoomsQuery, deps: Deps) -> dict[str, Any]:
    last_seqs = {i.room: i.last_seq for i in deps.store.rooms()}
    last_revs = deps.store.last_rev_seqs()
    infos = [{"room": r, "lastSeq": last_seqs.get(r, 0), "lastRevSeq": last_revs.get(r, 0)}
             for r in sorted(last_seqs.keys() | last_revs.keys())]  # fmt: skip
    rooms = _fitting(infos, PAYLOAD_BUDGET)
    more = len(rooms) < len(infos)
    return {"type": "roomsState", "requestId": q.request_id, "rooms": rooms, "hasMore": more}


def handle(event: dict[str, Any], deps: Deps) -> None:
    try:
        up = SyncUp.from_event(event)
        request = parse_request(up.payload, deps.config.limits.max_text_chars)
    except BadEvent as exc:
        log.warning("dropped a sync request: %s", exc)
        return
    match request:
        case SyncBatch():
            answer = ingest(request, deps)
        case Backfill():
            answer = page(request, deps)
        case RevisionsQuery():
            answer = revision_page(request, deps)
        case RoomsQuery():
            answer = rooms_state(request, deps)
    deps.publish(sync_down(up.thing), encode(answer))


def handler(event: dict[str, Any], context: Any) -> None:  # pragma: no cover - AWS entry
    handle(event, from_env())
