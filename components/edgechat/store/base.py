"""The message store's interface.  The Router's logic sits above it; SQLite at
the edge, DynamoDB in the cloud and an in-memory fake for pure tests sit below."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Protocol

from edgechat.core.attachments import PictureLabel, with_labels
from edgechat.core.clock import Hlc
from edgechat.core.lifecycle import Revision
from edgechat.core.moderation import Action, ModerationState
from edgechat.core.protocol import Message, RoomInfo


class StoreError(Exception):
    """The store could not do what was asked (disk full, corrupt file...).

    ``full`` says the disk (or the database's size limit) is full: nothing was
    written, and the same write can succeed once space is freed."""

    def __init__(self, message: str, *, full: bool = False) -> None:
        super().__init__(message)
        self.full = full


class MessageStore(Protocol):
    def add(self, messages: Sequence[Message]) -> list[tuple[Message, bool]]:
        """Store ``messages`` atomically, in order, each numbered with its room's
        next sequence.  Idempotent by id: for an id already stored, the stored
        copy comes back with ``False``.  Returns one pair per input message."""
        ...

    def history(
        self, room: str, *, before: int | None = None, after: int | None = None, limit: int = 50
    ) -> tuple[list[Message], bool]:
        """A page of ``room``: with ``after``, the messages after that sequence,
        oldest first; otherwise those before ``before`` (or the newest), newest
        first.  The flag says whether more lie beyond the page.  Picture
        attachments come with the labels known for them (``put_labels``)."""
        ...

    def put_labels(self, sha256: str, labels: Sequence[PictureLabel]) -> None:
        """Remember ``labels`` for the picture ``sha256`` (replacing older ones)."""
        ...

    def picture_labels(self, shas: Sequence[str]) -> dict[str, tuple[PictureLabel, ...]]:
        """The labels known for those pictures (pictures with none are left out)."""
        ...

    def rooms(self) -> list[RoomInfo]: ...

    def max_clock(self) -> Hlc:
        """The latest clock of any stored message, to restart the site's clock from."""
        ...

    def expire(self, older_than_ms: int, batch: int = 1000) -> int:
        """Delete at most ``batch`` messages stamped before ``older_than_ms``."""
        ...

    def count(self) -> int: ...

    # -- message lifecycle and moderation (core/lifecycle.py, core/moderation.py)

    def get(self, message_id: str) -> Message | None:
        """The stored message with that id, as history shows it (latest text)."""
        ...

    def revise(self, revisions: Sequence[Revision]) -> list[tuple[Revision, bool, bool]]:
        """Store edits and deletes, idempotent by id, and merge each into its
        message (``lifecycle.supersedes``: a delete wins, else the greatest order
        key).  A delete empties the message and every revision of it.  Returns
        (stored copy, created, applied) per revision."""
        ...

    def revisions_of(self, messages: Sequence[Message]) -> list[Revision]:
        """Every edit and delete stored of ``messages`` (the cloud's sync pages
        carry them, so a site that backfills a message gets its revisions too)."""
        ...

    def moderate(self, action: Action) -> None:
        """Append ``action`` to the audit log and keep the state it leaves."""
        ...

    def moderation_state(self, now_ms: int) -> ModerationState:
        """Mutes still running at ``now_ms``, locked rooms, pinned announcements."""
        ...

    def audit_log(self, limit: int = 50) -> list[Action]:
        """The newest moderation actions, newest first."""
        ...

    def close(self) -> None: ...


class SyncStore(MessageStore, Protocol):
    """The edge store, with what Sync needs (docs/sync.md): ``add`` queues each
    new message in the outbox in the same transaction; ``add_remote`` stores
    messages from elsewhere without queueing them."""

    def add_remote(self, messages: Sequence[Message]) -> list[tuple[Message, bool]]: ...

    def revise_remote(self, revisions: Sequence[Revision]) -> list[tuple[Revision, bool, bool]]:
        """Edits and deletes from elsewhere: merged like ``revise``, not queued.
        One whose message is not here yet is kept, and merged when it arrives
        (``add``/``add_remote``).  ``revise`` (made here) queues each new one."""
        ...

    def outbox(self, after: int = 0, limit: int = 100) -> list[tuple[int, Message | Revision]]:
        """Queued messages and revisions past position ``after``, oldest first,
        with their positions."""
        ...

    def outbox_done(self, ids: Sequence[str], revisions: Sequence[str] = ()) -> int:
        """Retire acknowledged message ``ids`` and revision ids; how many were queued."""
        ...

    def outbox_stats(self) -> tuple[int, int | None]:
        """(queued count, timestamp of the first queued message or revision, or None)."""
        ...

    def known(self, ids: Sequence[str]) -> set[str]:
        """Which of ``ids`` are stored here."""
        ...

    def cursors(self) -> dict[str, int]:
        """Per room, the cloud seq up to which everything is stored here."""
        ...

    def advance_cursors(self, cursors: dict[str, int]) -> None:
        """Raise cursors; never lowers one."""
        ...

    def revision_cursors(self) -> dict[str, int]:
        """Per room, the cloud revSeq up to which every edit and delete is stored here."""
        ...

    def advance_revision_cursors(self, cursors: dict[str, int]) -> None:
        """Raise revision cursors; never lowers one."""
        ...


def with_picture_labels(
    page: list[Message], lookup: Callable[[Sequence[str]], dict[str, tuple[PictureLabel, ...]]]
) -> list[Message]:
    """The history join: labels are kept by picture hash, not in each message,
    because the Labeler finds them after the message was stored (and a picture
    posted twice is labelled once).  One lookup per page."""
    shas = list(dict.fromkeys(a.sha256 for m in page for a in m.attachments))
    if not shas:
        return page
    known = lookup(shas)
    return [replace(m, attachments=with_labels(m.attachments, known)) if m.attachments else m for m in page]
