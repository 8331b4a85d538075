"""SyncFunction: a batch of messages from an edge core on ``sync/{thing}/up``.

This is the cloud's idempotent ingest, the seam issue 6's Sync component builds
on: each message keeps its origin's id, order key and site; the DynamoDB store
adds it once (conditional on its id) and numbers it with the cloud's own
per-room sequence; new ones are announced to cloud browsers on
``chat/pub/{room}``; the core gets an ack on ``sync/{thing}/down`` listing every
id it sent, duplicates included, so it can retire them from its outbox.

Up:   {"type": "sync", "batchId": "...", "messages": [message events]}
Down: {"type": "synced", "batchId": "...", "accepted": [{"id", "cloudSeq", "duplicate"}]}
"""

from __future__ import annotations

import json
import logging
from typing import Any, Final

from edgechat.cloud.handlers.deps import Deps, from_env
from edgechat.cloud.handlers.events import CLIENT_ID_RE, BadEvent, SyncUp
from edgechat.core import names, topics
from edgechat.core.clock import hlc_of
from edgechat.core.errors import ClientError
from edgechat.core.protocol import Message, encode

log = logging.getLogger(__name__)

MAX_BATCH: Final = 100


def sync_down(thing: str) -> str:
    return f"sync/{thing}/down"


def parse_message(raw: Any, limits_text: int) -> Message:
    """A message event from another site, validated as strictly as a client's."""
    if not isinstance(raw, dict):
        raise BadEvent("message: not an object")
    try:
        cid = raw["clientId"]
        if not isinstance(cid, str) or not CLIENT_ID_RE.fullmatch(cid):
            raise BadEvent("clientId: not a client id")
        order_key, site, mid = raw["orderKey"], names.site_id(raw["site"]), names.message_id(raw["id"])
        if not isinstance(order_key, str) or order_key.split("!")[1:] != [site, mid]:
            raise BadEvent("orderKey: must be <hlc>!<site>!<id>")
        hlc_of(order_key)
        reply_to = raw.get("replyTo")
        return Message(
            id=mid, room=names.room(raw["room"]), text=names.text(raw["text"], limits_text),
            client_id=cid, nick=names.nick(raw["nick"]), ts=int(raw["ts"]), order_key=order_key,
            site=site, reply_to=None if reply_to is None else names.message_id(reply_to, "replyTo"),
        )  # fmt: skip
    except (KeyError, TypeError, ValueError, ClientError) as exc:
        raise BadEvent(f"message: {exc}") from exc


def handle(event: dict[str, Any], deps: Deps) -> None:
    try:
        up = SyncUp.from_event(event)
        body = json.loads(up.payload)
        if not isinstance(body, dict) or body.get("type") != "sync":
            raise BadEvent("not a sync batch")
        batch_id = names.client_id(body.get("batchId"), "batchId")
        raw_messages = body.get("messages")
        if not isinstance(raw_messages, list) or len(raw_messages) > MAX_BATCH:
            raise BadEvent(f"messages: a list of at most {MAX_BATCH}")
        messages = [parse_message(m, deps.config.limits.max_text_chars) for m in raw_messages]
    except (BadEvent, ValueError, ClientError) as exc:
        log.warning("dropped a sync batch: %s", exc)
        return
    results = deps.store.add(messages)  # StoreError propagates: Lambda retries, the add is idempotent
    if messages:
        latest = max(hlc_of(m.order_key) for m in messages)
        deps.state.save_clock(deps.state.load_clock().observe(latest, deps.now_ms()))
    for stored, created in results:
        if created:
            deps.publish(topics.room_pub(stored.room), encode(stored.to_event()))
    accepted = [{"id": s.id, "cloudSeq": s.seq, "duplicate": not c} for s, c in results]
    deps.publish(sync_down(up.thing), encode({"type": "synced", "batchId": batch_id, "accepted": accepted}))


def handler(event: dict[str, Any], context: Any) -> None:  # pragma: no cover - AWS entry
    handle(event, from_env())
