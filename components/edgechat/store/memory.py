"""An in-memory MessageStore, for pure tests of the logic above the store."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from edgechat.core.attachments import PictureLabel, ranked
from edgechat.core.clock import Hlc, hlc_of
from edgechat.core.lifecycle import Revision
from edgechat.core.protocol import Message, RoomInfo
from edgechat.store.base import with_picture_labels
from edgechat.store.memory_lifecycle import MemoryLifecycle


class MemoryStore(MemoryLifecycle):
    def __init__(self) -> None:
        self._lifecycle_init()
        self._by_id: dict[str, Message] = {}
        self._rooms: dict[str, list[Message]] = {}
        self._last_seq: dict[str, int] = {}
        self._labels: dict[str, tuple[PictureLabel, ...]] = {}
        self._outbox: dict[str, int] = {}  # id -> position, in insertion order
        self._rev_outbox: dict[str, int] = {}  # revisions made here: id -> position
        self._outbox_n = 0
        self._cursors: dict[str, int] = {}
        self._rev_cursors: dict[str, int] = {}

    def add(self, messages: Sequence[Message]) -> list[tuple[Message, bool]]:
        out = self.add_remote(messages)
        for stored, created in out:
            if created:
                self._outbox_n += 1
                self._outbox[stored.id] = self._outbox_n
        return out

    def add_remote(self, messages: Sequence[Message]) -> list[tuple[Message, bool]]:
        out: list[tuple[Message, bool]] = []
        for message in messages:
            existing = self._by_id.get(message.id)
            if existing is not None:
                out.append((existing, False))
                continue
            seq = self._last_seq.get(message.room, 0) + 1
            self._last_seq[message.room] = seq
            stored = replace(message, seq=seq)
            self._by_id[stored.id] = stored
            self._rooms.setdefault(stored.room, []).append(stored)
            self._apply_early(stored.id)
            out.append((self._by_id[stored.id], True))
        return out

    def history(
        self, room: str, *, before: int | None = None, after: int | None = None, limit: int = 50
    ) -> tuple[list[Message], bool]:
        rows = self._rooms.get(room, [])
        if after is not None:
            page = [m for m in rows if m.seq > after]
        else:
            page = [m for m in reversed(rows) if before is None or m.seq < before]
        return with_picture_labels(page[:limit], self.picture_labels), len(page) > limit

    def put_labels(self, sha256: str, labels: Sequence[PictureLabel]) -> None:
        self._labels[sha256] = ranked(labels)

    def picture_labels(self, shas: Sequence[str]) -> dict[str, tuple[PictureLabel, ...]]:
        return {s: self._labels[s] for s in shas if s in self._labels}

    def rooms(self) -> list[RoomInfo]:
        return [RoomInfo(r, ms[-1].seq, ms[-1].ts) for r, ms in self._rooms.items() if ms]

    def max_clock(self) -> Hlc:
        return max((hlc_of(m.order_key) for m in self._by_id.values()), default=Hlc())

    def expire(self, older_than_ms: int, batch: int = 1000) -> int:
        old = [m for m in self._by_id.values() if m.ts < older_than_ms][:batch]
        for m in old:
            del self._by_id[m.id]
            self._rooms[m.room].remove(m)
            self._outbox.pop(m.id, None)
            for rid in [rid for rid, r in self._revisions.items() if r.target == m.id]:
                del self._revisions[rid]
                self._rev_outbox.pop(rid, None)
        return len(old)

    def outbox(self, after: int = 0, limit: int = 100) -> list[tuple[int, Message | Revision]]:
        rows: list[tuple[int, Message | Revision]] = [
            (n, self._by_id[mid]) for mid, n in self._outbox.items() if n > after
        ]
        rows += [(n, self._revisions[rid]) for rid, n in self._rev_outbox.items() if n > after]
        return sorted(rows, key=lambda row: row[0])[:limit]

    def outbox_done(self, ids: Sequence[str], revisions: Sequence[str] = ()) -> int:
        done = sum(self._outbox.pop(mid, None) is not None for mid in ids)
        return done + sum(self._rev_outbox.pop(rid, None) is not None for rid in revisions)

    def outbox_stats(self) -> tuple[int, int | None]:
        rows = self.outbox(0, 1)
        return len(self._outbox) + len(self._rev_outbox), rows[0][1].ts if rows else None

    def known(self, ids: Sequence[str]) -> set[str]:
        return {mid for mid in ids if mid in self._by_id}

    def cursors(self) -> dict[str, int]:
        return dict(self._cursors)

    def advance_cursors(self, cursors: dict[str, int]) -> None:
        for room, seq in cursors.items():
            self._cursors[room] = max(seq, self._cursors.get(room, 0))

    def revision_cursors(self) -> dict[str, int]:
        return dict(self._rev_cursors)

    def advance_revision_cursors(self, cursors: dict[str, int]) -> None:
        for room, seq in cursors.items():
            self._rev_cursors[room] = max(seq, self._rev_cursors.get(room, 0))

    def count(self) -> int:
        return len(self._by_id)

    def close(self) -> None:
        pass
