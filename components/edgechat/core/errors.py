"""One error family for the chat core, split by whose fault it is.

Every error carries a stable ``code`` that becomes the typed ``error`` event a
client receives on its ``chat/in`` topic (see docs/protocol.md).  Like h11's
LocalProtocolError/RemoteProtocolError, the class says who is to blame:
``ClientError`` (the request was wrong; retrying the same bytes won't help,
except where ``retryable`` says so) and ``ServerError`` (we failed; retry).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    BAD_UTF8 = "bad_utf8"
    BAD_JSON = "bad_json"
    TOO_LARGE = "too_large"
    NOT_AN_OBJECT = "not_an_object"
    UNKNOWN_TYPE = "unknown_type"
    MISSING_FIELD = "missing_field"
    INVALID_FIELD = "invalid_field"
    RATE_LIMITED = "rate_limited"
    ID_CONFLICT = "id_conflict"
    STORE_UNAVAILABLE = "store_unavailable"
    STORAGE_FULL = "storage_full"
    # message lifecycle and moderation (core/lifecycle.py, core/moderation.py)
    NOT_FOUND = "not_found"
    NOT_ALLOWED = "not_allowed"
    EDIT_WINDOW_CLOSED = "edit_window_closed"
    MUTED = "muted"
    ROOM_LOCKED = "room_locked"
    # the session endpoint (core/admission.py)
    BANNED = "banned"
    TOO_MANY_SESSIONS = "too_many_sessions"
    INTERNAL = "internal"


class ChatError(Exception):
    """Base of every error the chat core raises on purpose."""

    retryable: bool = False
    fault: str = "client"

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        *,
        field: str | None = None,
        retry_after_ms: int | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.retry_after_ms = retry_after_ms
        # What the failing request was, when that much could be read from it,
        # so the client can match the error to what it sent.
        self.request_type: str | None = None
        self.ref: str | None = None

    def about(self, request_type: str | None, ref: str | None) -> ChatError:
        """Attach what is known of the failing request; returns self."""
        self.request_type = self.request_type or request_type
        self.ref = self.ref or ref
        return self

    def to_event(self) -> dict[str, Any]:
        """The typed ``error`` event sent to the client that caused it."""
        event: dict[str, Any] = {
            "type": "error",
            "code": str(self.code),
            "message": self.message,
            "retryable": self.retryable,
        }
        if self.field is not None:
            event["field"] = self.field
        if self.retry_after_ms is not None:
            event["retryAfterMs"] = self.retry_after_ms
        if self.request_type is not None:
            event["requestType"] = self.request_type
        if self.ref is not None:
            event["ref"] = self.ref
        return event

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code!s}, {self.message!r})"


class ClientError(ChatError):
    """The request was wrong; sending it again unchanged gives the same error."""


class RateLimited(ClientError):
    """The client asked too fast; the same request later will be accepted."""

    retryable = True

    def __init__(self, retry_after_ms: int) -> None:
        super().__init__(
            ErrorCode.RATE_LIMITED,
            f"too many requests; retry in {retry_after_ms} ms",
            retry_after_ms=retry_after_ms,
        )


class Muted(ClientError):
    """The client is muted in that room; after ``retry_after_ms`` it may speak again."""

    retryable = True

    def __init__(self, room: str, retry_after_ms: int) -> None:
        super().__init__(
            ErrorCode.MUTED,
            f"you are muted in {room} for another {max(1, retry_after_ms // 1000)} s",
            field="room",
            retry_after_ms=retry_after_ms,
        )


class ServerError(ChatError):
    """We failed (disk full, database locked...); the client may retry."""

    retryable = True
    fault = "server"
