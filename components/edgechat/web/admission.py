"""The session endpoint's gate: reads the bans, the issued sessions' addresses
and the live credentials from the data directory and asks core/admission.py
whether an address may have a new session now."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from edgechat.broker.bans import bans_path, read_bans
from edgechat.broker.credentials import issued_addresses, live_client_ids
from edgechat.core.admission import Refused, admit
from edgechat.settings import Settings


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


class Admission:
    def __init__(self, settings: Settings, wall_clock: Callable[[], int] = _wall_ms) -> None:
        self.settings = settings
        self.wall_clock = wall_clock
        self._turns: dict[str, tuple[asyncio.Lock, int]] = {}  # address -> (lock, users)

    @asynccontextmanager
    async def issuing(self, address: str) -> AsyncIterator[None]:
        """One session at a time per address, from the check until its
        credential is on file, so concurrent requests cannot all slip under
        the limit.  (Counting requests under way instead counted one twice
        while the broker reloaded: its credential was on file already, and a
        session under the limit was refused.)"""
        lock, users = self._turns.get(address) or (asyncio.Lock(), 0)
        self._turns[address] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._turns[address]
            if users > 1:
                self._turns[address] = (lock, users - 1)
            else:
                del self._turns[address]

    def check(self, address: str) -> Refused | None:
        """Blocking (reads small files): run it in a thread."""
        now_ms = self.wall_clock()
        return admit(
            address,
            now_ms,
            bans=read_bans(bans_path(self.settings)),
            issued=issued_addresses(self.settings),
            live=live_client_ids(self.settings, now_ms),
            max_sessions=self.settings.max_sessions_per_address,
        )
