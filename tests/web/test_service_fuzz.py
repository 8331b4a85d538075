"""Hostile HTTP at the Web service (issue 11): random methods, paths, headers
and bodies.  No answer is a server error, every answer carries the security
headers, API errors are typed, and a session is issued only for a valid,
same-origin request.  The picture routes too: random bodies, content types,
credentials and origins at POST /api/pictures, known, unknown and malformed
names at GET /pictures/...: a picture is taken only with a live credential from
our own page, and a refused one leaves nothing on disk.
EDGECHAT_FUZZ_HTTP_COUNT sets how many of each (CI: 600)."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import random
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer
from PIL import Image
from tests.fuzz.hostile import ODD_STRINGS, ODD_VALUES

from edgechat.broker.credentials import Credentials
from edgechat.core import names
from edgechat.core.errors import ClientError
from edgechat.labeler.intake import IntakeLimits
from edgechat.settings import Settings
from edgechat.web import make_app
from edgechat.web.pictures import Pictures
from edgechat.web.security import SECURITY_HEADERS

COUNT = int(os.environ.get("EDGECHAT_FUZZ_HTTP_COUNT", "600"))
PATHS = [
    "/", "/config.json", "/api/session", "/healthz", "/app.js", "/index.html", "/../etc/passwd",
    "/%2e%2e/%2e%2e/etc/passwd", "/api/session/../../x", "/.env", "/api/", "/x" * 300, "/%00", "/ü",
    "/app.js?<script>", "/config.json#x", "/api/pictures", f"/pictures/{'a' * 64}",
    f"/pictures/{'a' * 64}/thumb", f"/pictures/{'A' * 64}", "/pictures/../config.json", "/pictures/",
    "/pictures/%2e%2e/%2e%2e/etc/passwd", f"/pictures/{'a' * 64}/../../x", f"/pictures/{'a' * 63}",
    f"/pictures/{'a' * 64}/thumb/x",
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
    if kind == 4:  # mostly too long; 1-32 characters is a valid nick
        nick = "n" * rng.randrange(0, 5000)
        return json.dumps({"nick": nick}).encode(), _valid_nick(nick)
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
    outcomes: list[tuple[str, str, int, bool, bytes, dict[str, str]]] = []

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
                outcomes.append((method, path, response.status, ok, body[:80], headers))

    with ThreadPoolExecutor(1) as pool:  # Playwright's sync API may own this thread's loop
        pool.submit(asyncio.run, main()).result()

    sessions = [o for o in outcomes if o[:2] == ("POST", "/api/session") and o[2] == 201]
    wrongly = [o for o in sessions if not o[3]]
    assert sessions and not wrongly, f"a session was issued for a bad request: {wrongly[:3]}"
    assert len(issued) == len(sessions)


# --- pictures: POST /api/pictures and GET /pictures/... -------------------------

USER, PASSWORD = "fuzzer01", "pw-fuzzer01"
MAX_BYTES = 200_000
UPLOAD_CODES = {
    "picture_type", "unauthorized", "cross_origin", "picture_too_large", "picture_too_many_pixels",
    "picture_polyglot", "picture_corrupt", "rate_limited", "pictures_unavailable", "storage_full",
    "store_unavailable",
}  # fmt: skip


def _picture(rng: random.Random) -> bytes:
    out = io.BytesIO()
    size = (rng.randrange(1, 40), rng.randrange(1, 40))
    Image.new("RGB", size, tuple(rng.randrange(256) for _ in range(3))).save(
        out, rng.choice(["PNG", "JPEG", "WEBP"])
    )
    return out.getvalue()


def _picture_body(rng: random.Random) -> bytes:
    picture = _picture(rng)
    kind = rng.randrange(9)
    if kind <= 2:
        return picture
    if kind == 3:
        return picture[: rng.randrange(0, len(picture))]  # truncated
    if kind == 4:
        flipped = bytearray(picture)
        for _ in range(rng.randrange(1, 8)):
            flipped[rng.randrange(len(flipped))] = rng.randrange(256)
        return bytes(flipped)
    if kind == 5:
        return picture + rng.choice([b"<script>alert(1)</script>", b"<html>", b"\x00" * 10, b"PK\x03\x04"])
    if kind == 6:
        return rng.choice([b"GIF89a\x01\x00\x01\x00", b"<svg onload=alert(1)>", b"", b"%PDF-1.4", b"{}"])
    if kind == 7:
        return rng.randbytes(rng.randrange(0, 4000))
    return picture + rng.randbytes(MAX_BYTES)  # over the cap


def _auth(rng: random.Random) -> tuple[str | None, bool]:
    """An Authorization header (or none), and whether it is the live credential."""
    b64 = lambda raw: "Basic " + base64.b64encode(raw).decode()  # noqa: E731
    choices: list[tuple[str | None, bool]] = [
        (b64(f"{USER}:{PASSWORD}".encode()), True), (b64(f"{USER}:{PASSWORD}".encode()), True),
        (None, False), (b64(f"{USER}:wrong".encode()), False), (b64(USER.encode()), False),
        (b64(b"\\xff\\xfe:\\x00"), False), ("Basic !!!not-base64", False), ("Bearer " + PASSWORD, False),
        ("Basic " + "A" * 5000, False), (b64(f"{USER}:{PASSWORD}:x".encode()), False), ("", False),
        (b64(f"../{USER}:{PASSWORD}".encode()), False), ("basic", False),
    ]  # fmt: skip
    return choices[0] if rng.random() < 0.5 else rng.choice(choices)


def test_random_uploads_and_picture_paths_never_break_the_web_service(tmp_path: Path) -> None:
    (tmp_path / "dist").mkdir()
    (tmp_path / "dist" / "index.html").write_text("<!doctype html><title>t</title>")
    rng = random.Random(7)
    accepted: set[str] = set()
    statuses: dict[int, int] = {}

    async def issuer(nick: str, address: str) -> Credentials:
        raise AssertionError("no sessions here")

    async def main() -> None:
        clock = iter(range(0, 10**12, 400))  # 2.5 uploads a second: some are rate limited
        pictures = Pictures(tmp_path / "data", lambda u, p: (u, p) == (USER, PASSWORD), lambda: next(clock),
                            limits=IntakeLimits(max_bytes=MAX_BYTES))  # fmt: skip
        settings = Settings(ws_port=9101, mqtt_port=1999, data_dir=tmp_path / "data")
        app = make_app(settings, tmp_path / "dist", issuer, pictures=pictures)
        async with TestClient(TestServer(app)) as client:
            own = f"http://{client.host}:{client.port}"
            for _ in range(COUNT):
                if rng.random() < 0.25:  # a download: known, unknown or malformed names
                    sha = rng.choice(sorted(accepted) or ["0" * 64])
                    path = rng.choice([f"/pictures/{sha}", f"/pictures/{sha}/thumb", rng.choice(PATHS)])
                    response = await client.request(rng.choice(["GET", "HEAD", "POST", "DELETE"]), path)
                    await response.read()
                    assert response.status < 500, (path, response.status)
                    served = response.url.path  # after the client's own ../ folding
                    if response.status == 200 and served.startswith("/pictures/"):
                        assert response.headers["X-Content-Type-Options"] == "nosniff"
                        assert "sandbox" in response.headers["Content-Security-Policy"]
                        assert served.split("/")[2] in accepted
                    continue
                header, live = _auth(rng)
                headers = {"Content-Type": rng.choice(["image/png", "text/html", "", "multipart/form-data"])}
                if header is not None:
                    headers["Authorization"] = header
                origin = rng.choice([None, own]) if rng.random() < 0.8 else rng.choice(ORIGINS)
                if origin is not None:
                    headers["Origin"] = origin
                if rng.random() < 0.2:
                    headers["Sec-Fetch-Site"] = rng.choice(["same-origin", "cross-site", "none"])
                response = await client.post("/api/pictures", data=_picture_body(rng), headers=headers)
                body = await response.read()
                statuses[response.status] = statuses.get(response.status, 0) + 1
                assert response.status < 500, (response.status, body[:200])
                for name in SECURITY_HEADERS:
                    assert name in response.headers, name
                answer = json.loads(body)
                if response.status in (200, 201):
                    same = (
                        origin in (None, own)
                        and headers.get("Sec-Fetch-Site", "same-origin") == "same-origin"
                    )
                    assert live and same, "a picture was taken without a live credential from our own page"
                    accepted.add(answer["sha256"])
                else:
                    assert answer["type"] == "error" and answer["message"], answer
                    assert answer["code"] in UPLOAD_CODES, answer  # docs/protocol.md's table

    with ThreadPoolExecutor(1) as pool:  # Playwright's sync API may own this thread's loop
        pool.submit(asyncio.run, main()).result()

    print(f"\nuploads by status: {dict(sorted(statuses.items()))}; {len(accepted)} pictures kept")
    assert accepted and {201, 401, 403, 415} <= statuses.keys(), statuses
    # A refused upload leaves nothing behind: on disk, exactly the accepted pictures and their thumbnails.
    files = [p for p in (tmp_path / "data" / "pictures").rglob("*") if p.is_file()]
    assert len(files) == 2 * len(accepted) and all(any(sha in str(f) for sha in accepted) for f in files)
