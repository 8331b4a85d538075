"""RouterFunction: a client's request on ``chat/out/{clientId}``, through the core.

Per request: load the sender's session, the presence of the rooms involved and
the clock; build a core ``Router`` from them; ``receive``; save what changed
(conditional on what was read, re-run on a conflict); then store, publish and
ack exactly as the edge's Router does.
"""

from __future__ import annotations

import logging
from typing import Any, Final

from edgechat.cloud.handlers.deps import Deps, from_env
from edgechat.cloud.handlers.effects import carry_out
from edgechat.cloud.handlers.events import BadEvent, ClientRequest
from edgechat.core.errors import ChatError
from edgechat.core.protocol import Join, Leave, Limits, ListRooms, parse_request
from edgechat.core.router import Router

log = logging.getLogger(__name__)

MAX_ATTEMPTS: Final = 5


class Contended(RuntimeError):
    """The state kept changing under this request; Lambda's retry runs it again."""


def rooms_needed(payload: bytes, limits: Limits) -> set[str] | None:
    """Which rooms' presence a request touches beyond the sender's own (None: all)."""
    try:
        request = parse_request(payload, limits)
    except ChatError:
        return set()
    if isinstance(request, Join | Leave):
        return {request.room}
    if isinstance(request, ListRooms):
        return None
    return set()


def serve(deps: Deps, client_id: str, payload: bytes, *, seen_before_ms: int | None = None) -> None:
    """Run one request.  With ``seen_before_ms`` it is skipped when the client has
    been seen since then (a late lifecycle event for a client already back)."""
    now_ms = deps.now_ms()
    rooms = rooms_needed(payload, deps.config.limits)
    for _ in range(MAX_ATTEMPTS):
        snap = deps.state.load(client_id, rooms)
        session = snap.sessions.get(client_id)
        if seen_before_ms is not None and (session is None or session.seen_ms > seen_before_ms):
            return
        router = Router(deps.config, snap.clock, presence=snap.presence, sessions=snap.sessions)
        effects = router.receive(client_id, payload, now_ms)
        if deps.state.save(snap, router, now_ms):
            break
    else:
        raise Contended(f"{client_id}: state changed {MAX_ATTEMPTS} times during one request")
    if router.clock.wall_ms // 1000 > snap.clock.wall_ms // 1000:
        # At most once a second per request stream: the clock item is one key for
        # the whole deployment (order keys stay unique without it: they end in the id).
        deps.state.save_clock(router.clock)
    carry_out(router, effects, deps.store, deps.publish, deps.now_ms)


def handle(event: dict[str, Any], deps: Deps) -> None:
    try:
        request = ClientRequest.from_event(event)
    except BadEvent as exc:
        log.warning("dropped a malformed router event: %s", exc)
        return
    serve(deps, request.client_id, request.payload)


def handler(event: dict[str, Any], context: Any) -> None:  # pragma: no cover - AWS entry
    handle(event, from_env())
