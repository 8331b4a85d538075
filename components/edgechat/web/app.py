"""The Web service's HTTP routes: the built browser app, ``/config.json``,
``POST /api/session`` and ``/healthz``."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Final

from aiohttp import web

from edgechat.broker.credentials import Credentials, public_host, urls
from edgechat.core import names
from edgechat.core.admission import Refused
from edgechat.core.errors import ClientError, ErrorCode
from edgechat.core.ratelimit import Bucket, RateLimit
from edgechat.settings import Settings
from edgechat.web.admission import Admission
from edgechat.web.pictures import Pictures
from edgechat.web.responses import error_response
from edgechat.web.security import SECURITY_HEADERS, host_of, same_origin

log = logging.getLogger(__name__)

# Issuing a credential writes the broker's password file and reloads the
# broker: bound it per remote address so one LAN device can't flood it.
SESSION_RATE: Final = RateLimit(per_second=2.0, burst=30)
MAX_SESSION_BODY: Final = 1024
MAX_TRACKED_ADDRESSES: Final = 10_000

# (nick, the caller's address) -> a live credential
Issuer = Callable[[str, str], Awaitable[Credentials]]

SETTINGS: Final = web.AppKey("settings", Settings)
DIST: Final = web.AppKey("dist", Path)
ISSUER: Final = web.AppKey("issuer", Issuer)
BUCKETS: Final = web.AppKey("buckets", dict[str, Bucket])
CLOCK: Final = web.AppKey("clock", Callable[[], int])
ADMISSION: Final = web.AppKey("admission", Admission)


def _no_store(response: web.StreamResponse) -> web.StreamResponse:
    response.headers["Cache-Control"] = "no-store"
    return response


def broker_ws_url(request: web.Request, settings: Settings) -> str:
    """The broker's WebSocket URL as this browser can reach it: the host it used
    to reach us, the broker's port."""
    host = host_of(request.headers.get("Host")) or public_host(settings)
    scheme = "wss" if request.secure else "ws"
    return f"{scheme}://{host}:{settings.ws_port}/mqtt"


async def config_json(request: web.Request) -> web.StreamResponse:
    settings = request.app[SETTINGS]
    return _no_store(
        web.json_response(
            {
                "mode": "edge",
                "site": settings.site_id,
                "wsUrl": broker_ws_url(request, settings),
                "sessionUrl": "/api/session",
                "limits": settings.limits.to_json(),
            }
        )
    )


def _take_token(request: web.Request) -> int:
    """0 if the caller may have a session now, else milliseconds to wait."""
    buckets = request.app[BUCKETS]
    now_ms = request.app[CLOCK]()
    address = request.remote or "?"
    if address not in buckets and len(buckets) >= MAX_TRACKED_ADDRESSES:
        buckets.clear()
    bucket = buckets.get(address) or Bucket.full(SESSION_RATE, now_ms)
    buckets[address], wait_ms = bucket.take(SESSION_RATE, now_ms)
    return wait_ms


async def new_session(request: web.Request) -> web.StreamResponse:
    own_origin = f"{request.scheme}://{request.host}"
    if not same_origin(request.headers, own_origin):
        return error_response(403, "cross_origin", "sessions are only issued to this site's own pages")
    # A JSON content type also forces a CORS preflight on any cross-site fetch.
    if request.content_type != "application/json":
        return error_response(415, "unsupported_media_type", "send application/json")
    if (request.content_length or 0) > MAX_SESSION_BODY:
        return error_response(413, "too_large", f"at most {MAX_SESSION_BODY} bytes")
    raw = await request.content.read(MAX_SESSION_BODY + 1)
    if len(raw) > MAX_SESSION_BODY:
        return error_response(413, "too_large", f"at most {MAX_SESSION_BODY} bytes")
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        return error_response(400, "bad_json", "the body is not JSON")
    if not isinstance(body, dict):
        return error_response(400, "not_an_object", "the body must be a JSON object")
    if "nick" not in body:
        return error_response(400, "missing_field", "nick: required", field="nick")
    try:
        nick = names.nick(body["nick"])
    except ClientError as exc:
        return error_response(400, str(exc.code), exc.message, field=exc.field)
    wait_ms = _take_token(request)
    if wait_ms:
        return error_response(
            429,
            "rate_limited",
            f"too many sessions; retry in {wait_ms} ms",
            retryable=True,
            retry_after_ms=wait_ms,
        )
    address = request.remote or "?"
    admission = request.app[ADMISSION]
    async with admission.issuing(address):
        try:
            refused = await asyncio.to_thread(admission.check, address)
            if refused is not None:
                log.info("session refused to %s: %s", address, refused.code)
                return _refused(refused)
            creds = await request.app[ISSUER](nick, address)
        except (OSError, TimeoutError) as exc:
            return _not_issued(exc)
    out = creds.to_json()
    # Same shape as `edgechat credentials new`, with URLs this browser can reach.
    host = host_of(request.headers.get("Host")) or public_host(request.app[SETTINGS])
    settings = request.app[SETTINGS]
    out["wsUrl"] = broker_ws_url(request, settings)
    out["mqttUrl"] = urls(settings, host).mqtt
    log.info("session issued: %s", creds.client_id)
    return _no_store(web.json_response(out, status=201))


def _not_issued(exc: Exception) -> web.Response:
    log.warning("could not issue a credential: %s", exc)
    return error_response(
        503,
        "broker_unavailable",
        "the broker did not take a new credential",
        retryable=True,
        retry_after_ms=1000,
    )


def _refused(refused: Refused) -> web.Response:
    banned = refused.code == ErrorCode.BANNED
    return error_response(
        403 if banned else 429,
        str(refused.code),
        refused.message,
        retryable=not banned,
        retry_after_ms=refused.retry_after_ms,
        until_ts=refused.until_ms,
    )


async def healthz(request: web.Request) -> web.StreamResponse:
    app_built = (request.app[DIST] / "index.html").is_file()
    return _no_store(web.json_response({"status": "ok", "app": app_built}))


async def index(request: web.Request) -> web.StreamResponse:
    page = request.app[DIST] / "index.html"
    if not page.is_file():
        return web.Response(status=503, text="The web app is not built: run `make web-build`.\n")
    return _no_cache(web.FileResponse(page))


def _no_cache(response: web.StreamResponse) -> web.StreamResponse:
    # Revalidate every time (ETag/Last-Modified make that cheap): an updated
    # core must not leave phones running an old app.
    response.headers["Cache-Control"] = "no-cache"
    return response


async def asset(request: web.Request) -> web.StreamResponse:
    # Only top-level files of dist/, by exact name: no path walking at all.
    name = request.match_info["name"]
    dist = request.app[DIST]
    path = dist / name
    if name.startswith(".") or not path.is_file() or path.parent != dist:
        raise web.HTTPNotFound()
    return _no_cache(web.FileResponse(path))


async def _add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    for header, value in SECURITY_HEADERS.items():
        response.headers.setdefault(header, value)


def make_app(
    settings: Settings,
    dist: Path,
    issuer: Issuer,
    clock: Callable[[], int] | None = None,
    pictures: Pictures | None = None,
    *,
    admission: Admission | None = None,
) -> web.Application:
    app = web.Application(client_max_size=MAX_SESSION_BODY * 4)
    app[SETTINGS] = settings
    app[DIST] = dist.resolve()
    app[ISSUER] = issuer
    app[BUCKETS] = {}
    app[ADMISSION] = admission or Admission(settings)
    app[CLOCK] = clock or (lambda: int(asyncio.get_running_loop().time() * 1000))
    # on_response_prepare also covers static files and error pages.
    app.on_response_prepare.append(_add_security_headers)
    app.router.add_get("/", index)
    app.router.add_get("/config.json", config_json)
    app.router.add_post("/api/session", new_session)
    app.router.add_get("/healthz", healthz)
    app.router.add_routes((pictures or Pictures.for_settings(settings, app[CLOCK])).routes())
    app.router.add_get("/{name:[A-Za-z0-9][A-Za-z0-9._-]*}", asset)
    return app
