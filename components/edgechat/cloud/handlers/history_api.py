"""HistoryFunction: ``GET /history/{room}`` for a page that loads cold, before its
MQTT connection is up.  The query is validated by the core's own parser."""

from __future__ import annotations

import json
from typing import Any

from edgechat.cloud.handlers.deps import Deps, from_env
from edgechat.cloud.handlers.events import BadEvent, HistoryQuery
from edgechat.core.errors import ClientError
from edgechat.core.protocol import History, encode, parse_request
from edgechat.store.base import StoreError

_HEADERS = {
    "Content-Type": "application/json",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}


def _response(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": status, "headers": _HEADERS, "body": encode(body).decode()}


def _request(query: HistoryQuery) -> dict[str, Any]:
    raw: dict[str, Any] = {"type": "history", "room": query.room}
    for key in ("before", "after", "limit"):
        if key in query.params:
            value = query.params[key]
            raw[key] = int(value) if value.isdigit() else value  # the parser names a bad one
    return raw


def handle(event: dict[str, Any], deps: Deps) -> dict[str, Any]:
    try:
        query = HistoryQuery.from_event(event)
        request = parse_request(json.dumps(_request(query)).encode(), deps.config.limits)
    except BadEvent as exc:
        return _response(400, {"type": "error", "code": "invalid_field", "message": str(exc)})
    except ClientError as exc:
        return _response(400, exc.to_event())
    assert isinstance(request, History)
    try:
        messages, more = deps.store.history(
            request.room, before=request.before, after=request.after, limit=request.limit
        )
    except StoreError:
        return _response(503, {"type": "error", "code": "store_unavailable", "retryable": True,
                               "message": "the message store could not answer"})  # fmt: skip
    return _response(200, {
        "type": "history", "room": request.room,
        "direction": "after" if request.after is not None else "before",
        "messages": [m.to_event() for m in messages], "hasMore": more,
    })  # fmt: skip


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:  # pragma: no cover - AWS entry
    return handle(event, from_env())
