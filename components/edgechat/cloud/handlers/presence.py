"""PresenceFunction: a browser whose connection dropped leaves its rooms.

IoT Core's lifecycle events can arrive late or out of order, so a disconnect is
ignored when the client has spoken since (it is already back).  The client's
MQTT Last Will (``bye`` on its ``chat/out``) does the same through the Router.
"""

from __future__ import annotations

import logging
from typing import Any

from edgechat.cloud.handlers.deps import Deps, from_env
from edgechat.cloud.handlers.events import BadEvent, Disconnected
from edgechat.cloud.handlers.router import serve

log = logging.getLogger(__name__)


def handle(event: dict[str, Any], deps: Deps) -> None:
    try:
        gone = Disconnected.from_event(event)
    except BadEvent as exc:
        log.warning("dropped a malformed lifecycle event: %s", exc)
        return
    serve(deps, gone.client_id, b'{"type":"bye"}', seen_before_ms=gone.timestamp_ms)


def handler(event: dict[str, Any], context: Any) -> None:  # pragma: no cover - AWS entry
    handle(event, from_env())
