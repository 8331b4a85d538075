"""SqliteStore's part for edits, deletes and moderation (schema 3).

A delete must remove the text from the file, not only hide it: the store runs
with ``PRAGMA secure_delete=ON`` (freed cells and pages are zeroed), a delete
empties the message and every earlier edit of it, and after the commit the WAL
is checkpointed and truncated, so no old page image keeps the words either.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, Final

from edgechat.core import lifecycle
from edgechat.core.lifecycle import Revision
from edgechat.core.moderation import Action, ModerationState
from edgechat.core.protocol import Message
from edgechat.store.base import StoreError

log = logging.getLogger(__name__)

_REV_COLUMNS: Final = "id, target, room, kind, order_key, ts, site, client_id, text"


def _row_to_revision(row: tuple) -> Revision:
    rid, target, room, kind, okey, ts, site, cid, text = row
    return Revision(rid, target, room, kind, text, cid, ts, okey, site)


def _error(exc: sqlite3.Error) -> StoreError:
    name = getattr(exc, "sqlite_errorname", "")
    return StoreError(str(exc), full=name == "SQLITE_FULL")


class SqliteLifecycle:
    _db: sqlite3.Connection
    _query: Callable[[str, tuple], list[tuple]]
    _queue: Callable[[list[str], str], None]

    def _transaction(self, work: Callable[[], Any]) -> Any:
        db = self._db
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                out = work()
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise _error(exc) from exc
        return out

    def _with_revisions(self, page: list[Message]) -> list[Message]:
        """Marks the edited and deleted messages of a page (one query)."""
        if not page:
            return page
        marks = ",".join("?" * len(page))
        rows = self._query(
            "SELECT id, edited_key IS NOT NULL, deleted_key IS NOT NULL FROM messages "
            f"WHERE id IN ({marks}) AND (edited_key IS NOT NULL OR deleted_key IS NOT NULL)",
            tuple(m.id for m in page),
        )
        if not rows:
            return page
        flags = {mid: (bool(e), bool(d)) for mid, e, d in rows}
        return [
            replace(m, edited=flags[m.id][0], deleted=flags[m.id][1]) if m.id in flags else m for m in page
        ]

    def revise(self, revisions: Sequence[Revision]) -> list[tuple[Revision, bool, bool]]:
        """Store revisions made here idempotently by id and merge each into its
        message (core/lifecycle.py ``supersedes``); each new one is queued in
        Sync's outbox in the same transaction.  Returns (stored, created, applied)."""
        return self._revise_all(revisions, queue=True)

    def revise_remote(self, revisions: Sequence[Revision]) -> list[tuple[Revision, bool, bool]]:
        """Revisions made elsewhere (from the cloud): merged the same way, not queued.
        One whose message is not here yet is kept and merged when it arrives."""
        return self._revise_all(revisions, queue=False)

    def _revise_all(self, revisions: Sequence[Revision], *, queue: bool) -> list[tuple[Revision, bool, bool]]:
        def work() -> list[tuple[Revision, bool, bool]]:
            out = [self._revise(r) for r in revisions]
            if queue:
                self._queue([r.id for r, created, _ in out if created], "revision")
            return out

        out: list[tuple[Revision, bool, bool]] = self._transaction(work)
        if any(applied and r.kind == lifecycle.DELETE for r, _, applied in out):
            self._shred()
        return out

    def revisions_of(self, messages: Sequence[Message]) -> list[Revision]:
        """Every revision stored of those ``messages`` (for sync pages)."""
        ids = [m.id for m in messages]
        marks = ",".join("?" * len(ids))
        rows = self._query(f"SELECT {_REV_COLUMNS} FROM revisions WHERE target IN ({marks})", tuple(ids))
        return [_row_to_revision(r) for r in rows] if ids else []

    def _apply_early(self, ids: list[str]) -> bool:
        """Merge revisions that arrived before their messages (``ids``, just
        stored, inside the caller's transaction); True if one was deleted."""
        if not ids:
            return False
        marks = ",".join("?" * len(ids))
        rows = self._db.execute(
            f"SELECT {_REV_COLUMNS} FROM revisions WHERE target IN ({marks})", ids
        ).fetchall()
        erased = False
        for target, winner in lifecycle.early_winners([_row_to_revision(r) for r in rows]).items():
            self._merge(winner, target)
            erased |= winner.kind == lifecycle.DELETE
        return erased

    def _merge(self, rev: Revision, target: str) -> None:
        db = self._db
        if rev.kind == lifecycle.EDIT:
            db.execute(
                "UPDATE messages SET text = ?, edited_key = ? WHERE id = ?", (rev.text, rev.order_key, target)
            )
            return
        db.execute(
            "UPDATE messages SET text = '', attachments = NULL, deleted_key = ? WHERE id = ?",
            (rev.order_key, target),
        )
        db.execute("UPDATE revisions SET text = '' WHERE target = ?", (target,))
        # Deleted before it went up: it never leaves this site (Sync's outbox, schema 4).
        db.execute("DELETE FROM outbox WHERE kind = 'message' AND id = ?", (target,))

    def _revise(self, rev: Revision) -> tuple[Revision, bool, bool]:
        db = self._db
        known = db.execute(f"SELECT {_REV_COLUMNS} FROM revisions WHERE id = ?", (rev.id,)).fetchone()
        if known is not None:
            return _row_to_revision(known), False, False
        row = db.execute(
            "SELECT edited_key, deleted_key FROM messages WHERE id = ?", (rev.target,)
        ).fetchone()
        applied = row is not None and lifecycle.supersedes(
            rev.kind, rev.order_key, row[0], row[1] is not None
        )
        gone = row is not None and row[1] is not None
        stored = replace(rev, text="") if gone else rev  # nothing is kept of a deleted message
        db.execute(
            f"INSERT INTO revisions ({_REV_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?)",
            (stored.id, stored.target, stored.room, stored.kind, stored.order_key, stored.ts,
             stored.site, stored.client_id, stored.text),
        )  # fmt: skip
        if applied:
            self._merge(rev, rev.target)
        return stored, True, applied

    def _shred(self) -> None:
        """Move every committed page into the main file and empty the WAL, so
        the old page images holding deleted words are gone from the disk too.
        Readers elsewhere (``edgechat status``) can hold it up: then the next
        delete, or the hourly retention pass, finishes it."""
        try:
            busy, _, _ = self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        except sqlite3.Error as exc:
            log.warning("store: checkpoint after a delete failed: %s", exc)
            return
        if busy:
            log.info("store: a reader held the WAL; deleted text leaves it at the next checkpoint")

    def get(self, message_id: str) -> Message | None:
        page = self._messages([message_id])
        return page[0] if page else None

    def _messages(self, ids: list[str]) -> list[Message]:  # pragma: no cover - SqliteStore's
        raise NotImplementedError

    # -- moderation

    def moderate(self, action: Action) -> None:
        """Record ``action`` in the audit log and keep the state it leaves."""
        self._transaction(lambda: self._moderate(action))

    def _moderate(self, action: Action) -> None:
        db = self._db
        db.execute(
            "INSERT INTO audit (ts, actor, action, target, room, detail) VALUES (?,?,?,?,?,?)",
            (action.ts, action.actor, action.action, action.target, action.room, action.detail_json()),
        )
        room = action.room or ""
        match action.action:
            case "mute":
                db.execute(
                    "INSERT INTO mutes (room, client_id, until_ms) VALUES (?,?,?) "
                    "ON CONFLICT(room, client_id) DO UPDATE SET until_ms = excluded.until_ms",
                    (room, action.target, int(action.detail["untilTs"])),
                )
            case "unmute":
                db.execute("DELETE FROM mutes WHERE room = ? AND client_id = ?", (room, action.target))
            case "lock" | "unlock":
                db.execute(
                    "INSERT INTO room_state (room, locked) VALUES (?, ?) "
                    "ON CONFLICT(room) DO UPDATE SET locked = excluded.locked",
                    (room, int(action.action == "lock")),
                )
            case "announce" | "unpin":
                pinned = action.detail.get("announcement")
                db.execute(
                    "INSERT INTO room_state (room, pinned) VALUES (?, ?) "
                    "ON CONFLICT(room) DO UPDATE SET pinned = excluded.pinned",
                    (room, json.dumps(pinned, ensure_ascii=False) if pinned else None),
                )

    def moderation_state(self, now_ms: int) -> ModerationState:
        """What is in force now: mutes not yet run out, locks, pinned announcements."""
        state = ModerationState()
        for room, cid, until in self._query(
            "SELECT room, client_id, until_ms FROM mutes WHERE until_ms > ?", (now_ms,)
        ):
            state.mutes[(room, cid)] = until
        for room, locked, pinned in self._query("SELECT room, locked, pinned FROM room_state", ()):
            if locked:
                state.locked.add(room)
            if pinned:
                state.pinned[room] = json.loads(pinned)
        return state

    def audit_log(self, limit: int = 50) -> list[Action]:
        """The newest ``limit`` moderation actions, newest first."""
        rows = self._query(
            "SELECT ts, actor, action, target, room, detail FROM audit ORDER BY n DESC LIMIT ?", (limit,)
        )
        return [
            Action(ts, actor, act, target, room, json.loads(d) if d else {})
            for ts, actor, act, target, room, d in rows
        ]
