"""Who may have a new chat session (``POST /api/session``): bans by address
and live sessions per address.  No I/O, no clock: the Web service reads the
files and the time and asks here (docs/security.md says what an address can
and cannot tell about a person).

A session is one broker credential, and a credential is one client id, so one
connection (``use_username_as_clientid``: a second connection with the same id
takes the first over).  Bounding the live credentials an address holds bounds
its MQTT connections made through the app.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from edgechat.core.errors import ErrorCode

# A page told "too many sessions" looks again after this long.
TOO_MANY_RETRY_MS: Final = 60_000


@dataclass(frozen=True, slots=True)
class AddressBan:
    """While ``until_ms`` has not passed, ``address`` gets no new session:
    the address ``client_id``'s session was issued to when it was banned."""

    address: str
    client_id: str
    until_ms: int
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"address": self.address, "clientId": self.client_id, "untilTs": self.until_ms}
        if self.reason:
            out["reason"] = self.reason
        return out

    @classmethod
    def from_json(cls, raw: object) -> AddressBan | None:
        """None for anything that is not a well-formed ban (a hand-edited file)."""
        if not isinstance(raw, dict):
            return None
        address, client, until = raw.get("address"), raw.get("clientId"), raw.get("untilTs")
        reason = raw.get("reason")
        if not (isinstance(address, str) and isinstance(client, str)):
            return None
        if isinstance(until, bool) or not isinstance(until, int):
            return None
        return cls(address, client, until, reason if isinstance(reason, str) else None)


@dataclass(frozen=True, slots=True)
class Refused:
    """Why no session is issued: becomes the typed error the page shows."""

    code: ErrorCode
    message: str
    until_ms: int | None = None  # banned: when the ban ends
    retry_after_ms: int | None = None  # too many sessions: when to look again


def in_force(bans: Iterable[AddressBan], now_ms: int) -> list[AddressBan]:
    return [b for b in bans if b.until_ms > now_ms]


def banned_until(bans: Iterable[AddressBan], address: str, now_ms: int) -> int | None:
    """When the last ban on ``address`` in force at ``now_ms`` ends; None if none is."""
    ends = [b.until_ms for b in in_force(bans, now_ms) if b.address == address]
    return max(ends) if ends else None


def with_ban(bans: Iterable[AddressBan], ban: AddressBan, now_ms: int) -> list[AddressBan]:
    """The bans after ``ban``: run-out ones dropped, the same client's earlier
    ban on the same address replaced."""
    kept = [b for b in in_force(bans, now_ms) if (b.address, b.client_id) != (ban.address, ban.client_id)]
    return [*kept, ban]


def without_client(bans: Iterable[AddressBan], client_id: str, now_ms: int) -> list[AddressBan]:
    """The bans in force after lifting ``client_id``'s (other clients' bans
    on the same address stay)."""
    return [b for b in in_force(bans, now_ms) if b.client_id != client_id]


def live_sessions(issued: Mapping[str, str], live: Container[str], address: str) -> int:
    """How many sessions issued to ``address`` are still live (the credential
    neither expired nor revoked): ``issued`` maps client id to address."""
    return sum(1 for cid, at in issued.items() if at == address and cid in live)


def admit(
    address: str,
    now_ms: int,
    *,
    bans: Iterable[AddressBan],
    issued: Mapping[str, str],
    live: Container[str],
    max_sessions: int,
) -> Refused | None:
    """None if ``address`` may have a new session now (the caller issues one
    session per address at a time, so ``issued`` and ``live`` are complete)."""
    until = banned_until(bans, address, now_ms)
    if until is not None:
        return Refused(ErrorCode.BANNED, "a moderator banned this device from the chat", until_ms=until)
    held = live_sessions(issued, live, address)
    if held >= max_sessions:
        return Refused(
            ErrorCode.TOO_MANY_SESSIONS,
            f"this address already holds {held} live sessions (at most {max_sessions}); "
            "reuse one (reload the page in the same tab) or wait for one to expire",
            retry_after_ms=TOO_MANY_RETRY_MS,
        )
    return None
