"""HTTP error responses in the chat's typed error shape (docs/protocol.md)."""

from __future__ import annotations

from typing import Any

from aiohttp import web


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    retryable: bool = False,
    field: str | None = None,
    retry_after_ms: int | None = None,
    until_ts: int | None = None,
) -> web.Response:
    """The same typed error shape as on ``chat/in`` (docs/protocol.md)."""
    body: dict[str, Any] = {"type": "error", "code": code, "message": message, "retryable": retryable}
    if field is not None:
        body["field"] = field
    if retry_after_ms is not None:
        body["retryAfterMs"] = retry_after_ms
    if until_ts is not None:
        body["untilTs"] = until_ts
    headers = {"Retry-After": str(-(-retry_after_ms // 1000))} if retry_after_ms else None
    return web.json_response(body, status=status, headers=headers)
