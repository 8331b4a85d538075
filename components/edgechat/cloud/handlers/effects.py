"""Carrying out the core Router's effects, synchronously, inside one invocation."""

from __future__ import annotations

import logging
from collections import deque

from edgechat.cloud.handlers.deps import Publish
from edgechat.core import topics
from edgechat.core.protocol import encode
from edgechat.core.router import Broadcast, Effect, QueryHistory, QueryRooms, Reply, Router, StoreMessage
from edgechat.store.base import MessageStore, StoreError

log = logging.getLogger(__name__)


def carry_out(router: Router, effects: list[Effect], store: MessageStore, publish: Publish) -> None:
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
                    queue.extend(router.store_failed(m, "the cloud store is unavailable"))
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
