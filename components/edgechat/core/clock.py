"""Hybrid logical clock and the order key every replica sorts a room by.

A hybrid logical clock (Kulkarni et al., 2014) stays close to wall time but never
goes backwards, even when the wall clock does: a Raspberry Pi has no real-time
clock and can boot with yesterday's time.  The order key puts the clock first,
then the site, then the message id, so any two replicas that hold the same
messages sort them identically.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

_COUNTER_MAX: Final = 0xFFFF
# Below every character allowed in site and message ids, so that comparing keys
# as strings is the same as comparing (clock, site, id) tuples.
ORDER_KEY_SEP: Final = "!"


@dataclass(frozen=True, slots=True, order=True)
class Hlc:
    wall_ms: int = 0
    counter: int = 0

    def tick(self, now_ms: int) -> Hlc:
        """The timestamp for an event made here at wall time ``now_ms``."""
        if now_ms > self.wall_ms:
            return Hlc(now_ms, 0)
        return self._next(self.wall_ms, self.counter)

    def observe(self, remote: Hlc, now_ms: int) -> Hlc:
        """The timestamp for receiving an event stamped ``remote``."""
        wall = max(self.wall_ms, remote.wall_ms, now_ms)
        if wall == now_ms and wall > self.wall_ms and wall > remote.wall_ms:
            return Hlc(wall, 0)
        counter = max(
            self.counter if wall == self.wall_ms else -1,
            remote.counter if wall == remote.wall_ms else -1,
        )
        return self._next(wall, counter)

    @staticmethod
    def _next(wall: int, counter: int) -> Hlc:
        if counter >= _COUNTER_MAX:  # 65,536 events in one millisecond: borrow the next one
            return Hlc(wall + 1, 0)
        return Hlc(wall, counter + 1)

    def encode(self) -> str:
        return f"{self.wall_ms:012x}{self.counter:04x}"

    @classmethod
    def decode(cls, text: str) -> Hlc:
        return cls(int(text[:12], 16), int(text[12:16], 16))


def order_key(hlc: Hlc, site: str, message_id: str) -> str:
    return f"{hlc.encode()}{ORDER_KEY_SEP}{site}{ORDER_KEY_SEP}{message_id}"


def hlc_of(key: str) -> Hlc:
    """The clock part of an order key."""
    return Hlc.decode(key[:16])
