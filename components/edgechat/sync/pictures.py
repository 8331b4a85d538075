"""Pictures go to S3 before the messages that show them (docs/sync.md, "Pictures").

Pure core, ``PictureGate``: given the outbox rows Sync is about to send, which
may go now (no picture, or every picture already in S3 or not on this core) and
which wait aside until their pictures are up; which pictures to upload next,
each once at a time, a failed one again after a backoff (1 s doubling to 5 min,
forever: the message stays in the outbox, nothing is lost).  A message waiting
for a picture never holds back the messages after it (every replica sorts a
room by order key, so a message that arrives late still shows in its place);
at most ``max_held`` wait aside, and past that the outbox waits in order (memory
stays bounded when S3 is away for long).  An edit or delete of a message that
waits aside waits with it, and goes after it.

Imperative shell, ``PictureSync``: the ledger and the disk are read, and the
uploads (``edgechat.labeler.s3.S3Pictures``, idempotent by content hash) run,
on worker threads, never on Sync's event loop; a finished upload wakes Sync's
loop with ``PicturesChanged``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from edgechat.core.lifecycle import Revision
from edgechat.core.protocol import Message

log = logging.getLogger(__name__)

Row = tuple[int, Message | Revision]  # an outbox row: a message, or an edit or delete of one


@dataclass(frozen=True, slots=True)
class PictureConfig:
    backoff_min_ms: int = 1_000
    backoff_max_ms: int = 300_000
    max_held: int = 1_000  # messages waiting aside for their pictures
    max_uploading: int = 2  # pictures put at once


@dataclass(slots=True)
class PictureCounters:
    uploaded: int = 0  # pictures (with their thumbnails) put by this process
    already_up: int = 0  # referred to by a message going up, the ledger had it: not put again
    missing: int = 0  # referred to but not on this core: the message went up without waiting
    failures: int = 0  # failed attempts (each retried after a backoff)


@dataclass(slots=True)
class _Try:
    attempts: int = 0
    next_ms: int = 0
    running: bool = False
    error: str = ""


@dataclass(frozen=True, slots=True)
class Admitted:
    ready: list[Row]  # send now, in outbox order
    passed: int  # the highest row number dealt with (sent or set aside); 0: none


def picture_shas(message: Message) -> list[str]:
    # getattr: an outbox row that is not a message (an edit, a delete) shows no picture.
    return list(dict.fromkeys(a.sha256 for a in getattr(message, "attachments", ())))


@dataclass(slots=True)
class PictureGate:
    config: PictureConfig = field(default_factory=PictureConfig)
    counters: PictureCounters = field(default_factory=PictureCounters)
    # Row number -> (message, pictures it still waits for); an edit or delete of a
    # held message shares that message's set, so both are released together.
    held: dict[int, tuple[Message | Revision, set[str]]] = field(default_factory=dict)
    tries: dict[str, _Try] = field(default_factory=dict)

    def admit(self, rows: Sequence[Row], uploaded: frozenset[str], on_core: frozenset[str]) -> Admitted:
        """Split rows read from the outbox.  ``uploaded``: pictures the ledger
        has; ``on_core``: pictures this core's store has (of those the rows name)."""
        ready: list[Row] = []
        passed = 0
        by_id = {m.id: waiting for m, waiting in self.held.values() if waiting}
        for n, message in rows:
            shas = picture_shas(message)
            if n in self.held:  # read again (a resend from the start): still waiting?
                self.held[n][1].difference_update(uploaded)
                if self.held[n][1]:
                    passed = n
                    continue
                del self.held[n]
            target = getattr(message, "target", None)
            if isinstance(target, str) and by_id.get(target):  # an edit or delete goes after its message
                if len(self.held) >= self.config.max_held:
                    break
                self.held[n] = (message, by_id[target])
                passed = n
                continue
            waiting = {s for s in shas if s not in uploaded and s in on_core}
            if not waiting:
                self.counters.already_up += sum(1 for s in shas if s in uploaded)
                self.counters.missing += sum(1 for s in shas if s not in uploaded and s not in on_core)
                ready.append((n, message))
                passed = n
                continue
            if len(self.held) >= self.config.max_held:
                break  # full: this row and those after it wait in order
            self.held[n] = (message, waiting)
            by_id[message.id] = waiting
            for sha in waiting:
                self.tries.setdefault(sha, _Try())
            passed = n
        return Admitted(ready, passed)

    def due(self, now_ms: int) -> list[str]:
        """Pictures to start uploading now (each marked running)."""
        free = self.config.max_uploading - sum(1 for t in self.tries.values() if t.running)
        out: list[str] = []
        for sha, t in self.tries.items():
            if len(out) >= free:
                break
            if not t.running and t.next_ms <= now_ms:
                t.running = True
                out.append(sha)
        return out

    def uploaded(self, sha: str, outcome: str) -> None:
        """Nothing more to wait for: ``outcome`` is ``put`` (by this upload),
        ``already`` (the ledger had it) or ``missing`` (not on this core after all)."""
        self.tries.pop(sha, None)
        if outcome == "put":
            self.counters.uploaded += 1
        elif outcome == "already":
            self.counters.already_up += 1
        else:
            self.counters.missing += 1
        for _, waiting in self.held.values():
            waiting.discard(sha)

    def failed(self, sha: str, now_ms: int, error: str) -> None:
        t = self.tries.setdefault(sha, _Try())
        t.running = False
        t.attempts += 1
        t.error = error
        c = self.config
        t.next_ms = now_ms + min(c.backoff_min_ms * 2 ** min(t.attempts - 1, 20), c.backoff_max_ms)
        self.counters.failures += 1

    def release(self) -> list[Row]:
        """Rows whose pictures are all up now, in outbox order (no longer held)."""
        done = sorted(n for n, (_, waiting) in self.held.items() if not waiting)
        return [(n, self.held.pop(n)[0]) for n in done]

    def status(self) -> dict[str, Any]:
        failing = [t for t in self.tries.values() if t.attempts]
        return {
            "enabled": True,
            "waitingMessages": len(self.held),
            "waitingPictures": len(self.tries),
            "failing": len(failing),
            "lastError": max(failing, key=lambda t: t.next_ms).error if failing else None,
            "uploaded": self.counters.uploaded,
            "alreadyUp": self.counters.already_up,
            "missing": self.counters.missing,
            "failures": self.counters.failures,
        }


class PicturesChanged:
    """An upload finished: Sync's loop sends what it released."""


class PictureSync:
    """The shell around ``PictureGate``.  ``s3`` is an ``S3Pictures``, ``ledger``
    a ``Ledger`` (edgechat.labeler.s3); both are used on worker threads only."""

    def __init__(self, s3: Any, ledger: Any, config: PictureConfig | None = None) -> None:
        self.s3, self.ledger = s3, ledger
        self.gate = PictureGate(config or PictureConfig())
        self.bucket: str = getattr(s3, "bucket", "")
        self._pool = ThreadPoolExecutor(max_workers=self.gate.config.max_uploading + 1,
                                        thread_name_prefix="sync-pictures")  # fmt: skip
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake: Callable[[Any], None] | None = None
        self._clock: Callable[[], int] | None = None

    def start(self, wake: Callable[[Any], None], clock: Callable[[], int]) -> None:
        """``wake(PicturesChanged())`` is called on the loop after each upload."""
        self._wake, self._clock = wake, clock

    async def _run(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    async def admit(self, rows: Sequence[Row], now_ms: int) -> Admitted:
        shas = list(dict.fromkeys(s for _, m in rows for s in picture_shas(m)))
        if not shas:
            return Admitted(list(rows), rows[-1][0] if rows else 0)
        uploaded, on_core = await self._run(self._look, shas)
        admitted = self.gate.admit(rows, uploaded, on_core)
        self.start_due(now_ms)
        return admitted

    def _look(self, shas: list[str]) -> tuple[frozenset[str], frozenset[str]]:
        uploaded = self.ledger.uploaded(shas)
        on_core = frozenset(s for s in shas if s not in uploaded and self.s3.pictures.find(s) is not None)
        return uploaded, on_core

    def start_due(self, now_ms: int) -> None:
        for sha in self.gate.due(now_ms):
            task = asyncio.create_task(self._upload(sha), name=f"sync-picture-{sha[:8]}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _upload(self, sha: str) -> None:
        try:
            outcome = await self._run(self._put, sha)
        except Exception as exc:  # S3 away, credentials, a damaged file: retried after a backoff
            now = self._clock() if self._clock else 0
            log.warning("sync: picture %s not uploaded yet: %s", sha[:12], exc)
            self.gate.failed(sha, now, f"{type(exc).__name__}: {exc}"[:300])
            return
        self.gate.uploaded(sha, outcome)
        if self._wake is not None:
            self._wake(PicturesChanged())

    def _put(self, sha: str) -> str:
        """Thumbnail then picture, then the ledger (a crash in between only puts
        the same bytes at the same key again)."""
        if self.ledger.uploaded([sha]):
            return "already"
        if not self.s3.upload(sha):
            return "missing"
        self.ledger.record([sha])
        return "put"

    def status(self) -> dict[str, Any]:
        return {**self.gate.status(), "bucket": self.bucket}

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        # Not waiting for a put in progress (up to read_timeout): stopping must be
        # quick, and a put cut short is only done again by the next run.
        self._pool.shutdown(wait=False, cancel_futures=True)


def pictures_off(reason: str) -> dict[str, Any]:
    return {"enabled": False, "reason": reason}


def status_line(p: dict[str, Any] | None) -> str:
    """The ``pictures:`` line of ``edgechat status`` (``p``: run/sync.json's ``pictures``)."""
    if not p:
        return "  pictures: not reported (an older Sync)"
    if not p.get("enabled"):
        return f"  pictures: not synced to S3 ({p.get('reason', 'off')})"
    line = (
        f"  pictures to s3://{p.get('bucket', '?')}: {p['waitingMessages']} messages waiting for "
        f"{p['waitingPictures']} pictures; uploaded {p['uploaded']}, already there {p['alreadyUp']}, "
        f"not on this core {p['missing']}, failed attempts {p['failures']}"
    )
    return line + (f"; failing now: {p['lastError']}" if p.get("failing") else "")
