"""End to end against `edgechat cloud up`: MQTT clients chat through the stand-in
broker, the rules runner (the template's SQL) and the handlers, with history in
DynamoDB (moto), and a browser page in the local cloud's mode.  The app's
Cognito/SigV4 path is tested in tests/web/test_cloud_mode.py."""

import json
import os
import signal
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

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
        assert {"room": "fanout", "lastSeq": 1} in state["rooms"]
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


@pytest.mark.skipif(
    not CHROMIUM.exists() or not (DIST / "index.html").exists(), reason="no chromium or web/dist"
)
def test_a_browser_page_and_a_paho_client_chat(local_cloud):
    # The web app's session flow (POST /api/session, then MQTT over WebSockets)
    # against the cloud's stand-ins (the local cloud's mode: `cloud.local`).
    sync_api = pytest.importorskip("playwright.sync_api")
    device = browser(local_cloud, "Sensor")
    device.subscribe("chat/pub/cloudroom")
    args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"]
    try:
        with sync_api.sync_playwright() as pw:
            chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=args)
            page = chromium.new_context().new_page()
            page.set_default_timeout(30_000)
            page.goto(f"{local_cloud['web']}/#/room/cloudroom")
            page.fill("#nick-input", "Pat")
            page.click("#nick-save")
            page.wait_for_selector('#banner[data-status="connected"]')
            page.fill("#text", "hello from a cloud page")
            page.press("#text", "Enter")
            ((_, seen),) = device.wait_for(lambda t, b: b.get("text") == "hello from a cloud page", 30)
            assert seen["nick"] == "Pat" and seen["site"] == "cloud"
            device.send({"type": "message", "id": "dev00001", "room": "cloudroom", "text": "reading 21.5"})
            page.wait_for_function(
                "() => [...document.querySelectorAll('#messages li .text')]"
                ".some(e => e.textContent === 'reading 21.5')"
            )
            chromium.close()
    finally:
        device.close()
