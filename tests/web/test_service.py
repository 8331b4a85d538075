"""The Web service without a broker: routes, headers, the session guard."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from edgechat.broker import bans
from edgechat.broker.credentials import Credentials, issue, revoke
from edgechat.settings import Settings
from edgechat.web import make_app
from edgechat.web.security import host_of, same_origin


def test_host_of_accepts_names_and_addresses() -> None:
    assert host_of("192.168.1.20:8080") == "192.168.1.20"
    assert host_of("edge.local") == "edge.local"
    assert host_of("[fe80::1]:8080") == "[fe80::1]"
    for bad in (None, "", "a b", "x/y", "evil.com@x", "h:port", "<script>"):
        assert host_of(bad) is None


def test_same_origin() -> None:
    own = "http://edge:8080"
    assert same_origin({}, own)  # not a browser: no forgery possible
    assert same_origin({"Origin": own, "Sec-Fetch-Site": "same-origin"}, own)
    assert not same_origin({"Origin": "http://evil"}, own)
    assert not same_origin({"Sec-Fetch-Site": "cross-site"}, own)
    assert not same_origin({"Sec-Fetch-Site": "same-site", "Origin": "http://edge:9000"}, own)


async def _fake_issuer(nick: str, address: str) -> Credentials:
    return Credentials("cid123", "cid123", "pw", nick, "mqtt://x:1883", "ws://x:9001/mqtt")


def _run(dist: Path, body: Callable[[TestClient[Any, Any]], Awaitable[None]]) -> None:
    # Its own data dir: the session gate reads bans and sessions from there.
    settings = Settings(ws_port=9101, mqtt_port=1999, data_dir=dist / "data")

    async def main() -> None:
        async with TestClient(TestServer(make_app(settings, dist, _fake_issuer))) as client:
            await body(client)

    # In a thread of its own: Playwright's sync API may own this thread's loop.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, main()).result()


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    (tmp_path / "index.html").write_text("<!doctype html><title>t</title>")
    (tmp_path / "app.js").write_text("1")
    return tmp_path


def test_pages_headers_and_config(dist: Path) -> None:
    async def body(client: TestClient[Any, Any]) -> None:
        for path in ("/", "/app.js", "/config.json", "/healthz", "/nope"):
            resp = await client.get(path, headers={"Host": "192.168.1.20:8080"})
            csp = resp.headers["Content-Security-Policy"]
            assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
            assert resp.headers["X-Content-Type-Options"] == "nosniff"
            assert resp.headers["Referrer-Policy"] == "no-referrer"
        resp = await client.get("/config.json", headers={"Host": "192.168.1.20:8080"})
        config = await resp.json()
        assert config["wsUrl"] == "ws://192.168.1.20:9101/mqtt"
        assert config["mode"] == "edge" and config["limits"]["historyMax"] == 200
        assert (await client.get("/%2e%2e/pyproject.toml")).status == 404
        assert (await client.get("/healthz")).status == 200

    _run(dist, body)


def test_session(dist: Path) -> None:
    async def body(client: TestClient[Any, Any]) -> None:
        ok = await client.post("/api/session", json={"nick": " Ann "}, headers={"Host": "10.0.0.5:80"})
        assert ok.status == 201
        creds = await ok.json()
        assert creds["nick"] == "Ann" and creds["clientId"] == "cid123"
        assert creds["wsUrl"] == "ws://10.0.0.5:9101/mqtt"
        assert ok.headers["Cache-Control"] == "no-store"

        cross = await client.post("/api/session", json={"nick": "Ann"}, headers={"Origin": "http://evil"})
        assert cross.status == 403 and (await cross.json())["code"] == "cross_origin"
        fetch_site = {"Sec-Fetch-Site": "cross-site"}
        site = await client.post("/api/session", json={"nick": "Ann"}, headers=fetch_site)
        assert site.status == 403
        form = await client.post("/api/session", data={"nick": "Ann"})
        assert form.status == 415
        cases = [
            (b"{", "bad_json"), (b"[]", "not_an_object"), (b"{}", "missing_field"),
            (json.dumps({"nick": ""}).encode(), "invalid_field"),
            (json.dumps({"nick": "a\u202eb"}).encode(), "invalid_field"),
            (json.dumps({"nick": "x" * 2000}).encode(), "too_large"),
        ]  # fmt: skip
        for raw, code in cases:
            resp = await client.post("/api/session", data=raw, headers={"Content-Type": "application/json"})
            error = await resp.json()
            assert resp.status in (400, 413) and error["type"] == "error" and error["code"] == code, raw

    _run(dist, body)


def test_sessions_are_rate_limited_per_address(dist: Path) -> None:
    settings = Settings(data_dir=dist / "data")
    frozen_clock = lambda: 1_000  # noqa: E731  (no time passes: no token comes back)

    async def main() -> None:
        app = make_app(settings, dist, _fake_issuer, clock=frozen_clock)
        async with TestClient(TestServer(app)) as client:
            codes = [(await client.post("/api/session", json={"nick": "n"})).status for _ in range(31)]
            assert codes == [201] * 30 + [429]
            limited = await client.post("/api/session", json={"nick": "n"})
            error = await limited.json()
            assert error["code"] == "rate_limited" and error["retryable"] and error["retryAfterMs"] > 0
            assert int(limited.headers["Retry-After"]) >= 1

    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, main()).result()


def test_a_banned_address_and_a_full_one_get_typed_errors(dist: Path) -> None:
    """The session gate with real credential files (no broker: nothing to reload)."""
    settings = Settings(data_dir=dist / "data", max_sessions_per_address=2)
    asked: list[str] = []

    async def issuer(nick: str, address: str) -> Credentials:
        asked.append(address)
        return await asyncio.to_thread(issue, settings, nick, address=address)

    async def main() -> None:
        async with TestClient(TestServer(make_app(settings, dist, issuer))) as client:
            first = await client.post("/api/session", json={"nick": "Bob"})
            assert first.status == 201 and asked == ["127.0.0.1"]  # the address goes with it
            bob = (await first.json())["clientId"]
            now = time.time_ns() // 1_000_000
            assert bans.ban(settings, bob, now + 60_000, "spam", now) == "127.0.0.1"
            refused = await client.post("/api/session", json={"nick": "Bob"})
            error = await refused.json()
            assert refused.status == 403
            assert (error["code"], error["retryable"], error["untilTs"]) == ("banned", False, now + 60_000)
            assert asked == ["127.0.0.1"]  # never issued
            assert bans.unban(settings, bob, now) == ["127.0.0.1"]
            assert (await client.post("/api/session", json={"nick": "Bob"})).status == 201  # 2 of 2
            full = await client.post("/api/session", json={"nick": "Eve"})
            error = await full.json()
            assert full.status == 429 and error["code"] == "too_many_sessions"
            assert error["retryable"] and error["retryAfterMs"] > 0 and full.headers["Retry-After"]
            revoke(settings, bob)  # a revoked session stops counting
            assert (await client.post("/api/session", json={"nick": "Eve"})).status == 201

    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, main()).result()
