"""The edge's MessageStore: one SQLite file in WAL mode.

Durability: ``synchronous=FULL`` makes every commit survive a power cut (an edge
core's usual way to stop), and the Router commits in groups so one fsync covers
many messages.  Only one thread may use a ``SqliteStore``; the Router's shell
runs it on a single-worker executor.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Final

from edgechat.core.attachments import (
    PictureLabel,
    dump_attachments,
    dump_labels,
    load_attachments,
    load_labels,
)
from edgechat.core.clock import Hlc, hlc_of
from edgechat.core.lifecycle import Revision
from edgechat.core.protocol import Message, RoomInfo
from edgechat.store.base import StoreError, with_picture_labels
from edgechat.store.sqlite_lifecycle import _REV_COLUMNS, SqliteLifecycle, _row_to_revision

APPLICATION_ID: Final = 0x45434854  # "ECHT": marks the file as edgechat's
# Each entry moves the file up one schema version (index + 1).  Append only:
# a file at version N runs entries N.. in one transaction when opened.
# Statements are split on ";", so no triggers or ";" inside literals.
_MIGRATIONS: Final[tuple[str, ...]] = (
    # 1: messages and rooms
    """
CREATE TABLE IF NOT EXISTS messages (
    id        TEXT PRIMARY KEY,
    room      TEXT NOT NULL,
    seq       INTEGER NOT NULL,
    order_key TEXT NOT NULL,
    ts        INTEGER NOT NULL,
    site      TEXT NOT NULL,
    client_id TEXT NOT NULL,
    nick      TEXT NOT NULL,
    text      TEXT NOT NULL,
    reply_to  TEXT,
    UNIQUE (room, seq)
);
CREATE INDEX IF NOT EXISTS messages_ts ON messages (ts);
CREATE INDEX IF NOT EXISTS messages_order_key ON messages (order_key);
CREATE TABLE IF NOT EXISTS rooms (
    room     TEXT PRIMARY KEY,
    last_seq INTEGER NOT NULL,
    last_ts  INTEGER NOT NULL
) WITHOUT ROWID;
""",
    # 2: picture attachments (a JSON list, NULL for none) and labels by picture hash
    """
ALTER TABLE messages ADD COLUMN attachments TEXT;
CREATE TABLE IF NOT EXISTS picture_labels (
    sha256 TEXT PRIMARY KEY,
    labels TEXT NOT NULL
) WITHOUT ROWID;
""",
    # 3: message lifecycle (edits and deletes are revisions with their own ids and
    # order keys) and moderation (mutes, locked rooms, pinned announcements, audit log)
    """
ALTER TABLE messages ADD COLUMN edited_key TEXT;
ALTER TABLE messages ADD COLUMN deleted_key TEXT;
CREATE TABLE IF NOT EXISTS revisions (
    id        TEXT PRIMARY KEY,
    target    TEXT NOT NULL,
    room      TEXT NOT NULL,
    kind      TEXT NOT NULL,
    order_key TEXT NOT NULL,
    ts        INTEGER NOT NULL,
    site      TEXT NOT NULL,
    client_id TEXT NOT NULL,
    text      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS revisions_target ON revisions (target);
CREATE INDEX IF NOT EXISTS revisions_order_key ON revisions (order_key);
CREATE TABLE IF NOT EXISTS mutes (
    room      TEXT NOT NULL,
    client_id TEXT NOT NULL,
    until_ms  INTEGER NOT NULL,
    PRIMARY KEY (room, client_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS room_state (
    room   TEXT PRIMARY KEY,
    locked INTEGER NOT NULL DEFAULT 0,
    pinned TEXT
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS audit (
    n      INTEGER PRIMARY KEY AUTOINCREMENT,
    ts     INTEGER NOT NULL,
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    room   TEXT,
    detail TEXT
);
""",
    # 4: sync (issue 6): the outbox holds what this site made and the cloud has
    # not acknowledged (in the same transaction as the message); a room's cursor
    # is the highest cloud seq up to which every cloud message is stored here
    """
CREATE TABLE IF NOT EXISTS outbox (
    n  INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS sync_cursors (
    room      TEXT PRIMARY KEY,
    cloud_seq INTEGER NOT NULL
) WITHOUT ROWID;
""",
    # 5: edits and deletes sync too (issue 9): an outbox row is a message or a
    # revision (``kind``); ids are unique per kind.  The table is rebuilt (SQLite
    # cannot drop a UNIQUE constraint) keeping positions and the position counter.
    """
CREATE TABLE outbox_v5 (
    n    INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL DEFAULT 'message',
    id   TEXT NOT NULL,
    UNIQUE (kind, id)
);
INSERT INTO sqlite_sequence (name, seq) SELECT 'outbox_v5', seq FROM sqlite_sequence WHERE name = 'outbox';
INSERT INTO outbox_v5 (n, kind, id) SELECT n, 'message', id FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_v5 RENAME TO outbox;
""",
    # 6: a room's revision cursor (sync): the highest cloud revSeq up to which
    # every edit and delete of the room is stored here (docs/sync.md)
    """
CREATE TABLE IF NOT EXISTS sync_revision_cursors (
    room    TEXT PRIMARY KEY,
    rev_seq INTEGER NOT NULL
) WITHOUT ROWID;
""",
)
SCHEMA_VERSION: Final = len(_MIGRATIONS)

_COLUMNS: Final = "id, room, seq, order_key, ts, site, client_id, nick, text, reply_to, attachments"
_ROW_MARKS: Final = "(" + ",".join("?" * len(_COLUMNS.split(","))) + ")"
# Under SQLite's historical limit of 999 bound parameters per statement.
_ROWS_PER_INSERT: Final = 999 // len(_COLUMNS.split(","))
_KEYS_PER_SELECT: Final = 999


def _chunks(items: list, size: int) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _row_to_message(row: tuple) -> Message:
    mid, room, seq, okey, ts, site, cid, nick, text, reply_to, attached = row
    return Message(
        id=mid, room=room, seq=seq, order_key=okey, ts=ts, site=site,
        client_id=cid, nick=nick, text=text, reply_to=reply_to,
        attachments=load_attachments(attached),
    )  # fmt: skip


class SqliteStore(SqliteLifecycle):
    def __init__(self, path: Path | str, *, synchronous: str = "FULL") -> None:
        self.path = Path(path)
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=5.0)
            self._open(synchronous)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: cannot open as an edgechat store: {exc}") from exc

    def _open(self, synchronous: str) -> None:
        db = self._db
        app_id = db.execute("PRAGMA application_id").fetchone()[0]
        tables = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if app_id != APPLICATION_ID and (app_id != 0 or tables):
            raise StoreError(f"{self.path}: not an edgechat store (application_id {app_id:#x})")
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(f"{self.path}: schema {version} is newer than this edgechat ({SCHEMA_VERSION})")
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(f"PRAGMA synchronous={synchronous}")
        db.execute("PRAGMA secure_delete=ON")  # deleted text is zeroed, not left in free space
        if version < SCHEMA_VERSION:
            self._migrate(version)

    def _migrate(self, version: int) -> None:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            for number, script in enumerate(_MIGRATIONS[version:], start=version + 1):
                for statement in filter(str.strip, script.split(";")):
                    db.execute(statement)  # executescript would COMMIT the transaction
                db.execute(f"PRAGMA user_version={number}")
            db.execute(f"PRAGMA application_id={APPLICATION_ID}")
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    def add(self, messages: Sequence[Message]) -> list[tuple[Message, bool]]:
        """Messages made at this site: each new one is also queued in the outbox."""
        return self._add(messages, queue=True)

    def add_remote(self, messages: Sequence[Message]) -> list[tuple[Message, bool]]:
        """Messages from the cloud or another site (origin id, order key, site kept)."""
        return self._add(messages, queue=False)

    def _add(self, messages: Sequence[Message], *, queue: bool) -> list[tuple[Message, bool]]:
        db = self._db
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                out = self._insert(messages)
                if queue:
                    self._queue([m.id for m, created in out if created])
                erased = self._apply_early([m.id for m, created in out if created])
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:  # a failed COMMIT may have rolled back already
                    db.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise _store_error(exc) from exc
        if erased:
            self._shred()
        return out

    def _insert(self, messages: Sequence[Message]) -> list[tuple[Message, bool]]:
        # A handful of statements per batch, not a few per message: each call
        # into SQLite releases the GIL, and taking it back from a busy event
        # loop waits up to the 5 ms switch interval (a batch of 100 took 950 ms
        # instead of 5 ms beside a busy thread).
        db = self._db
        ids = list(dict.fromkeys(m.id for m in messages))
        known = {
            row[0]: _row_to_message(row)
            for row in self._select_in(f"SELECT {_COLUMNS} FROM messages", "id", ids)
        }
        rooms = list(dict.fromkeys(m.room for m in messages))
        last = {
            r: (seq, ts)
            for r, seq, ts in self._select_in("SELECT room, last_seq, last_ts FROM rooms", "room", rooms)
        }
        out: list[tuple[Message, bool]] = []
        rows: list[tuple] = []
        for m in messages:
            first = known.get(m.id)
            if first is not None:  # stored before, or earlier in this batch
                out.append((first, False))
                continue
            seq, ts = last.get(m.room, (0, 0))
            last[m.room] = (seq + 1, max(ts, m.ts))
            stored = replace(m, seq=seq + 1)
            known[m.id] = stored
            out.append((stored, True))
            rows.append(
                (m.id, m.room, seq + 1, m.order_key, m.ts, m.site, m.client_id, m.nick, m.text, m.reply_to,
                 dump_attachments(m.attachments))
            )  # fmt: skip
        for chunk in _chunks(rows, _ROWS_PER_INSERT):
            values = ",".join([_ROW_MARKS] * len(chunk))
            db.execute(
                f"INSERT INTO messages ({_COLUMNS}) VALUES {values}", [v for row in chunk for v in row]
            )
        changed = [(room, seq, ts) for room, (seq, ts) in last.items() if seq]
        if changed:
            values = ",".join(["(?,?,?)"] * len(changed))
            db.execute(
                f"INSERT INTO rooms (room, last_seq, last_ts) VALUES {values} "
                "ON CONFLICT(room) DO UPDATE SET last_seq = excluded.last_seq, last_ts = excluded.last_ts",
                [v for row in changed for v in row],
            )
        return out

    def _queue(self, ids: list[str], kind: str = "message") -> None:
        for chunk in _chunks(ids, _KEYS_PER_SELECT):
            marks = ",".join(["(?,?)"] * len(chunk))
            values = [v for i in chunk for v in (kind, i)]
            self._db.execute(f"INSERT INTO outbox (kind, id) VALUES {marks}", values)

    # -- sync: the outbox and the cursors (edge only)

    def outbox(self, after: int = 0, limit: int = 100) -> list[tuple[int, Message | Revision]]:
        """Up to ``limit`` queued messages and revisions past outbox position
        ``after``, oldest first, each with its position."""
        # The queue first (its primary key: O(limit)), then the rows it names.
        queued = self._query("SELECT n, kind, id FROM outbox WHERE n > ? ORDER BY n LIMIT ?", (after, limit))
        ids = [i for _, kind, i in queued if kind == "message"]
        rids = [i for _, kind, i in queued if kind == "revision"]
        try:
            messages = {
                r[0]: _row_to_message(r)
                for r in self._select_in(f"SELECT {_COLUMNS} FROM messages", "id", ids)
            }
            revisions = {
                r[0]: _row_to_revision(r)
                for r in self._select_in(f"SELECT {_REV_COLUMNS} FROM revisions", "id", rids)
            }
        except sqlite3.Error as exc:
            raise _store_error(exc) from exc
        out: list[tuple[int, Message | Revision]] = []
        for n, kind, i in queued:
            item = messages.get(i) if kind == "message" else revisions.get(i)
            if item is not None:
                out.append((n, item))
        return out

    def outbox_done(self, ids: Sequence[str], revisions: Sequence[str] = ()) -> int:
        """Retire message ``ids`` and revision ids ``revisions`` (the cloud
        acknowledged them); how many were queued."""
        done = self._write_in("DELETE FROM outbox", "kind = 'message' AND id", list(ids))
        return done + self._write_in("DELETE FROM outbox", "kind = 'revision' AND id", list(revisions))

    def outbox_stats(self) -> tuple[int, int | None]:
        """How many messages and revisions wait, and the timestamp of the first
        queued (None if none).  Cheap enough to ask every second while 10,000 wait."""
        count = self._query("SELECT count(*) FROM outbox", ())[0][0]
        first = self._query(
            "SELECT coalesce(m.ts, r.ts) FROM outbox o "
            "LEFT JOIN messages m ON m.id = o.id AND o.kind = 'message' "
            "LEFT JOIN revisions r ON r.id = o.id AND o.kind = 'revision' ORDER BY o.n LIMIT 1",
            (),
        )
        return count, first[0][0] if first else None

    def known(self, ids: Sequence[str]) -> set[str]:
        """Which of ``ids`` are stored here (a read: no lock on the writers)."""
        return {row[0] for row in self._select_in("SELECT id FROM messages", "id", list(ids))}

    def cursors(self) -> dict[str, int]:
        return dict(self._query("SELECT room, cloud_seq FROM sync_cursors", ()))

    def revision_cursors(self) -> dict[str, int]:
        return dict(self._query("SELECT room, rev_seq FROM sync_revision_cursors", ()))

    def advance_cursors(self, cursors: dict[str, int]) -> None:
        """Raise rooms' cursors (never lowers one: a late reply cannot undo progress)."""
        self._advance("sync_cursors", "cloud_seq", cursors)

    def advance_revision_cursors(self, cursors: dict[str, int]) -> None:
        self._advance("sync_revision_cursors", "rev_seq", cursors)

    def _advance(self, table: str, column: str, cursors: dict[str, int]) -> None:
        if not cursors:
            return
        try:
            self._db.execute(
                f"INSERT INTO {table} (room, {column}) VALUES {','.join(['(?,?)'] * len(cursors))} "
                f"ON CONFLICT(room) DO UPDATE SET {column} = max({column}, excluded.{column})",
                [v for item in cursors.items() for v in item],
            )
        except sqlite3.Error as exc:
            raise _store_error(exc) from exc

    def _write_in(self, statement: str, column: str, keys: list[str]) -> int:
        total = 0
        try:
            for chunk in _chunks(keys, _KEYS_PER_SELECT):
                cur = self._db.execute(f"{statement} WHERE {column} IN ({','.join('?' * len(chunk))})", chunk)
                total += cur.rowcount
        except sqlite3.Error as exc:
            raise _store_error(exc) from exc
        return total

    def _select_in(self, select: str, column: str, keys: list[str]) -> list[tuple]:
        rows: list[tuple] = []
        for chunk in _chunks(keys, _KEYS_PER_SELECT):
            marks = ",".join("?" * len(chunk))
            rows += self._db.execute(f"{select} WHERE {column} IN ({marks})", chunk).fetchall()
        return rows

    def history(
        self, room: str, *, before: int | None = None, after: int | None = None, limit: int = 50
    ) -> tuple[list[Message], bool]:
        if after is not None:
            sql = f"SELECT {_COLUMNS} FROM messages WHERE room = ? AND seq > ? ORDER BY seq ASC LIMIT ?"
            args: tuple = (room, after, limit + 1)
        else:
            sql = f"SELECT {_COLUMNS} FROM messages WHERE room = ? AND seq < ? ORDER BY seq DESC LIMIT ?"
            args = (room, 2**63 - 1 if before is None else before, limit + 1)
        rows = self._query(sql, args)
        page = self._with_revisions([_row_to_message(r) for r in rows[:limit]])
        return with_picture_labels(page, self.picture_labels), len(rows) > limit

    def _messages(self, ids: list[str]) -> list[Message]:
        rows = self._select_in(f"SELECT {_COLUMNS} FROM messages", "id", ids)
        page = self._with_revisions([_row_to_message(r) for r in rows])
        return with_picture_labels(page, self.picture_labels)

    def put_labels(self, sha256: str, labels: Sequence[PictureLabel]) -> None:
        try:
            self._db.execute(
                "INSERT INTO picture_labels (sha256, labels) VALUES (?, ?) "
                "ON CONFLICT(sha256) DO UPDATE SET labels = excluded.labels",
                (sha256, dump_labels(labels)),
            )
        except sqlite3.Error as exc:
            raise _store_error(exc) from exc

    def picture_labels(self, shas: Sequence[str]) -> dict[str, tuple[PictureLabel, ...]]:
        try:
            rows = self._select_in("SELECT sha256, labels FROM picture_labels", "sha256", list(shas))
        except sqlite3.Error as exc:
            raise _store_error(exc) from exc
        return {sha: load_labels(text) for sha, text in rows}

    def rooms(self) -> list[RoomInfo]:
        rows = self._query("SELECT room, last_seq, last_ts FROM rooms ORDER BY last_ts DESC", ())
        return [RoomInfo(room, seq, ts) for room, seq, ts in rows]

    def max_clock(self) -> Hlc:
        rows = self._query("SELECT max(order_key) FROM messages", ())
        return hlc_of(rows[0][0]) if rows and rows[0][0] else Hlc()

    def expire(self, older_than_ms: int, batch: int = 1000) -> int:
        try:
            cur = self._db.execute(
                "DELETE FROM messages WHERE id IN (SELECT id FROM messages WHERE ts < ? LIMIT ?)",
                (older_than_ms, batch),
            )
            if cur.rowcount:  # an expired message is not sent up any more
                self._db.execute(
                    "DELETE FROM outbox WHERE kind = 'message' AND id NOT IN (SELECT id FROM messages)"
                )
                # nor are its edits kept (their texts go with it), nor sent up
                self._db.execute("DELETE FROM revisions WHERE target NOT IN (SELECT id FROM messages)")
                self._db.execute(
                    "DELETE FROM outbox WHERE kind = 'revision' AND id NOT IN (SELECT id FROM revisions)"
                )
        except sqlite3.Error as exc:
            raise _store_error(exc) from exc
        if cur.rowcount:
            self._shred()  # expired text leaves the WAL too
        return cur.rowcount

    def count(self) -> int:
        return self._query("SELECT count(*) FROM messages", ())[0][0]

    def _query(self, sql: str, args: tuple) -> list[tuple]:
        try:
            return self._db.execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise _store_error(exc) from exc

    def close(self) -> None:
        self._db.close()


def _store_error(exc: sqlite3.Error) -> StoreError:
    name = getattr(exc, "sqlite_errorname", "")
    return StoreError(str(exc), full=name == "SQLITE_FULL")
