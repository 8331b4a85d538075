"""The Router shell's part for edits, deletes and moderation: carries out the
core's LoadTarget, StoreRevision, RecordModeration, Revoke, QueryAudit and
QueryConsole effects (core/router.py) against the store and the broker.

What the shell knows and the core does not: who holds the moderator role (the
roles file, re-read when it changes), how to revoke a broker credential, and
the facts the operator's console shows (disk, store, sync, rates).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgechat.core import remote, topics
from edgechat.core.router import (
    Effect,
    LiftBan,
    LoadTarget,
    QueryAudit,
    QueryConsole,
    RecordModeration,
    Revoke,
    Router,
    StoreRevision,
)
from edgechat.store.base import MessageStore, StoreError

if TYPE_CHECKING:
    from edgechat.router.service import RouterStats

log = logging.getLogger(__name__)

# The banned client's page should get its "banned" event before the broker
# closes the connection: the revoke waits this long after publishing it.
BAN_GRACE_S = 0.5


class ModerationShell:
    """Mixed into RouterService; ``edgechat.router.wiring`` sets the hooks."""

    router: Router
    store: MessageStore
    stats: RouterStats
    clock: Callable[[], int]
    _db: ThreadPoolExecutor
    _apply: Callable[[list[Effect]], Any]
    _spawn: Callable[[Any], None]
    _publish: Callable[[str, dict[str, Any]], None]

    revoke_credential: Callable[[str], object] | None = None
    # (client id, until ms, reason) -> the address banned, or None if unknown
    ban_address: Callable[[str, int, str | None], object] | None = None
    lift_ban: Callable[[str], object] | None = None
    list_bans: Callable[[], list[dict[str, Any]]] | None = None
    data_dir: Path | None = None
    _rate_mark: tuple[float, int, int] | None = None

    async def _moderation_effect(self, effect: Effect) -> None:
        match effect:
            case RecordModeration(action=action):
                # Awaited: the audit record and the state are stored before the
                # moderator's ack and the events after it go out.
                loop = asyncio.get_running_loop()
                try:
                    await loop.run_in_executor(self._db, self.store.moderate, action)
                except StoreError as exc:
                    log.error("router: could not record the moderation action %s: %s", action, exc)
                log.info("moderation: %s %s %s (room %s)", action.actor, action.action, action.target,
                         action.room)  # fmt: skip
            case LoadTarget() as load:
                self._spawn(self._load_target(load))
            case StoreRevision() as rev:
                self._spawn(self._store_revision(rev))
            case Revoke() as revoke:
                # The address ban is in force before the moderator's ack; the
                # credential goes after the client has had its "banned" event.
                await self._ban_address(revoke)
                self._spawn(self._revoke(revoke.client_id))
            case LiftBan(client_id=cid):
                await self._lift_ban(cid)
            case QueryAudit() as query:
                self._spawn(self._audit(query))
            case QueryConsole() as query:
                self._spawn(self._console(query))

    async def _load_target(self, load: LoadTarget) -> None:
        loop = asyncio.get_running_loop()
        try:
            target = await loop.run_in_executor(self._db, self.store.get, load.request.target)
        except StoreError as exc:
            log.error("router: could not read %s: %s", load.request.target, exc)
            kind = "edit" if hasattr(load.request, "text") else "delete"
            await self._apply(self.router.query_failed(load.client_id, kind, load.request.id))
            return
        await self._apply(self.router.target_loaded(load, target, self.clock()))

    async def _store_revision(self, sent: StoreRevision) -> None:
        loop = asyncio.get_running_loop()
        try:
            ((stored, created, applied),) = await loop.run_in_executor(
                self._db, self.store.revise, [sent.revision]
            )
        except StoreError as exc:
            log.error("router: could not store revision %s: %s", sent.revision.id, exc)
            await self._apply(self.router.revise_failed(sent, full=exc.full))
            return
        await self._apply(self.router.revised(sent, stored, created, applied))
        if (outbox := remote.outbox_notice(revisions=[(stored, created, applied)])) is not None:
            self._publish(topics.SYNC_OUTBOX, outbox)  # for Sync, as after a message (docs/sync.md)

    async def _ban_address(self, revoke: Revoke) -> None:
        """Before the credential goes: without it the page asks for a new session."""
        if self.ban_address is None:
            return
        cid = revoke.client_id
        try:
            address = await asyncio.get_running_loop().run_in_executor(
                None, self.ban_address, cid, revoke.until_ms, revoke.reason
            )
        except OSError as exc:
            log.error("router: banning %s's address failed: %s", cid, exc)
            return
        log.info("moderation: %s's address %s banned", cid, address or "(unknown: not a Web session)")

    async def _revoke(self, client_id: str) -> None:
        if self.revoke_credential is None:
            log.warning("router: cannot revoke %s here (no broker credentials)", client_id)
            return
        await asyncio.sleep(BAN_GRACE_S)
        try:
            await asyncio.get_running_loop().run_in_executor(None, self.revoke_credential, client_id)
        except OSError as exc:
            log.error("router: revoking %s failed: %s", client_id, exc)

    async def _lift_ban(self, client_id: str) -> None:
        if self.lift_ban is None:
            return
        try:
            await asyncio.get_running_loop().run_in_executor(None, self.lift_ban, client_id)
        except OSError as exc:
            log.error("router: lifting %s's ban failed: %s", client_id, exc)

    async def _audit(self, query: QueryAudit) -> None:
        loop = asyncio.get_running_loop()
        try:
            actions = await loop.run_in_executor(self._db, self.store.audit_log, query.request.limit)
        except StoreError:
            await self._apply(self.router.query_failed(query.client_id, "audit", query.request.request_id))
            return
        await self._apply(self.router.audit_listed(query, actions))

    async def _console(self, query: QueryConsole) -> None:
        loop = asyncio.get_running_loop()
        try:
            facts = await loop.run_in_executor(self._db, self._console_facts)
        except StoreError:
            await self._apply(self.router.query_failed(query.client_id, "console", query.request.request_id))
            return
        await self._apply(self.router.console_listed(query, facts, self.clock()))

    def _console_facts(self) -> dict[str, Any]:
        """Runs on the store's thread: counts, disk, sync, and rates since the last look."""
        now = time.monotonic()
        stats = self.stats
        rates: dict[str, float] = {}
        mark = self._rate_mark
        if mark is not None and now - mark[0] > 0.5:
            rates = {
                "storedPerS": round((stats.stored - mark[1]) / (now - mark[0]), 2),
                "receivedPerS": round((stats.received - mark[2]) / (now - mark[0]), 2),
                "overS": round(now - mark[0], 1),
            }
        if mark is None or now - mark[0] > 0.5:
            self._rate_mark = (now, stats.stored, stats.received)
        rooms = [r.to_json() for r in self.store.rooms()[:50]]
        facts: dict[str, Any] = {
            "serverTime": self.clock(),
            "counters": {
                "received": stats.received,
                "stored": stats.stored,
                "duplicates": stats.duplicates,
                "rejected": stats.rejected,
                "storeFailures": stats.store_failures,
            },
            "rates": rates,
            "stored": {"messages": self.store.count(), "rooms": rooms},
            "sync": self._sync_state(),
        }
        if self.data_dir is not None:
            facts["disk"] = _disk(self.data_dir)
        if self.list_bans is not None:
            with contextlib.suppress(OSError):
                facts["bans"] = self.list_bans()
        return facts

    def _sync_state(self) -> dict[str, Any] | None:
        """What waits to go up (the store's outbox), and what the Sync service
        last reported (``run/sync.json``, when it runs)."""
        state: dict[str, Any] = {}
        outbox_stats = getattr(self.store, "outbox_stats", None)
        if outbox_stats is not None:
            queued, oldest = outbox_stats()
            state |= {"outboxQueued": queued, "outboxOldestTs": oldest}
        report = self.data_dir / "run" / "sync.json" if self.data_dir is not None else None
        if report is not None and report.exists():
            with contextlib.suppress(OSError, ValueError):
                state["service"] = json.loads(report.read_text())
        return state or None


def _disk(data_dir: Path) -> dict[str, int]:
    store_bytes = 0
    for path in (data_dir / "store").glob("messages.db*"):
        with contextlib.suppress(OSError):  # gone meanwhile (a checkpoint removes -wal)
            store_bytes += os.stat(path).st_size
    usage = shutil.disk_usage(data_dir)
    return {"storeBytes": store_bytes, "freeBytes": usage.free, "totalBytes": usage.total}
