"""edgechat's functional core: chat rules, validation, ordering.  No I/O here:
no asyncio, MQTT, sqlite3, boto3, environment or clock (time is passed in)."""

from edgechat.core.clock import Hlc, order_key
from edgechat.core.errors import ChatError, ClientError, ErrorCode, RateLimited, ServerError
from edgechat.core.protocol import Limits, Message, parse_request
from edgechat.core.ratelimit import RateLimit
from edgechat.core.router import Router, RouterConfig

__all__ = [
    "ChatError",
    "ClientError",
    "ErrorCode",
    "Hlc",
    "Limits",
    "Message",
    "RateLimit",
    "RateLimited",
    "Router",
    "RouterConfig",
    "ServerError",
    "order_key",
    "parse_request",
]
