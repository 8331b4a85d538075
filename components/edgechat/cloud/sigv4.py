"""AWS Signature Version 4, pure: the browser's presigned ``wss://…/mqtt`` URL for
IoT Core, and the header form (for the published test vectors).

IoT Core's WebSocket URL is presigned with service ``iotdevicegateway`` and an
empty payload; a session token (Cognito credentials always have one) is added
*after* signing, which is where IoT differs from S3.  A JavaScript twin for the
browser is ``web/src/iot-url.js``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final
from urllib.parse import quote, urlsplit

ALGORITHM: Final = "AWS4-HMAC-SHA256"
EMPTY_SHA256: Final = hashlib.sha256(b"").hexdigest()


@dataclass(frozen=True, slots=True)
class Credentials:
    access_key: str
    secret_key: str
    session_token: str | None = None


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def signing_key(secret_key: str, date: str, region: str, service: str) -> bytes:
    key = _hmac(f"AWS4{secret_key}".encode(), date)
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    return key


def uri_encode(text: str) -> str:
    """RFC 3986 unreserved characters stay; everything else is %XX (upper case)."""
    return quote(text, safe="-_.~")


def canonical_query(params: Mapping[str, str]) -> str:
    pairs = sorted((uri_encode(k), uri_encode(v)) for k, v in params.items())
    return "&".join(f"{k}={v}" for k, v in pairs)


def canonical_request(
    method: str, path: str, query: str, headers: Mapping[str, str], payload_hash: str
) -> tuple[str, str]:
    """The canonical request and its signed-header list."""
    lowered = sorted((k.lower(), " ".join(v.strip().split())) for k, v in headers.items())
    signed = ";".join(k for k, _ in lowered)
    text = "\n".join(
        [method, path or "/", query, *(f"{k}:{v}" for k, v in lowered), "", signed, payload_hash]
    )
    return text, signed


def signature(
    creds: Credentials, amz_date: str, region: str, service: str, canonical: str
) -> tuple[str, str]:
    """(signature hex, credential scope) for a canonical request."""
    scope = f"{amz_date[:8]}/{region}/{service}/aws4_request"
    to_sign = "\n".join([ALGORITHM, amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = signing_key(creds.secret_key, amz_date[:8], region, service)
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest(), scope


def amz_date(when: datetime) -> str:
    return when.strftime("%Y%m%dT%H%M%SZ")


def authorization_header(
    creds: Credentials,
    method: str,
    url: str,
    headers: Mapping[str, str],
    *,
    region: str,
    service: str,
    when: str,
    payload_hash: str = EMPTY_SHA256,
) -> str:
    """The ``Authorization`` header for a request whose headers include ``x-amz-date``."""
    parts = urlsplit(url)
    query = dict(p.split("=", 1) for p in parts.query.split("&") if p)
    canonical, signed = canonical_request(method, parts.path, canonical_query(query), headers, payload_hash)
    sig, scope = signature(creds, when, region, service, canonical)
    return f"{ALGORITHM} Credential={creds.access_key}/{scope}, SignedHeaders={signed}, Signature={sig}"


def presign(
    creds: Credentials,
    url: str,
    *,
    region: str,
    service: str,
    when: str,
    expires_s: int | None = None,
    payload_hash: str = EMPTY_SHA256,
    token_in_signature: bool = True,
) -> str:
    """``url`` (GET, host the only signed header) with the signature in its query."""
    parts = urlsplit(url)
    scope = f"{when[:8]}/{region}/{service}/aws4_request"
    params = {
        "X-Amz-Algorithm": ALGORITHM,
        "X-Amz-Credential": f"{creds.access_key}/{scope}",
        "X-Amz-Date": when,
        "X-Amz-SignedHeaders": "host",
    }
    if expires_s is not None:
        params["X-Amz-Expires"] = str(expires_s)
    if creds.session_token and token_in_signature:
        params["X-Amz-Security-Token"] = creds.session_token
    query = canonical_query(params)
    canonical, _ = canonical_request("GET", parts.path, query, {"host": parts.netloc}, payload_hash)
    sig, _ = signature(creds, when, region, service, canonical)
    query += f"&X-Amz-Signature={sig}"
    if creds.session_token and not token_in_signature:
        query += f"&X-Amz-Security-Token={uri_encode(creds.session_token)}"
    return f"{parts.scheme}://{parts.netloc}{parts.path}?{query}"


def iot_websocket_url(creds: Credentials, endpoint: str, region: str, when: datetime) -> str:
    """The URL a browser opens to speak MQTT to IoT Core with these credentials."""
    return presign(
        creds,
        f"wss://{endpoint}/mqtt",
        region=region,
        service="iotdevicegateway",
        when=amz_date(when),
        expires_s=86400,
        token_in_signature=False,
    )
