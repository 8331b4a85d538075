"""MemoryStore's part for edits, deletes and moderation: the same contract as
SQLite (tests/store/test_store_contract.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from edgechat.core import lifecycle
from edgechat.core.lifecycle import Revision
from edgechat.core.moderation import Action, ModerationState
from edgechat.core.protocol import Message


class MemoryLifecycle:
    _by_id: dict[str, Message]
    _rooms: dict[str, list[Message]]
    _outbox: dict[str, int]
    _rev_outbox: dict[str, int]
    _outbox_n: int

    def _lifecycle_init(self) -> None:
        self._revisions: dict[str, Revision] = {}
        self._rev_log: dict[str, list[str]] = {}  # per room, revision ids in revSeq order (cloud)
        self._edited_key: dict[str, str] = {}
        self._audit: list[Action] = []
        self._state = ModerationState()

    def get(self, message_id: str) -> Message | None:
        return self._by_id.get(message_id)

    def revise(self, revisions: Sequence[Revision]) -> list[tuple[Revision, bool, bool]]:
        out = self.revise_remote(revisions)
        for stored, created, _ in out:
            if created:  # made here: queued for Sync, as SQLite does
                self._outbox_n += 1
                self._rev_outbox[stored.id] = self._outbox_n
        return out

    def revise_remote(self, revisions: Sequence[Revision]) -> list[tuple[Revision, bool, bool]]:
        out: list[tuple[Revision, bool, bool]] = []
        for rev in revisions:
            known = self._revisions.get(rev.id)
            if known is not None:
                out.append((known, False, False))
                continue
            message = self._by_id.get(rev.target)
            deleted = message is not None and message.deleted
            log = self._rev_log.setdefault(rev.room, [])
            log.append(rev.id)
            stored = replace(rev, text="" if deleted else rev.text, rev_seq=len(log))
            self._revisions[rev.id] = stored
            applied = message is not None and lifecycle.supersedes(
                rev.kind, rev.order_key, self._edited_key.get(rev.target), deleted
            )
            if message is not None and applied:
                self._merge(message, rev)
            out.append((self._revisions[rev.id], True, applied))
        return out

    def _merge(self, message: Message, rev: Revision) -> None:
        if rev.kind == lifecycle.EDIT:
            self._edited_key[rev.target] = rev.order_key
            self._replace(replace(message, text=rev.text, edited=True))
            return
        self._replace(replace(message, text="", attachments=(), deleted=True))
        self._outbox.pop(rev.target, None)  # deleted before it went up: it stays here
        for rid, other in self._revisions.items():
            if other.target == rev.target:
                self._revisions[rid] = replace(other, text="")

    def revisions_of(self, messages: Sequence[Message]) -> list[Revision]:
        """Every revision stored of those ``messages`` (for sync pages)."""
        ids = {m.id for m in messages}
        return [r for r in self._revisions.values() if r.target in ids]

    def revisions_after(self, room: str, after: int, limit: int) -> tuple[list[Revision], bool]:
        """``room``'s revisions numbered after ``after`` (as DynamoStore's)."""
        ids = self._rev_log.get(room, [])[after : after + limit + 1]
        return [self._revisions[i] for i in ids[:limit]], len(ids) > limit

    def last_rev_seqs(self) -> dict[str, int]:
        return {room: len(ids) for room, ids in self._rev_log.items() if ids}

    def _apply_early(self, message_id: str) -> None:
        """Merge the revisions that arrived before message ``message_id``."""
        early = [r for r in self._revisions.values() if r.target == message_id]
        winner = lifecycle.early_winners(early).get(message_id)
        if winner is not None:
            self._merge(self._by_id[message_id], winner)

    def _replace(self, message: Message) -> None:
        self._by_id[message.id] = message
        rows = self._rooms[message.room]
        rows[next(i for i, m in enumerate(rows) if m.id == message.id)] = message

    def moderate(self, action: Action) -> None:
        self._audit.append(action)
        self._state.apply(action)

    def moderation_state(self, now_ms: int) -> ModerationState:
        s = self._state
        mutes = {k: until for k, until in s.mutes.items() if until > now_ms}
        return ModerationState(mutes, set(s.locked), dict(s.pinned))

    def audit_log(self, limit: int = 50) -> list[Action]:
        return self._audit[::-1][:limit]
