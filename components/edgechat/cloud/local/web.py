"""The local cloud's HTTP side: the web app in cloud mode, ``/config.json``,
``POST /api/session`` (the stand-in for Cognito: a per-session broker login
whose username is the client id) and ``GET /history/{room}`` (the template's
HistoryFunction, called in-process)."""

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
from edgechat.web.security import SECURITY_HEADERS

CONFIG: Final = web.AppKey("config", dict)
DEPS: Final = web.AppKey("deps", Deps)
ISSUE: Final = web.AppKey("issue", Callable)


@web.middleware
async def _headers(request: web.Request, handler: Any) -> web.StreamResponse:
    response = await handler(request)
    response.headers.update(SECURITY_HEADERS)
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
    config: dict[str, Any], deps: Deps, issue: Callable[[], dict[str, Any]], dist: Path | None
) -> web.Application:
    application = web.Application(middlewares=[_headers], client_max_size=4096)
    application[CONFIG] = config
    application[DEPS] = deps
    application[ISSUE] = issue
    application.router.add_get("/config.json", config_json)
    application.router.add_post("/api/session", session)
    application.router.add_get("/history/{room}", history)
    if dist is not None and (dist / "index.html").exists():
        application.router.add_get("/", lambda _r: web.FileResponse(dist / "index.html"))
        application.router.add_static("/", dist)
    return application
