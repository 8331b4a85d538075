"""Bans by address: ``DATA_DIR/bans.json``, written when a moderator bans a
client (the Router) and lifted by ``unban``; read by the Web service before
it issues a session.  The decisions are core/admission.py's.

A banned client's address is the one its Web session was issued to
(``clients.address.json``, broker/credentials.py); a credential made with
``edgechat credentials new`` has none, and its ban stays a revocation only.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from edgechat.broker import passwords
from edgechat.broker.credentials import issued_addresses
from edgechat.core.admission import AddressBan, in_force, with_ban, without_client
from edgechat.settings import Settings


def bans_path(settings: Settings) -> Path:
    return settings.paths.root / "bans.json"


def read_bans(path: Path) -> list[AddressBan]:
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    found = raw.get("bans") if isinstance(raw, dict) else None
    if not isinstance(found, list):
        return []
    return [ban for item in found if (ban := AddressBan.from_json(item)) is not None]


def current(settings: Settings, now_ms: int) -> list[AddressBan]:
    """The bans in force (for the operator's console)."""
    return in_force(read_bans(bans_path(settings)), now_ms)


def _write(path: Path, bans: list[AddressBan]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"bans": [b.to_json() for b in bans]}, indent=1))
    os.replace(tmp, path)


def ban(settings: Settings, client_id: str, until_ms: int, reason: str | None, now_ms: int) -> str | None:
    """Ban the address ``client_id``'s session came from until ``until_ms``;
    returns that address, or None when it is not known."""
    address = issued_addresses(settings).get(client_id)
    if address is None or until_ms <= now_ms:
        return None
    path = bans_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    with passwords.locked(path):
        _write(path, with_ban(read_bans(path), AddressBan(address, client_id, until_ms, reason), now_ms))
    return address


def unban(settings: Settings, client_id: str, now_ms: int) -> list[str]:
    """Lift ``client_id``'s bans; returns the addresses they were on."""
    path = bans_path(settings)
    if not path.exists():
        return []
    with passwords.locked(path):
        before = in_force(read_bans(path), now_ms)
        after = without_client(before, client_id, now_ms)
        _write(path, after)
    return sorted({b.address for b in before if b.client_id == client_id})
