"""Who holds the moderator role: ``DATA_DIR/roles.json``, set by the operator
(``edgechat credentials new --moderator``, ``edgechat mod grant``).

A role is attached to a broker credential's client id, so it is only as strong
as the credential; the broker's ACL stays the security model: a moderator's
requests still come on its own ``chat/out/{clientId}``, and the Router checks
the role before acting on them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from edgechat.broker import passwords
from edgechat.settings import Settings


def roles_path(settings: Settings) -> Path:
    return settings.paths.root / "roles.json"


def read_moderators(path: Path) -> frozenset[str]:
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError):
        return frozenset()
    found = raw.get("moderators") if isinstance(raw, dict) else None
    return frozenset(m for m in found if isinstance(m, str)) if isinstance(found, list) else frozenset()


def set_moderator(settings: Settings, client_id: str, moderator: bool) -> bool:
    """Grant or take the role; True when that changed something."""
    path = roles_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    with passwords.locked(path):
        now = set(read_moderators(path))
        before = set(now)
        (now.add if moderator else now.discard)(client_id)
        if now != before:
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps({"moderators": sorted(now)}, indent=1))
            os.replace(tmp, path)
    return now != before


class RolesWatcher:
    """``client_id in watcher``: is it a moderator in ``path`` now?  One stat
    per question, the file read again only when it changed, so a role granted
    while running works at once; the Router asks only when the answer matters
    (moderation, edits, deletes, locked rooms, mutes, hello)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: tuple[int, int, int] | None = None
        self._moderators: frozenset[str] = frozenset()

    def __contains__(self, client_id: object) -> bool:
        try:
            st = os.stat(self.path)
            mark = (st.st_ino, st.st_mtime_ns, st.st_size)
        except OSError:
            mark = (0, 0, 0)
        if mark != self._seen:
            self._seen = mark
            self._moderators = read_moderators(self.path)
        return client_id in self._moderators
