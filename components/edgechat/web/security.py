"""Pure HTTP security rules for the Web service: response headers, the Host
header a URL may be built from, and the same-origin check for sessions."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

# The app is one script and one stylesheet from this origin.  `ws:`/`wss:` are
# needed because the broker listens on another port (another origin), and the
# cloud mode will connect to IoT Core over wss.
CONTENT_SECURITY_POLICY: Final = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "manifest-src 'self'",
        "connect-src 'self' ws: wss:",
        # mqtt.js runs its keepalive timer in a worker made from a blob, so
        # that background tabs (throttled timers) are not dropped by the broker.
        "worker-src blob:",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

SECURITY_HEADERS: Final[Mapping[str, str]] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",  # for browsers older than frame-ancestors
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}

# A host name, an IPv4 address or a bracketed IPv6 address, then maybe a port.
_HOST_RE: Final = re.compile(r"(?P<host>[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(?::(?P<port>\d{1,5}))?")


def host_of(host_header: str | None) -> str | None:
    """The host part of a ``Host`` header, or None if it is not a plain host.

    The broker URL handed to a browser is built from it, so that a phone that
    reached the core as ``192.168.1.20:8080`` is told ``ws://192.168.1.20:9001``;
    anything odd is refused rather than echoed into a URL."""
    if not host_header:
        return None
    match = _HOST_RE.fullmatch(host_header.strip())
    return match.group("host") if match else None


def same_origin(headers: Mapping[str, str], own_origin: str) -> bool:
    """Whether a state-changing request comes from our own pages.

    Browsers send ``Sec-Fetch-Site`` and ``Origin`` on every cross-origin POST,
    so a request carrying neither is not from a web page (curl, a script) and
    cannot be a cross-site forgery."""
    site = headers.get("Sec-Fetch-Site")
    if site is not None and site != "same-origin":
        return False
    origin = headers.get("Origin")
    return origin is None or origin == own_origin
