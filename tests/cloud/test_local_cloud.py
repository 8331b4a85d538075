"""End to end against `edgechat cloud up`: MQTT clients chat through the stand-in
broker, the rules runner (the template's SQL) and the handlers, with history in
DynamoDB (moto), and a browser page in the local cloud's mode.  The app's
Cognito/SigV4 path is tested in tests/web/test_cloud_mode.py."""

import json
import os
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from edgechat.cloud.local.child import LocalCloud
from edgechat.cloud.local.up import issue_core_certificate
from tests.support.edge import ChatClient

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def local_cloud(tmp_path_factory, moto_url) -> Iterator[dict[str, str]]:
    # the session's moto_server, to save starting a second one
    with LocalCloud(tmp_path_factory.mktemp("cloud"), moto_url=moto_url) as cloud:
        yield cloud.info
    assert cloud.proc is not None and cloud.proc.returncode == 0, (cloud.data_dir / "cloud.log").read_text()


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/", maxsplit=1)[0])


def _http(url: str, data: bytes | None = None) -> dict:
    with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=10) as r:
        return json.loads(r.read())


def browser(cloud: dict[str, str], nick: str) -> ChatClient:
    creds = _http(f"{cloud['web']}/api/session", b"{}")
    c = ChatClient(_port(cloud["ws"]), creds["username"], creds["password"], transport="websockets")
    assert c.connect() == 0
    c.subscribe(f"chat/in/{c.client_id}", "chat/pub/lobby")
    assert c.request({"type": "hello", "nick": nick}, "welcome")["site"] == "cloud"
    return c


def test_config_is_cloud_mode(local_cloud):
    config = _http(f"{local_cloud['web']}/config.json")
    assert config["mode"] == "cloud" and config["wsUrl"] == local_cloud["ws"]
    assert config["cloud"]["identityPoolId"].startswith("us-east-1:")


def test_two_clients_chat_and_history_comes_from_dynamodb(local_cloud):
    ann, bob = browser(local_cloud, "Ann"), browser(local_cloud, "Bob")
    try:
        ann.request({"type": "join", "room": "lobby"}, "joined")
        ann.send({"type": "message", "id": "e2e00001", "room": "lobby", "text": "hi from the cloud"})
        ((_, ack),) = ann.wait_for(lambda t, b: b.get("type") == "ack")
        assert ack["seq"] == 1 and ack["orderKey"].endswith("!cloud!e2e00001")
        ((_, seen),) = bob.wait_for(lambda t, b: t == "chat/pub/lobby" and b.get("type") == "message")
        assert seen["text"] == "hi from the cloud" and seen["nick"] == "Ann"
        page = bob.request({"type": "history", "room": "lobby"}, "history")
        assert [m["id"] for m in page["messages"]] == ["e2e00001"]
        cold = _http(f"{local_cloud['web']}/history/lobby?limit=5")
        assert [m["text"] for m in cold["messages"]] == ["hi from the cloud"]
        # speaking as someone else goes nowhere (the stand-in's ACL, IoT's policy)
        ann.send(
            {"type": "message", "id": "e2e00002", "room": "lobby", "text": "forged"},
            f"chat/out/{bob.client_id}",
        )
        # a high-volume event goes through Kinesis (moto) and the consumer
        ann.send({"type": "typing", "room": "lobby"}, f"chat/stream/{ann.client_id}")
        ((_, activity),) = bob.wait_for(lambda t, b: b.get("type") == "activity", timeout_s=20)
        assert [t["clientId"] for t in activity["typing"]] == [ann.client_id]
        # a reaction is stored in the table; a page joining later asks the cloud for the counts
        react = {"type": "reaction", "room": "lobby", "messageId": "e2e00001", "emoji": "👍"}
        ann.send(react, f"chat/stream/{ann.client_id}")
        bob.wait_for(lambda t, b: t == "chat/pub/lobby" and "reactions" in b, timeout_s=20)
        bob.send({"type": "reactions", "room": "lobby"}, f"chat/stream/{bob.client_id}")
        mine = f"chat/in/{bob.client_id}"
        ((_, answer),) = bob.wait_for(lambda t, b: t == mine and b.get("type") == "activity", timeout_s=20)
        assert answer["reactions"] == [{"messageId": "e2e00001", "counts": {"👍": 1}}]
        # a dropped connection's Last Will leaves the room
        ann.drop()
        bob.wait_for(lambda t, b: b.get("type") == "presence" and b.get("change") == "leave")
        assert [
            m["id"] for m in bob.request({"type": "history", "room": "lobby"}, "history")["messages"]
        ] == ["e2e00001"]
    finally:
        bob.close()


def core_client(cloud: dict[str, str], thing: str) -> ChatClient:
    """A paho client acting as edge core ``thing``: mTLS with its certificate."""
    cert = issue_core_certificate(Path(cloud["certs"]), thing)
    core = ChatClient(_port(cloud["mqtts"]), None, None, client_id=thing, will=False)
    core.client.tls_set(ca_certs=cloud["ca"], certfile=str(cert.cert), keyfile=str(cert.key))
    assert core.connect() == 0
    return core


def test_an_edge_core_syncs_over_mutual_tls(local_cloud, tmp_path):
    core = core_client(local_cloud, "site-a")
    watcher = browser(local_cloud, "Watcher")
    try:
        core.subscribe("sync/site-a/down")
        message = {
            "type": "message", "id": "edge0001", "room": "lobby", "seq": 3, "ts": 1000,
            "orderKey": "00000000003e80000!site-a!edge0001"[1:], "site": "site-a", "clientId": "eve",
            "nick": "Eve", "text": "from the edge",
        }  # fmt: skip
        batch = {"type": "sync", "batchId": "b1", "messages": [message]}
        core.send(batch, "sync/site-a/up")
        ((_, ack),) = core.wait_for(lambda t, b: t == "sync/site-a/down")
        assert ack["accepted"][0]["id"] == "edge0001" and not ack["accepted"][0]["duplicate"]
        watcher.wait_for(lambda t, b: b.get("id") == "edge0001")
        core.send(batch, "sync/site-b/up")  # not its topic: the broker drops it
        time.sleep(0.5)
        assert len(core.events("sync/site-a/down")) == 1
    finally:
        core.close()
        watcher.close()


def test_a_core_gets_live_fan_out_backfill_and_room_state(local_cloud):
    core = core_client(local_cloud, "site-b")
    ann = browser(local_cloud, "Ann")
    try:
        core.subscribe("sync/site-b/down", "chat/pub/+")
        ann.subscribe("chat/pub/fanout")
        ann.request({"type": "join", "room": "fanout"}, "joined")
        ann.send({"type": "message", "id": "fan00001", "room": "fanout", "text": "from a cloud browser"})
        # a browser's message reaches the core live, numbered by the cloud
        ((_, live),) = core.wait_for(lambda t, b: t == "chat/pub/fanout" and b.get("type") == "message")
        assert live["id"] == "fan00001" and live["seq"] == 1 and live["site"] == "cloud"
        core.send({"type": "backfill", "requestId": "r1", "room": "fanout", "after": 0, "limit": 10},
                  "sync/site-b/up")  # fmt: skip
        ((_, page),) = core.wait_for(lambda t, b: b.get("type") == "page")
        assert [(m["id"], m["seq"]) for m in page["messages"]] == [("fan00001", 1)] and not page["hasMore"]
        core.send({"type": "rooms", "requestId": "r2"}, "sync/site-b/up")
        ((_, state),) = core.wait_for(lambda t, b: b.get("type") == "roomsState")
        assert {"room": "fanout", "lastSeq": 1, "lastRevSeq": 0} in state["rooms"]
        # a core may read rooms, never speak in them or as a browser
        core.send({"type": "message", "id": "fan00002", "room": "fanout", "text": "x"}, "chat/pub/fanout")
        core.send({"type": "message", "id": "fan00003", "room": "fanout", "text": "x"}, "chat/out/site-b")
        time.sleep(0.5)
        assert {b.get("id") for _, b in ann.received} & {"fan00002", "fan00003"} == set()
    finally:
        core.close()
        ann.close()


def test_the_stand_in_broker_comes_back_after_kill_9(local_cloud):
    pid_file = Path(local_cloud["certs"]).parent / "mosquitto.pid"
    old = int(pid_file.read_text())
    os.kill(old, signal.SIGKILL)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        time.sleep(0.2)
        new = int(pid_file.read_text())
        if new != old:
            break
    assert new != old, "cloud up did not restart its broker"
    # the rules runner reconnects by itself: a core's batch is ingested and acked again
    deadline, core = time.monotonic() + 15, None
    while core is None:
        try:
            core = core_client(local_cloud, "site-c")
        except (OSError, AssertionError, TimeoutError):
            assert time.monotonic() < deadline, "the broker did not come back"
            time.sleep(0.2)
    try:
        core.subscribe("sync/site-c/down")
        deadline = time.monotonic() + 15
        while not core.events("sync/site-c/down", "roomsState"):
            assert time.monotonic() < deadline, "no answer after the broker restarted"
            core.send({"type": "rooms", "requestId": "again"}, "sync/site-c/up")
            time.sleep(0.5)
    finally:
        core.close()


CHROMIUM = Path("/usr/bin/chromium")
DIST = Path(__file__).resolve().parents[2] / "web" / "dist"


@contextmanager
def cloud_page(cloud: dict[str, str], room: str, nick: str) -> Iterator[Any]:
    """A Chromium page of the app in the local cloud, in ``room``, connected."""
    sync_api = pytest.importorskip("playwright.sync_api")
    args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"]
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=args)
        try:
            page = chromium.new_context().new_page()
            page.set_default_timeout(30_000)
            page.goto(f"{cloud['web']}/#/room/{room}")
            page.fill("#nick-input", nick)
            page.click("#nick-save")
            page.wait_for_selector('#banner[data-status="connected"]')
            yield page
        finally:
            chromium.close()


@pytest.mark.skipif(
    not CHROMIUM.exists() or not (DIST / "index.html").exists(), reason="no chromium or web/dist"
)
def test_a_browser_page_and_a_paho_client_chat(local_cloud):
    # The web app's session flow (POST /api/session, then MQTT over WebSockets)
    # against the cloud's stand-ins (the local cloud's mode: `cloud.local`).
    device = browser(local_cloud, "Sensor")
    device.subscribe("chat/pub/cloudroom")
    try:
        with cloud_page(local_cloud, "cloudroom", "Pat") as page:
            page.fill("#text", "hello from a cloud page")
            page.press("#text", "Enter")
            ((_, seen),) = device.wait_for(lambda t, b: b.get("text") == "hello from a cloud page", 30)
            assert seen["nick"] == "Pat" and seen["site"] == "cloud"
            device.send({"type": "message", "id": "dev00001", "room": "cloudroom", "text": "reading 21.5"})
            page.wait_for_function(
                "() => [...document.querySelectorAll('#messages li .text')]"
                ".some(e => e.textContent === 'reading 21.5')"
            )
    finally:
        device.close()


@pytest.fixture(scope="module")
def synced_picture(local_cloud, tmp_path_factory) -> dict:
    """A PNG picture put in the local cloud's bucket as a site's Sync puts it
    (S3Pictures); its attachment reference, as the message carries it."""
    import io

    from PIL import Image

    from edgechat.labeler.intake import PictureStore, accept
    from edgechat.labeler.s3 import S3Pictures
    from tests.support.moto import client

    im = Image.new("RGB", (96, 64))
    im.putdata([(x * 2, y * 3, 120) for y in range(64) for x in range(96)])
    png = io.BytesIO()
    im.save(png, "PNG")
    store = PictureStore(tmp_path_factory.mktemp("site-pictures"))
    stored = accept(png.getvalue(), store).picture
    assert S3Pictures(client(local_cloud["moto"], "s3"), local_cloud["pictures"], store).upload(stored.sha256)
    return {"ref": stored.to_json(), "data": stored.data, "thumbnail": stored.thumbnail}


def test_pictures_sync_put_are_served_like_the_edge_serves_them(local_cloud, synced_picture):
    from edgechat.web.pictures import PICTURE_HEADERS

    sha = synced_picture["ref"]["sha256"]
    for path, body, content_type in (
        (f"/pictures/{sha}", synced_picture["data"], "image/png"),
        (f"/pictures/{sha}/thumb", synced_picture["thumbnail"], "image/jpeg"),
    ):
        with urllib.request.urlopen(f"{local_cloud['web']}{path}", timeout=10) as r:
            assert r.read() == body
            assert r.headers["Content-Type"] == content_type
            for name, value in PICTURE_HEADERS.items():  # sandboxed, nosniff, immutable
                assert r.headers[name] == value, name
            assert r.headers["X-Frame-Options"] == "DENY"  # and the app's other headers
    for missing in (f"/pictures/{'0' * 64}", f"/pictures/{'0' * 64}/thumb", "/pictures/../config.json"):
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(f"{local_cloud['web']}{missing}", timeout=10)
        assert err.value.code == 404, missing
    assert _http(f"{local_cloud['web']}/config.json")["picturesUrl"] == "/pictures/"


@pytest.mark.skipif(
    not CHROMIUM.exists() or not (DIST / "index.html").exists(), reason="no chromium or web/dist"
)
def test_a_cloud_page_shows_a_picture_a_site_synced(local_cloud, synced_picture):
    # A site's message with an attachment comes up the Sync λ path (sync/<thing>/up);
    # the cloud page shows its thumbnail from the bucket, and offers no upload.
    ref = synced_picture["ref"]
    core = core_client(local_cloud, "site-p")
    try:
        with cloud_page(local_cloud, "snaps", "Viv") as page:
            assert not page.is_visible("label.attach"), "cloud mode has no upload path"
            core.subscribe("sync/site-p/down")
            message = {
                "type": "message", "id": "pic00001", "room": "snaps", "seq": 1, "ts": 2000,
                "orderKey": "0000000007d00000!site-p!pic00001", "site": "site-p", "clientId": "eve",
                "nick": "Eve", "text": "look", "attachments": [ref],
            }  # fmt: skip
            core.send({"type": "sync", "batchId": "p1", "messages": [message]}, "sync/site-p/up")
            ((_, ack),) = core.wait_for(lambda t, b: t == "sync/site-p/down")
            assert [a["id"] for a in ack["accepted"]] == ["pic00001"], ack
            thumb = f'#messages img[data-sha="{ref["sha256"]}"]'
            page.wait_for_function(
                "(s) => { const i = document.querySelector(s); return i && i.complete && i.naturalWidth; }",
                arg=thumb,
            )
            assert page.get_attribute(thumb, "src") == f"/pictures/{ref['sha256']}/thumb"
            page.click(f'button[data-picture="{ref["sha256"]}"]')  # the whole picture, from the bucket
            page.wait_for_function(
                "() => { const i = document.querySelector('#picture-viewer img');"
                " return i && i.complete && i.naturalWidth === 96; }"
            )
    finally:
        core.close()
