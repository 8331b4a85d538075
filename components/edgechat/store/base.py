"""The message store's interface.  The Router's logic sits above it; SQLite at
the edge, DynamoDB in the cloud and an in-memory fake for pure tests sit below."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from edgechat.core.clock import Hlc
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
        first.  The flag says whether more lie beyond the page."""
        ...

    def rooms(self) -> list[RoomInfo]: ...

    def max_clock(self) -> Hlc:
        """The latest clock of any stored message, to restart the site's clock from."""
        ...

    def expire(self, older_than_ms: int, batch: int = 1000) -> int:
        """Delete at most ``batch`` messages stamped before ``older_than_ms``."""
        ...

    def count(self) -> int: ...

    def close(self) -> None: ...


class SyncStore(MessageStore, Protocol):
    """The edge store, with what Sync needs (docs/sync.md): ``add`` queues each
    new message in the outbox in the same transaction; ``add_remote`` stores
    messages from elsewhere without queueing them."""

    def add_remote(self, messages: Sequence[Message]) -> list[tuple[Message, bool]]: ...

    def outbox(self, after: int = 0, limit: int = 100) -> list[tuple[int, Message]]:
        """Queued messages past position ``after``, oldest first, with their positions."""
        ...

    def outbox_done(self, ids: Sequence[str]) -> int:
        """Retire acknowledged ids; returns how many were queued."""
        ...

    def outbox_stats(self) -> tuple[int, int | None]:
        """(queued count, timestamp of the oldest queued message or None)."""
        ...

    def cursors(self) -> dict[str, int]:
        """Per room, the cloud seq up to which everything is stored here."""
        ...

    def advance_cursors(self, cursors: dict[str, int]) -> None:
        """Raise cursors; never lowers one."""
        ...
