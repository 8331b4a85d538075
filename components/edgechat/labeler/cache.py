"""Labels cached by picture hash: each picture is labelled once per provider.

A small SQLite file in the data dir (``<data>/labeler/labels.db``), which also
remembers which pictures each room has, so tag clouds survive a restart.  The key is
the SHA-256 of the picture's bytes (intake stores pictures under the same
hash) plus the provider's name, which carries its model version.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from pathlib import Path

from edgechat.labeler.labels import Labels, labels_from_json, labels_to_json
from edgechat.labeler.provider import LabelProvider

SCHEMA = """
CREATE TABLE IF NOT EXISTS labels (
    sha256     TEXT NOT NULL,
    provider   TEXT NOT NULL,
    labels     TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (sha256, provider)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS room_pictures (
    room     TEXT NOT NULL,
    sha256   TEXT NOT NULL,
    added_ms INTEGER NOT NULL,
    PRIMARY KEY (room, sha256)
) WITHOUT ROWID;
"""


def picture_hash(picture: bytes) -> str:
    return hashlib.sha256(picture).hexdigest()


class LabelCache:
    """Get and put labels by (picture hash, provider name)."""

    def __init__(self, path: Path | str) -> None:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)

    def get(self, sha256: str, provider: str) -> Labels | None:
        row = self._db.execute(
            "SELECT labels FROM labels WHERE sha256 = ? AND provider = ?", (sha256, provider)
        ).fetchone()
        return None if row is None else labels_from_json(json.loads(row[0]))

    def put(self, sha256: str, provider: str, labels: Labels) -> None:
        self._db.execute(
            "INSERT OR IGNORE INTO labels VALUES (?, ?, ?, ?)",
            (sha256, provider, json.dumps(labels_to_json(labels)), int(time.time() * 1000)),
        )

    def add_to_room(self, room: str, sha256: str) -> None:
        self._db.execute(
            "INSERT OR IGNORE INTO room_pictures VALUES (?, ?, ?)", (room, sha256, int(time.time() * 1000))
        )

    def room_pictures(self) -> list[tuple[str, str]]:
        """Every (room, picture hash), oldest first."""
        rows = self._db.execute("SELECT room, sha256 FROM room_pictures ORDER BY added_ms, room, sha256")
        return [(str(room), str(sha)) for room, sha in rows]

    def __len__(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM labels").fetchone()[0])

    def close(self) -> None:
        self._db.close()


class CachedProvider:
    """A LabelProvider that asks the wrapped one only for pictures it hasn't seen."""

    def __init__(self, provider: LabelProvider, cache: LabelCache) -> None:
        self.provider = provider
        self.cache = cache
        self.name = provider.name
        self.hits = 0
        self.misses = 0

    def detect_labels(self, picture: bytes) -> Labels:
        return self.labels_by_hash(picture_hash(picture), picture)

    def labels_by_hash(self, sha256: str, picture: bytes) -> Labels:
        cached = self.cache.get(sha256, self.name)
        if cached is not None:
            self.hits += 1
            return cached
        self.misses += 1
        labels = self.provider.detect_labels(picture)
        self.cache.put(sha256, self.name, labels)
        return labels
