"""Messages made elsewhere (the cloud, another site), entering a store: pure.

Both the cloud's ingest (``cloud/handlers/sync.py``) and the edge Router take
such messages, and both validate them here, as strictly as a client's request:
a message keeps its origin's id, order key and site, so those must be
well-formed and agree with each other.

At the edge, Sync hands them to the Router (the one writer of the store) on
``edgechat/sync/in``; the Router stores them, announces the new ones on their
rooms and answers on ``edgechat/sync/stored`` once they are committed
(docs/sync.md):

  in:     {"type": "inject", "requestId": R, "messages": [message events],
           "revisions"?: [messageEdited / messageRemoved events]}
  stored: {"type": "stored", "requestId": R, "ids": [...], "created": N, "rejected": [{"id", "error"}],
           "revisions"?: [ids]}

Edits and deletes (revisions, core/lifecycle.py) made elsewhere travel the
same way and are validated here too; merging makes their order irrelevant.
  failed: {"type": "storeFailed", "requestId": R, "error": "..."}

The other way, after a commit that queued this site's own messages or
revisions in Sync's outbox, the Router says so once on ``edgechat/sync/outbox``
(``outbox_notice``), so Sync need not read every room broadcast to find out:

  outbox: {"type": "outbox", "messages": N, "revisions": M}
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from edgechat.core import attachments as pictures
from edgechat.core import lifecycle, names
from edgechat.core.clock import ORDER_KEY_SEP, Hlc, hlc_of
from edgechat.core.errors import ClientError
from edgechat.core.protocol import Message

# A client id at any site: an edge client's, or a Cognito identity id in the cloud.
ORIGIN_CLIENT_ID_RE: Final = re.compile(r"[A-Za-z0-9_-]{1,64}|[a-z]{2}(?:-[a-z]+)+-\d:[0-9a-f-]{36}")
MAX_INJECT: Final = 500  # messages per inject request
# How far ahead of this site's wall clock another site's clock may pull it: one
# site with a clock set a year ahead must not drag every site's order keys along.
MAX_CLOCK_AHEAD_MS: Final = 60_000


class BadRemoteMessage(ValueError):
    """A message from elsewhere that cannot be stored as it is (says why)."""


def _origin(raw: dict[str, Any]) -> tuple[str, str, str, str, int]:
    """(id, clientId, site, orderKey, ts) of an event made elsewhere, checked."""
    cid = raw["clientId"]
    if not isinstance(cid, str) or not ORIGIN_CLIENT_ID_RE.fullmatch(cid):
        raise BadRemoteMessage("clientId: not a client id")
    order_key, site, mid = raw["orderKey"], names.site_id(raw["site"]), names.message_id(raw["id"])
    if not isinstance(order_key, str) or order_key.split(ORDER_KEY_SEP)[1:] != [site, mid]:
        raise BadRemoteMessage("orderKey: must be <hlc>!<site>!<id>")
    if not re.fullmatch(r"[0-9a-f]{16}", order_key[:16]):
        raise BadRemoteMessage("orderKey: the clock part is 16 hex digits")
    ts = raw["ts"]
    if isinstance(ts, bool) or not isinstance(ts, int) or not 0 <= ts < 2**53:
        raise BadRemoteMessage("ts: not a timestamp")
    return mid, cid, site, order_key, ts


_REVISION_TYPES: Final = {"messageEdited": lifecycle.EDIT, "messageRemoved": lifecycle.DELETE}


def parse_revision(raw: Any, max_text_chars: int) -> lifecycle.Revision:
    """An edit (``messageEdited``) or delete (``messageRemoved``) made elsewhere,
    or ``BadRemoteMessage``.  An edit's text may be empty: that is what a replica
    keeps of an edit of a deleted message (the delete wins wherever it lands)."""
    if not isinstance(raw, dict):
        raise BadRemoteMessage("revision: not an object")
    try:
        kind = _REVISION_TYPES.get(raw.get("type"))  # type: ignore[arg-type]
        if kind is None:
            raise BadRemoteMessage("type: messageEdited or messageRemoved")
        rid, cid, site, order_key, ts = _origin(raw)
        text = ""
        if kind == lifecycle.EDIT and raw.get("text") != "":
            text = names.text(raw["text"], max_text_chars)
        target = names.message_id(raw["target"], "target")
        return lifecycle.Revision(rid, target, names.room(raw["room"]), kind, text, cid, ts, order_key, site)
    except BadRemoteMessage as exc:
        raise BadRemoteMessage(f"revision: {exc}") from None
    except (KeyError, TypeError, ValueError, ClientError) as exc:
        raise BadRemoteMessage(f"revision: {exc}") from None


def parse_message(raw: Any, max_text_chars: int) -> Message:
    """A message event from another site or the cloud, or ``BadRemoteMessage``."""
    if not isinstance(raw, dict):
        raise BadRemoteMessage("message: not an object")
    try:
        mid, cid, site, order_key, ts = _origin(raw)
        reply_to = raw.get("replyTo")
        # Pictures travel as references (their bytes go to S3 separately); labels are
        # per site.  A picture may come without words, as from a client.
        attached = () if raw.get("attachments") is None else pictures.attachments(raw["attachments"])
        # A deleted message (in a cloud page) has no words left; its delete comes with it.
        wordless = (bool(attached) or raw.get("deleted") is True) and raw.get("text") in ("", None)
        return Message(
            id=mid, room=names.room(raw["room"]),
            text="" if wordless else names.text(raw["text"], max_text_chars),
            client_id=cid, nick=names.nick(raw["nick"]), ts=ts, order_key=order_key,
            site=site, reply_to=None if reply_to is None else names.message_id(reply_to, "replyTo"),
            attachments=attached,
        )  # fmt: skip
    except BadRemoteMessage as exc:
        raise BadRemoteMessage(f"message: {exc}") from None
    except (KeyError, TypeError, ValueError, ClientError) as exc:
        raise BadRemoteMessage(f"message: {exc}") from None


@dataclass(frozen=True, slots=True)
class Inject:
    """A request from Sync: store these messages; answer ``request_id``."""

    request_id: str
    messages: tuple[Message, ...]
    rejected: tuple[dict[str, str], ...] = ()
    revisions: tuple[lifecycle.Revision, ...] = ()

    @property
    def latest(self) -> Hlc | None:
        """The latest clock among the messages and revisions, for the site's clock to observe."""
        keys = [m.order_key for m in self.messages] + [r.order_key for r in self.revisions]
        return max((hlc_of(k) for k in keys), default=None)


def observable(remote: Hlc, now_ms: int) -> Hlc:
    """What of ``remote`` this site's clock takes in: at most MAX_CLOCK_AHEAD_MS
    ahead of its own wall clock (the message itself keeps its order key)."""
    limit = now_ms + MAX_CLOCK_AHEAD_MS
    return remote if remote.wall_ms <= limit else Hlc(limit, 0)


def parse_inject(payload: bytes, max_text_chars: int) -> Inject:
    """An inject request; BadRemoteMessage if the request itself is unreadable.
    Bad messages inside it are listed in ``rejected``, the rest are kept."""
    try:
        body = json.loads(payload)
    except (ValueError, RecursionError) as exc:
        raise BadRemoteMessage(f"inject: not JSON ({exc})"[:200]) from None
    if not isinstance(body, dict) or body.get("type") != "inject":
        raise BadRemoteMessage("inject: not an inject request")
    try:
        request_id = names.client_id(body.get("requestId"), "requestId")
    except ClientError as exc:
        raise BadRemoteMessage(f"inject: {exc}") from None
    raw, raw_revisions = body.get("messages"), body.get("revisions", [])
    if not isinstance(raw, list) or len(raw) > MAX_INJECT:
        raise BadRemoteMessage(f"inject: messages must be a list of at most {MAX_INJECT}")
    if not isinstance(raw_revisions, list) or len(raw_revisions) > MAX_INJECT:
        raise BadRemoteMessage(f"inject: revisions must be a list of at most {MAX_INJECT}")
    rejected: list[dict[str, str]] = []
    messages = _each(raw, lambda m: parse_message(m, max_text_chars), rejected)
    revisions = _each(raw_revisions, lambda r: parse_revision(r, max_text_chars), rejected)
    return Inject(request_id, tuple(messages), tuple(rejected), tuple(revisions))


def _each(raw: list[Any], parse: Any, rejected: list[dict[str, str]]) -> list[Any]:
    """``parse`` each item; the bad ones go to ``rejected`` as {"id", "error"}."""
    out: list[Any] = []
    for item in raw:
        try:
            out.append(parse(item))
        except BadRemoteMessage as exc:
            mid = item.get("id") if isinstance(item, dict) else None
            ref = mid if isinstance(mid, str) and names.CLIENT_ID_RE.fullmatch(mid) else ""
            rejected.append({"id": ref, "error": str(exc)[:200]})
    return out


def stored_reply(inject: Inject, results: list[tuple[Message, bool]]) -> dict[str, Any]:
    """Sync's answer once ``inject``'s messages and revisions are committed."""
    reply: dict[str, Any] = {
        "type": "stored",
        "requestId": inject.request_id,
        "ids": [m.id for m, _ in results],
        "created": sum(created for _, created in results),
        "rejected": list(inject.rejected),
    }
    if inject.revisions:
        reply["revisions"] = [r.id for r in inject.revisions]
    return reply


def failed_reply(inject: Inject, error: str) -> dict[str, Any]:
    return {"type": "storeFailed", "requestId": inject.request_id, "error": error[:200]}


def outbox_notice(
    messages: Iterable[tuple[Any, bool]] = (), revisions: Iterable[tuple[Any, bool, bool]] = ()
) -> dict[str, Any] | None:
    """The notice for Sync after a commit of messages made here (``store.add``'s
    (stored, created) pairs) or revisions (``store.revise``'s (stored, created,
    applied)): each created one was queued in the outbox in that transaction.
    None when nothing was (every one a client's resend of a stored id)."""
    queued = sum(1 for _, created in messages if created)
    queued_revisions = sum(1 for _, created, _ in revisions if created)
    if not queued and not queued_revisions:
        return None
    return {"type": "outbox", "messages": queued, "revisions": queued_revisions}
