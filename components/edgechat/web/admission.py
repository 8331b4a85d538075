"""The session endpoint's gate: reads the bans, the issued sessions' addresses
and the live credentials from the data directory and asks core/admission.py
whether an address may have a new session now."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

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
        self._in_flight: dict[str, int] = {}

    @contextmanager
    def issuing(self, address: str) -> Iterator[int]:
        """Count a session being issued to ``address`` while the block runs;
        yields how many others were already under way (so concurrent requests
        cannot all slip under the limit)."""
        others = self._in_flight.get(address, 0)
        self._in_flight[address] = others + 1
        try:
            yield others
        finally:
            left = self._in_flight[address] - 1
            if left:
                self._in_flight[address] = left
            else:
                del self._in_flight[address]

    def check(self, address: str, in_flight: int) -> Refused | None:
        """Blocking (reads small files): run it in a thread."""
        now_ms = self.wall_clock()
        return admit(
            address,
            now_ms,
            bans=read_bans(bans_path(self.settings)),
            issued=issued_addresses(self.settings),
            live=live_client_ids(self.settings, now_ms),
            in_flight=in_flight,
            max_sessions=self.settings.max_sessions_per_address,
        )
