"""Carrying out the core Router's effects, synchronously, inside one invocation."""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable

from edgechat.cloud.handlers.deps import Publish
from edgechat.core import topics
from edgechat.core.protocol import encode
from edgechat.core.router import (
    Broadcast,
    Effect,
    LoadTarget,
    QueryAudit,
    QueryHistory,
    QueryRooms,
    RecordModeration,
    Reply,
    Router,
    StoreMessage,
    StoreRevision,
)
from edgechat.store.base import MessageStore, StoreError

log = logging.getLogger(__name__)


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


def carry_out(
    router: Router,
    effects: list[Effect],
    store: MessageStore,
    publish: Publish,
    now_ms: Callable[[], int] = _wall_ms,
) -> None:
    """Store, query and publish until no effect is left.  A message is announced
    and acked only after ``store.add`` returned, as at the edge."""
    queue: deque[Effect] = deque(effects)
    while queue:
        match queue.popleft():
            case Reply(client_id=cid, event=event):
                publish(topics.client_in(cid), encode(event))
            case Broadcast(room=room, event=event):
                publish(topics.room_pub(room), encode(event))
            case StoreMessage(message=m):
                try:
                    ((stored, created),) = store.add([m])
                    queue.extend(router.stored(m, stored, created))
                except StoreError as exc:
                    log.warning("store failed for %s: %s", m.id, exc)
                    queue.extend(router.store_failed(m, full=exc.full))
            case QueryHistory() as q:
                try:
                    r = q.request
                    messages, more = store.history(r.room, before=r.before, after=r.after, limit=r.limit)
                    queue.extend(router.history_page(q, messages, more))
                except StoreError:
                    queue.extend(router.query_failed(q.client_id, "history", q.request.request_id))
            case QueryRooms() as q:
                try:
                    queue.extend(router.rooms_listed(q, store.rooms()))
                except StoreError:
                    queue.extend(router.query_failed(q.client_id, "rooms", q.request.request_id))
            case LoadTarget() as load:  # edits and deletes (core/lifecycle.py)
                try:
                    target = store.get(load.request.target)
                    queue.extend(router.target_loaded(load, target, now_ms()))
                except StoreError:
                    kind = "edit" if hasattr(load.request, "text") else "delete"
                    queue.extend(router.query_failed(load.client_id, kind, load.request.id))
            case StoreRevision() as sent:
                try:
                    ((stored, created, applied),) = store.revise([sent.revision])
                    queue.extend(router.revised(sent, stored, created, applied))
                except StoreError:
                    queue.extend(router.revise_failed(sent))
            case RecordModeration(action=action):
                try:
                    store.moderate(action)
                except StoreError as exc:
                    log.warning("moderation action not recorded: %s", exc)
            case QueryAudit() as q:
                try:
                    queue.extend(router.audit_listed(q, store.audit_log(q.request.limit)))
                except StoreError:
                    queue.extend(router.query_failed(q.client_id, "audit", q.request.request_id))
