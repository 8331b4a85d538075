"""The Router service wired to its store and the broker's loopback listener,
from Settings: shared by ``edgechat up`` and the Router component's main."""

from __future__ import annotations

import time

from edgechat.broker import bans, system_password
from edgechat.broker.config import SYSTEM_USER
from edgechat.broker.credentials import revoke
from edgechat.broker.roles import RolesWatcher, roles_path, set_moderator
from edgechat.core.router import Router
from edgechat.router.service import RouterService
from edgechat.settings import Settings
from edgechat.store import SqliteStore


def open_store(settings: Settings) -> SqliteStore:
    """The message store under the data directory (raises StoreError)."""
    settings.paths.store.parent.mkdir(parents=True, exist_ok=True)
    return SqliteStore(settings.paths.store, synchronous=settings.store_synchronous)


def _ban(settings: Settings, client_id: str) -> None:
    """A banned client loses its role (if any) and its broker credential."""
    set_moderator(settings, client_id, False)
    revoke(settings, client_id)


def router_service(settings: Settings, store: SqliteStore) -> RouterService:
    now_ms = time.time_ns() // 1_000_000
    service = RouterService(
        Router(settings.router, clock=store.max_clock(), moderation=store.moderation_state(now_ms)),
        store,
        host="127.0.0.1",
        port=settings.internal_port,
        username=SYSTEM_USER,
        password=system_password(settings),
        retention_ms=settings.retention_ms,
    )
    service.router.moderators = RolesWatcher(roles_path(settings))
    service.revoke_credential = lambda client_id: _ban(settings, client_id)
    service.ban_address = lambda client_id, until_ms, reason: bans.ban(
        settings, client_id, until_ms, reason, time.time_ns() // 1_000_000
    )
    service.lift_ban = lambda client_id: bans.unban(settings, client_id, time.time_ns() // 1_000_000)
    service.list_bans = lambda: [b.to_json() for b in bans.current(settings, time.time_ns() // 1_000_000)]
    service.data_dir = settings.paths.root
    return service
