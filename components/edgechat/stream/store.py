"""The Stream's own SQLite file: reaction sets (the aggregate that matters
later) and the spool (the durable local stream of raw events, until exported).

One connection behind a lock: the service thread writes a window at a time,
the export thread reads and deletes batches.  The spool is bounded: when full,
the oldest events are dropped and counted (docs/stream.md).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from edgechat.core.stream import ReactionChange

_SCHEMA = """
CREATE TABLE IF NOT EXISTS reactions (
    message_id TEXT NOT NULL, emoji TEXT NOT NULL, client_id TEXT NOT NULL,
    room TEXT NOT NULL, ts INTEGER NOT NULL,
    PRIMARY KEY (message_id, emoji, client_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS reactions_room ON reactions (room, ts);
CREATE TABLE IF NOT EXISTS spool (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    client_id TEXT NOT NULL, received_ms INTEGER NOT NULL, event TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


@dataclass(frozen=True, slots=True)
class Spooled:
    """One raw event in the spool; ``seq`` is unique for the life of the file."""

    seq: int
    client_id: str
    received_ms: int
    event: str  # normalized JSON (core.stream.to_json)


@dataclass(frozen=True, slots=True)
class SpoolStats:
    queued: int
    dropped: int  # dropped because the spool was full (oldest first)
    exported: int
    max_events: int


class StreamStore:
    def __init__(self, path: Path, *, max_events: int, synchronous: str = "FULL") -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.max_events = max_events
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=10)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={synchronous}")
        self._db.executescript(_SCHEMA)
        self._queued = self._db.execute("SELECT count(*) FROM spool").fetchone()[0]
        self._counters = dict(self._db.execute("SELECT name, value FROM counters").fetchall())

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- one window: spool its events and apply its reactions, in one commit

    def commit_window(
        self, events: list[tuple[str, int, str]], reactions: Iterable[tuple[str, ReactionChange, int]]
    ) -> int:
        """Spool (client, received, event JSON) and apply (room, change, ts);
        returns how many old events were dropped to stay within the bound."""
        with self._transaction() as db:
            db.executemany("INSERT INTO spool (client_id, received_ms, event) VALUES (?, ?, ?)", events)
            for room, c, ts in reactions:
                if c.remove:
                    db.execute(
                        "DELETE FROM reactions WHERE message_id = ? AND emoji = ? AND client_id = ?",
                        (c.message_id, c.emoji, c.client_id),
                    )
                else:
                    db.execute(
                        "INSERT OR IGNORE INTO reactions VALUES (?, ?, ?, ?, ?)",
                        (c.message_id, c.emoji, c.client_id, room, ts),
                    )
            over = self._queued + len(events) - self.max_events
            dropped = 0
            if over > 0:
                dropped = db.execute(
                    "DELETE FROM spool WHERE seq IN (SELECT seq FROM spool ORDER BY seq LIMIT ?)", (over,)
                ).rowcount
                self._bump("dropped", dropped)
            self._queued += len(events) - dropped
        return dropped

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction under the lock; on failure the in-memory
        counts are read back from the file, as they were."""
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                self._counters = dict(db.execute("SELECT name, value FROM counters").fetchall())
                self._queued = db.execute("SELECT count(*) FROM spool").fetchone()[0]
                raise

    def _bump(self, name: str, by: int) -> None:
        self._counters[name] = self._counters.get(name, 0) + by
        self._db.execute(
            "INSERT INTO counters VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            (name, self._counters[name]),
        )

    # -- reactions

    def reaction_counts(self, message_ids: Iterable[str]) -> dict[str, dict[str, int]]:
        ids = sorted(set(message_ids))
        counts: dict[str, dict[str, int]] = {}
        with self._lock:
            for i in range(0, len(ids), 500):
                chunk = ids[i : i + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    f"SELECT message_id, emoji, count(*) FROM reactions WHERE message_id IN ({marks})"
                    " GROUP BY message_id, emoji",
                    chunk,
                ).fetchall()
                for mid, emoji, n in rows:
                    counts.setdefault(mid, {})[emoji] = n
        return counts

    def room_reactions(self, room: str, limit: int) -> dict[str, dict[str, int]]:
        """Counts for the messages of ``room`` reacted to most recently."""
        with self._lock:
            rows = self._db.execute(
                "SELECT message_id, emoji, count(*) FROM reactions WHERE message_id IN ("
                " SELECT message_id FROM reactions WHERE room = ? GROUP BY message_id"
                " ORDER BY max(ts) DESC LIMIT ?) GROUP BY message_id, emoji",
                (room, limit),
            ).fetchall()
        counts: dict[str, dict[str, int]] = {}
        for mid, emoji, n in rows:
            counts.setdefault(mid, {})[emoji] = n
        return counts

    def expire_reactions(self, before_ms: int) -> int:
        with self._lock:
            return self._db.execute("DELETE FROM reactions WHERE ts < ?", (before_ms,)).rowcount

    # -- the spool, read by the exporter

    def peek(self, limit: int) -> list[Spooled]:
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, client_id, received_ms, event FROM spool ORDER BY seq LIMIT ?", (limit,)
            ).fetchall()
        return [Spooled(*row) for row in rows]

    def ack(self, seqs: list[int]) -> None:
        """These were accepted downstream: gone from the spool, counted as exported."""
        if not seqs:
            return
        with self._transaction() as db:
            gone = 0
            for i in range(0, len(seqs), 500):
                chunk = seqs[i : i + 500]
                marks = ",".join("?" * len(chunk))
                gone += db.execute(f"DELETE FROM spool WHERE seq IN ({marks})", chunk).rowcount
            self._bump("exported", gone)
            self._queued -= gone

    def stats(self) -> SpoolStats:
        with self._lock:
            return SpoolStats(
                queued=self._queued,
                dropped=self._counters.get("dropped", 0),
                exported=self._counters.get("exported", 0),
                max_events=self.max_events,
            )
