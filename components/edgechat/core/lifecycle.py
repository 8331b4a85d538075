"""A message's life after it is sent: edits and deletes (docs/protocol.md).

An edit or a delete is a *revision*: an event with its own client-made id and
an order key from the accepting site's clock, stored like a message.  Replicas
converge whatever order revisions arrive in, because applying them is a merge:
a delete wins over everything (and its text is gone for good); among edits,
the greatest order key wins.  No I/O here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Protocol

from edgechat.core import names
from edgechat.core.errors import ClientError, ErrorCode

if TYPE_CHECKING:
    from edgechat.core.protocol import Limits, Message

EDIT: Final = "edit"
DELETE: Final = "delete"


class Fields(Protocol):  # protocol._Fields, without importing protocol (it imports us)
    def required(self, name: str, check: Any) -> Any: ...
    def optional(self, name: str, check: Any) -> Any: ...


@dataclass(frozen=True, slots=True)
class Edit:
    id: str  # the edit's own id
    target: str  # the message it changes
    room: str
    text: str
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class Delete:
    id: str
    target: str
    room: str
    request_id: str | None = None


def build_edit(f: Fields, limits: Limits, rid: str | None) -> Edit:
    return Edit(
        id=f.required("id", names.message_id),
        target=f.required("target", names.message_id),
        room=f.required("room", names.room),
        text=f.required("text", lambda v, n: names.text(v, limits.max_text_chars, n)),
        request_id=rid,
    )


def build_delete(f: Fields, limits: Limits, rid: str | None) -> Delete:
    return Delete(
        id=f.required("id", names.message_id),
        target=f.required("target", names.message_id),
        room=f.required("room", names.room),
        request_id=rid,
    )


@dataclass(frozen=True, slots=True)
class Revision:
    """An accepted edit or delete.  ``text`` is the new text of an edit; a
    delete's is empty, and storing a delete empties every earlier text too."""

    id: str
    target: str
    room: str
    kind: str  # EDIT | DELETE
    text: str
    client_id: str  # who asked: the author, or a moderator deleting
    ts: int
    order_key: str
    site: str
    # The cloud's per-room revision number (docs/sync.md): 0 at the edge and until stored there.
    rev_seq: int = 0

    def to_event(self) -> dict[str, Any]:
        event: dict[str, Any] = {
            "type": "messageEdited" if self.kind == EDIT else "messageRemoved",
            "id": self.id,
            "target": self.target,
            "room": self.room,
            "ts": self.ts,
            "orderKey": self.order_key,
            "site": self.site,
            "clientId": self.client_id,
        }
        if self.kind == EDIT:
            event["text"] = self.text
        if self.rev_seq:
            event["revSeq"] = self.rev_seq
        return event


def check(
    request: Edit | Delete,
    actor: str,
    target: Message | None,
    now_ms: int,
    *,
    window_ms: int,
    moderator: bool,
) -> ClientError | None:
    """Whether ``actor`` may make this revision of ``target`` now (None: yes).

    Authors edit and delete their own messages within ``window_ms`` of sending
    them; moderators delete any message at any time, and edit none but their own.
    Deleting a deleted message is allowed (a resend must get its ack again)."""
    if target is None or target.room != request.room:
        return ClientError(ErrorCode.NOT_FOUND, "target: no such message in this room", field="target")
    if isinstance(request, Delete) and moderator:
        return None
    if target.client_id != actor:
        return ClientError(ErrorCode.NOT_ALLOWED, "target: not your message", field="target")
    if target.deleted:
        if isinstance(request, Delete):
            return None
        return ClientError(ErrorCode.NOT_FOUND, "target: that message was deleted", field="target")
    if now_ms - target.ts > window_ms:
        return ClientError(
            ErrorCode.EDIT_WINDOW_CLOSED,
            f"target: messages can be changed for {window_ms // 60_000} minutes after sending",
            field="target",
        )
    return None


def supersedes(kind: str, order_key: str, edited_key: str | None, deleted: bool) -> bool:
    """Whether a revision changes a message that has had the edit ``edited_key``
    (None: never edited) and may have been deleted: the merge every replica runs."""
    if deleted:
        return False
    if kind == DELETE:
        return True
    return edited_key is None or order_key > edited_key


def early_winners(revisions: list[Revision]) -> dict[str, Revision]:
    """For revisions stored before their message arrived (none applied yet):
    per target, the one its message ends up with, as if they had been applied
    one by one in any order (a delete, else the edit with the greatest key)."""
    out: dict[str, Revision] = {}
    for rev in sorted(revisions, key=lambda r: (r.kind != DELETE, r.order_key)):
        best = out.get(rev.target)
        if best is None or (best.kind == EDIT and rev.kind == EDIT and rev.order_key > best.order_key):
            out[rev.target] = rev
    return out
