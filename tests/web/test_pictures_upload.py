"""Picture uploads over HTTP: the session credential, the intake's checks as
typed HTTP errors, nothing left behind by a refused upload, safe downloads."""

from __future__ import annotations

import asyncio
import base64
import io
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from aiohttp.test_utils import TestClient, TestServer
from PIL import Image
from skimage import data as samples

from edgechat.broker.credentials import Credentials, authenticate
from edgechat.broker.passwords import add_user, hash_password
from edgechat.core.attachments import attachment
from edgechat.labeler.intake import IntakeLimits
from edgechat.settings import Settings
from edgechat.web import make_app
from edgechat.web.pictures import Pictures, basic_credentials

USERS = {"alice01": "s3cret-alice"}
AUTH = {"Authorization": "Basic " + base64.b64encode(b"alice01:s3cret-alice").decode()}
MAX_BYTES = 400_000


def jpeg(rgb: np.ndarray, **kwargs: Any) -> bytes:
    out = io.BytesIO()
    Image.fromarray(rgb).save(out, "JPEG", **kwargs)
    return out.getvalue()


@pytest.fixture(scope="module")
def cat() -> bytes:
    return jpeg(samples.chelsea())


async def _no_issuer(nick: str, address: str) -> Credentials:
    raise AssertionError("no sessions here")


def _run(tmp: Path, body: Callable[[TestClient[Any, Any], Path], Awaitable[None]]) -> None:
    settings = Settings(ws_port=9101, mqtt_port=1999)
    (tmp / "dist").mkdir(exist_ok=True)
    (tmp / "dist" / "index.html").write_text("<!doctype html><title>t</title>")

    async def main() -> None:
        clock = iter(range(0, 10**9, 10))
        pictures = Pictures(tmp / "data", lambda u, p: USERS.get(u) == p, lambda: next(clock),
                            limits=IntakeLimits(max_bytes=MAX_BYTES))  # fmt: skip
        app = make_app(settings, tmp / "dist", _no_issuer, pictures=pictures)
        async with TestClient(TestServer(app)) as client:
            await body(client, tmp / "data" / "pictures")

    # In a thread of its own: Playwright's sync API may own this thread's loop.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, main()).result()


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_an_upload_is_cleaned_stored_by_hash_and_served_back_safely(tmp_path: Path, cat: bytes) -> None:
    # A GPS position in the EXIF: it must not survive the upload.
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (51.0, 30.0, 0.0), 3: "W", 4: (0.0, 7.0, 0.0)}
    exif[0x010F] = "CameraMaker"
    tagged = jpeg(samples.chelsea(), exif=exif.tobytes())
    assert b"CameraMaker" in tagged

    async def body(client: TestClient[Any, Any], root: Path) -> None:
        resp = await client.post("/api/pictures", data=tagged, headers={**AUTH, "Content-Type": "text/html"})
        assert resp.status == 201, await resp.text()
        ref = await resp.json()
        parsed = attachment(ref)  # exactly what a message may carry
        assert (parsed.type, parsed.width, parsed.height) == ("image/jpeg", 451, 300)
        assert (parsed.thumb_width, parsed.thumb_height) == (320, 213)
        assert ref["url"] == f"/pictures/{parsed.sha256}"

        got = await client.get(ref["url"])
        assert got.status == 200
        assert got.headers["Content-Type"] == "image/jpeg"  # the stored type, whatever was claimed
        assert got.headers["X-Content-Type-Options"] == "nosniff"
        assert "sandbox" in got.headers["Content-Security-Policy"]
        assert "immutable" in got.headers["Cache-Control"]
        clean = await got.read()
        assert len(clean) == parsed.bytes and b"CameraMaker" not in clean
        with Image.open(io.BytesIO(clean)) as im:
            assert not im.getexif() and im.size == (451, 300)

        thumb = await client.get(ref["thumbnailUrl"])
        assert thumb.status == 200 and thumb.headers["Content-Type"] == "image/jpeg"
        with Image.open(io.BytesIO(await thumb.read())) as im:
            assert im.size == (320, 213)

        again = await client.post("/api/pictures", data=tagged, headers=AUTH)
        assert again.status == 200 and (await again.json())["sha256"] == parsed.sha256
        assert len(_files(root)) == 2  # the picture and its thumbnail, once

        missing_paths = (
            f"/pictures/{'0' * 64}", f"/pictures/{'0' * 64}/thumb",
            f"/pictures/{parsed.sha256.upper()}", "/pictures/..%2f..%2fsettings.json",
        )  # fmt: skip
        for missing in missing_paths:
            assert (await client.get(missing)).status == 404, missing

    _run(tmp_path, body)


def _bomb() -> bytes:
    """A 6000 x 5000 picture (30 MP, over the 24 MP cap) in a few kilobytes."""
    out = io.BytesIO()
    Image.new("1", (6000, 5000)).save(out, "PNG", optimize=True)
    return out.getvalue()


def _abuse(cat: bytes) -> dict[str, tuple[bytes, int, str]]:
    gif = io.BytesIO()
    Image.new("RGB", (8, 8)).save(gif, "GIF")
    commented = cat[:2] + b"\xff\xfe\x00\x20<script>alert(1)</script>......." + cat[2:]
    return {
        "oversize": (jpeg(np.random.default_rng(1).integers(0, 255, (600, 800, 3), np.uint8), quality=100),
                     413, "picture_too_large"),
        "gif": (gif.getvalue(), 415, "picture_type"),
        "svg": (b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', 415, "picture_type"),
        "html named .jpg": (b"<!doctype html><script>alert(1)</script>", 415, "picture_type"),
        "empty": (b"", 400, "picture_type"),
        "truncated": (cat[: len(cat) // 2], 422, "picture_corrupt"),
        "bomb": (_bomb(), 413, "picture_too_many_pixels"),
        "jpeg+html": (cat + b"<html><script>alert(1)</script></html>", 415, "picture_polyglot"),
        "script in a comment": (commented, 415, "picture_polyglot"),
    }  # fmt: skip


def test_abusive_uploads_get_typed_errors_and_leave_nothing_behind(tmp_path: Path, cat: bytes) -> None:
    cases = _abuse(cat)
    assert len(cases["oversize"][0]) > MAX_BYTES

    async def body(client: TestClient[Any, Any], root: Path) -> None:
        for name, (payload, status, code) in cases.items():
            resp = await client.post("/api/pictures", data=payload, headers=AUTH)
            err = await resp.json()
            assert (resp.status, err["code"], err["type"]) == (status, code, "error"), name
            assert err["field"] == "picture" and err["message"], name
            assert _files(root) == [], name  # no picture, thumbnail or temporary file

        async def chunks():  # no Content-Length: refused while streaming
            for _ in range(10):
                yield b"\xff\xd8\xff" + b"\0" * 100_000

        resp = await client.post("/api/pictures", data=chunks(), headers=AUTH)
        assert resp.status == 413 and (await resp.json())["code"] == "picture_too_large"
        assert _files(root) == []

    _run(tmp_path, body)


def test_only_a_live_session_from_our_own_pages_may_upload(tmp_path: Path, cat: bytes) -> None:
    wrong = {"Authorization": "Basic " + base64.b64encode(b"alice01:guess").decode()}

    async def body(client: TestClient[Any, Any], root: Path) -> None:
        for headers in ({}, wrong, {"Authorization": "Bearer x"}, {"Authorization": "Basic %%%"}):
            resp = await client.post("/api/pictures", data=cat, headers=headers)
            assert resp.status == 401 and (await resp.json())["code"] == "unauthorized"
            assert "WWW-Authenticate" not in resp.headers  # no browser login dialog
        cross = {**AUTH, "Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}
        resp = await client.post("/api/pictures", data=cat, headers=cross)
        assert resp.status == 403 and (await resp.json())["code"] == "cross_origin"
        assert _files(root) == []
        statuses = [(await client.post("/api/pictures", data=cat, headers=AUTH)).status for _ in range(25)]
        assert statuses[0] == 201 and 429 in statuses  # 20 at once, then one a second

    _run(tmp_path, body)


def test_basic_credentials_and_the_broker_password_file(tmp_path: Path) -> None:
    assert basic_credentials("Basic " + base64.b64encode(b"a:b:c").decode()) == ("a", "b:c")
    for bad in (None, "", "Basic", "Basic !!", "Digest x", "Basic " + base64.b64encode(b"nocolon").decode()):
        assert basic_credentials(bad) is None
    settings = Settings(data_dir=tmp_path)
    passwords = tmp_path / "broker" / "clients.passwd"
    passwords.parent.mkdir(parents=True)
    add_user(passwords, "bob", "pw-bob")
    assert hash_password("x") != hash_password("x")  # salted
    assert authenticate(settings, "bob", "pw-bob", 0)
    assert not authenticate(settings, "bob", "pw-nope", 0)
    assert not authenticate(settings, "carol", "pw-bob", 0)
    (tmp_path / "broker" / "clients.expiry.json").write_text('{"bob": 1000}')
    assert authenticate(settings, "bob", "pw-bob", 999)
    assert not authenticate(settings, "bob", "pw-bob", 1000)  # expired, like at the broker
