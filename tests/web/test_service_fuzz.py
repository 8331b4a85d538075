"""Hostile HTTP at the Web service (issue 11): random methods, paths, headers
and bodies.  No answer is a server error, every answer carries the security
headers, API errors are typed, and a session is issued only for a valid,
same-origin request.  EDGECHAT_FUZZ_HTTP_COUNT sets how many (CI: 600)."""

from __future__ import annotations

import asyncio
import json
import os
import random
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer
from tests.fuzz.hostile import ODD_STRINGS, ODD_VALUES

from edgechat.broker.credentials import Credentials
from edgechat.core import names
from edgechat.core.errors import ClientError
from edgechat.settings import Settings
from edgechat.web import make_app
from edgechat.web.security import SECURITY_HEADERS

COUNT = int(os.environ.get("EDGECHAT_FUZZ_HTTP_COUNT", "600"))
PATHS = [
    "/", "/config.json", "/api/session", "/healthz", "/app.js", "/index.html", "/../etc/passwd",
    "/%2e%2e/%2e%2e/etc/passwd", "/api/session/../../x", "/.env", "/api/", "/x" * 300, "/%00", "/ü",
    "/app.js?<script>", "/config.json#x",
]  # fmt: skip
METHODS = ["GET", "POST", "PUT", "DELETE", "OPTIONS", "HEAD", "PATCH"]
ORIGINS = [None, "http://127.0.0.1", "http://evil.example", "null", "", "http://127.0.0.1:1", "<script>"]


def _body(rng: random.Random) -> tuple[bytes, bool]:
    """A body, and whether it is a valid session request's."""
    kind = rng.randrange(6)
    if kind == 0:
        return rng.randbytes(rng.randrange(0, 3000)), False
    if kind == 1:
        value = rng.choice(ODD_VALUES)
        return json.dumps({"nick": value}).encode(), _valid_nick(value)
    if kind == 2:
        nick = rng.choice(ODD_STRINGS)
        return json.dumps({"nick": nick}).encode(), _valid_nick(nick)
    if kind == 3:
        return json.dumps(rng.choice(ODD_VALUES)).encode(), False
    if kind == 4:
        return b'{"nick": "' + b"n" * rng.randrange(0, 5000) + b'"}', False
    return json.dumps({"nick": "Ann", "x": rng.choice(ODD_STRINGS)}).encode(), True


def _valid_nick(value: object) -> bool:
    try:
        names.nick(value)
    except ClientError:
        return False
    return True


def test_random_requests_never_break_the_web_service(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<!doctype html><title>t</title>")
    (tmp_path / "app.js").write_text("1")
    issued: list[str] = []

    async def issuer(nick: str, address: str) -> Credentials:
        issued.append(nick)
        return Credentials("cid123", "cid123", "pw", nick, "mqtt://x:1883", "ws://x:9001/mqtt")

    rng = random.Random(11)
    outcomes: list[tuple[str, str, int, bool]] = []

    async def main() -> None:
        app = make_app(Settings(ws_port=9101, mqtt_port=1999, data_dir=tmp_path / "data"), tmp_path, issuer)
        async with TestClient(TestServer(app)) as client:
            for _ in range(COUNT):
                method, path = rng.choice(METHODS), rng.choice(PATHS)
                if rng.random() < 0.5:
                    method, path = "POST", "/api/session"
                body, valid = _body(rng)
                headers = {
                    "Content-Type": rng.choice(["application/json", "text/plain", "", "application/x"])
                }
                origin = rng.choice(ORIGINS)
                if origin is not None:
                    headers["Origin"] = origin
                response = await client.request(method, path, data=body, headers=headers)
                text = await response.read()
                assert response.status < 500, (method, path, response.status, text[:200])
                for header in SECURITY_HEADERS:
                    assert header in response.headers, (method, path, header)
                if path == "/api/session" and response.status >= 400 and method == "POST":
                    error = json.loads(text)
                    assert error["type"] == "error" and error["code"] and error["message"]
                same_origin = origin in (None, f"http://{client.host}:{client.port}")
                ok = valid and same_origin and headers["Content-Type"] == "application/json"
                outcomes.append((method, path, response.status, ok))

    with ThreadPoolExecutor(1) as pool:  # Playwright's sync API may own this thread's loop
        pool.submit(asyncio.run, main()).result()

    sessions = [o for o in outcomes if o[:2] == ("POST", "/api/session") and o[2] == 201]
    assert sessions and all(ok for *_, ok in sessions), "a session was issued for a bad request"
    assert len(issued) == len(sessions)
