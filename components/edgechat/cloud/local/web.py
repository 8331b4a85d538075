"""The local cloud's HTTP side: the web app in cloud mode, ``/config.json``,
``POST /api/session`` (the stand-in for Cognito: a per-session broker login
whose username is the client id), ``GET /history/{room}`` (the template's
HistoryFunction, called in-process) and ``GET /pictures/<sha256>[/thumb]`` (the
stand-in for CloudFront's ``/pictures/*`` origin: the objects Sync put in the
pictures bucket, with the edge's picture headers)."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import paho.mqtt.client as mqtt
from aiohttp import web

from edgechat.broker import passwords
from edgechat.cloud.handlers import history_api
from edgechat.cloud.handlers.deps import Deps
from edgechat.labeler.s3 import PREFIX
from edgechat.web.pictures import PICTURE_HEADERS
from edgechat.web.security import SECURITY_HEADERS

CONFIG: Final = web.AppKey("config", dict)
DEPS: Final = web.AppKey("deps", Deps)
ISSUE: Final = web.AppKey("issue", Callable)
_SHA: Final = "{sha:[0-9a-f]{64}}"


class BucketPictures:
    """The pictures bucket read as CloudFront's origin access control reads it:
    ``GetObject`` by key, the stored Content-Type and Cache-Control."""

    def __init__(self, client: Any, bucket: str) -> None:
        self.client = client  # boto3 S3 (moto_server here)
        self.bucket = bucket

    def get(self, key: str) -> tuple[bytes, str, str | None] | None:
        """(body, content type, cache control), or None if there is no such object."""
        try:
            got = self.client.get_object(Bucket=self.bucket, Key=key)
        except self.client.exceptions.NoSuchKey:
            return None
        return got["Body"].read(), got.get("ContentType") or "", got.get("CacheControl")


PICTURES: Final = web.AppKey("pictures", BucketPictures)


@web.middleware
async def _headers(request: web.Request, handler: Any) -> web.StreamResponse:
    response = await handler(request)
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)  # a picture keeps its own (sandboxed) CSP
    response.headers.setdefault("Cache-Control", "no-store")
    return response


async def config_json(request: web.Request) -> web.StreamResponse:
    return web.json_response(request.app[CONFIG])


async def session(request: web.Request) -> web.StreamResponse:
    creds = await asyncio.get_running_loop().run_in_executor(None, request.app[ISSUE])
    return web.json_response(creds)


async def history(request: web.Request) -> web.StreamResponse:
    event = {"pathParameters": dict(request.match_info), "queryStringParameters": dict(request.query)}
    got = await asyncio.get_running_loop().run_in_executor(None, history_api.handle, event, request.app[DEPS])
    return web.Response(status=got["statusCode"], text=got["body"], content_type="application/json")


async def picture(request: web.Request) -> web.StreamResponse:
    sha = request.match_info["sha"]
    key = f"{PREFIX}{sha}/thumb" if request.path.endswith("/thumb") else f"{PREFIX}{sha}"
    got = await asyncio.get_running_loop().run_in_executor(None, request.app[PICTURES].get, key)
    if got is None:
        raise web.HTTPNotFound()
    body, content_type, cache = got
    if not content_type.startswith("image/"):
        raise web.HTTPNotFound()  # only Sync's pictures, as they were stored; never sniffed
    headers = {**PICTURE_HEADERS, "Content-Type": content_type}
    if cache:
        headers["Cache-Control"] = cache  # the object's own, as CloudFront passes it on
    return web.Response(body=body, headers=headers)


def _accepted(port: int, username: str, password: str) -> bool:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, transport="websockets")
    client.username_pw_set(username, password)
    try:
        client.connect("127.0.0.1", port, keepalive=5)
        client.loop(timeout=1.0)
        return client.is_connected()
    except OSError:
        return False
    finally:
        client.disconnect()


def make_issuer(
    passwd_file: Path, reload: Callable[[], None], ws_url: str, ws_port: int
) -> Callable[[], dict[str, Any]]:
    def issue() -> dict[str, Any]:
        client_id = secrets.token_urlsafe(12)
        password = passwords.new_password()
        passwords.add_user(passwd_file, client_id, password)
        reload()
        deadline = time.monotonic() + 5
        while not _accepted(ws_port, client_id, password) and time.monotonic() < deadline:
            time.sleep(0.05)  # Mosquitto rereads its password file on SIGHUP, soon after
        return {"clientId": client_id, "username": client_id, "password": password, "wsUrl": ws_url}

    return issue


def app(
    config: dict[str, Any],
    deps: Deps,
    issue: Callable[[], dict[str, Any]],
    dist: Path | None,
    pictures: BucketPictures | None = None,
) -> web.Application:
    application = web.Application(middlewares=[_headers], client_max_size=4096)
    application[CONFIG] = config
    application[DEPS] = deps
    application[ISSUE] = issue
    application.router.add_get("/config.json", config_json)
    application.router.add_post("/api/session", session)
    application.router.add_get("/history/{room}", history)
    if pictures is not None:
        application[PICTURES] = pictures
        application.router.add_get(f"/pictures/{_SHA}", picture)
        application.router.add_get(f"/pictures/{_SHA}/thumb", picture)
    if dist is not None and (dist / "index.html").exists():
        application.router.add_get("/", lambda _r: web.FileResponse(dist / "index.html"))
        application.router.add_static("/", dist)
    return application
