"""Each built recipe run the way the nucleus runs it: the Broker and Router
come up from their own install and run steps and serve chat.

The install step normally builds a venv from the shipped wheels; here
EDGECHAT_DEV_VENV makes it reuse the project's venv (installing ~20 wheels per
component would cost most of a minute).  EDGECHAT_TEST_WHEELS=1 runs the real
install from wheels downloaded by `gg build` (needs the package index)."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from edgechat.broker.credentials import issue
from edgechat.greengrass.build import PROJECT_ROOT, build_all
from edgechat.settings import Settings
from tests.support.edge import ChatClient, free_port

from .conftest import FakeWheels
from .nucleus import Deployed, Nucleus

pytestmark = pytest.mark.integration
REAL_WHEELS = os.environ.get("EDGECHAT_TEST_WHEELS") == "1"
# The Web service is another helper's work: its recipe runs when its module exists.
WEB = ["Web"] if importlib.util.find_spec("edgechat.web.__main__") else []


@pytest.fixture
def nucleus(tmp_path: Path, project: Path):
    build = tmp_path / "greengrass-build"
    source = None if REAL_WHEELS else FakeWheels()
    root = PROJECT_ROOT if REAL_WHEELS else project
    build_all(build, names=["Broker", "Router", "Stream", "Sync", *WEB], source=source, root=root)
    env = {} if REAL_WHEELS else {"EDGECHAT_DEV_VENV": str(Path(sys.prefix))}
    n = Nucleus(build, tmp_path / "greengrass" / "v2", env)
    yield n
    n.stop_all()


def test_broker_and_router_recipes_come_up_and_serve_chat(nucleus: Nucleus, tmp_path: Path) -> None:
    data = tmp_path / "edgechat-data"
    ports = {"mqttPort": free_port(), "wsPort": free_port(), "internalPort": free_port()}
    broker = nucleus.deploy("edgechat.Broker", {"dataDir": str(data), "host": "127.0.0.1", **ports})
    router = nucleus.deploy("edgechat.Router", {"siteId": "site-a"})
    nucleus.install("edgechat.Broker")
    nucleus.install("edgechat.Router")
    assert data.is_dir() and (broker.work / "venv" / "bin" / "python3").exists()
    nucleus.run("edgechat.Broker", ready="edgechat broker ready")
    nucleus.run("edgechat.Router", ready="edgechat router ready")
    assert (data / "store" / "messages.db").exists()  # the Router found the Broker's data dir

    creds = issue(Settings(data_dir=data), "ann")  # reloads the Broker through its runtime file
    client = ChatClient(ports["mqttPort"], creds.username, creds.password)
    try:
        assert client.connect() == 0
        client.subscribe(f"chat/in/{client.client_id}", "chat/pub/lobby")
        assert client.request({"type": "hello", "nick": "ann"}, "welcome")["type"] == "welcome"
        assert client.request({"type": "join", "room": "lobby"}, "joined")["type"] == "joined"
        mid = uuid.uuid4().hex
        client.send({"type": "message", "id": mid, "room": "lobby", "text": "hello from a recipe"})
        _, event = client.wait_for(lambda t, b: t == "chat/pub/lobby" and b.get("id") == mid)[0]
        assert event["site"] == "site-a"  # the Router's configuration came through IPC
    finally:
        client.close()
    assert "configuration from" in "".join(router.output)  # ran with --greengrass, on the stand-in


@pytest.mark.skipif(not WEB, reason="edgechat.web is not there yet")
def test_web_recipe_serves_the_app(nucleus: Nucleus, tmp_path: Path) -> None:
    data = tmp_path / "edgechat-data"
    ports = {"mqttPort": free_port(), "wsPort": free_port(), "internalPort": free_port()}
    nucleus.deploy("edgechat.Broker", {"dataDir": str(data), "host": "127.0.0.1", **ports})
    http_port = free_port()
    nucleus.deploy("edgechat.Web", {"httpPort": http_port})
    for name in ("edgechat.Broker", "edgechat.Web"):
        nucleus.install(name)
    nucleus.run("edgechat.Broker", ready="edgechat broker ready")
    nucleus.run("edgechat.Web", ready="edgechat web ready")
    with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/", timeout=5) as page:
        assert page.status == 200 and b"edgechat" in page.read()


def test_stream_recipe_aggregates_a_devices_readings(nucleus: Nucleus, tmp_path: Path) -> None:
    data = tmp_path / "edgechat-data"
    ports = {"mqttPort": free_port(), "wsPort": free_port(), "internalPort": free_port()}
    nucleus.deploy("edgechat.Broker", {"dataDir": str(data), "host": "127.0.0.1", **ports})
    # Stream Manager (Java, part of the nucleus) cannot run here; with export
    # off the Stream never calls it, so a stand-in entry satisfies the dependency.
    nucleus.components["aws.greengrass.StreamManager"] = Deployed(
        "aws.greengrass.StreamManager", "2.2.0", {}, {}, {}, tmp_path, tmp_path, tmp_path
    )
    stream = nucleus.deploy("edgechat.Stream", {"stream": {"windowMs": 100}})
    for name in ("edgechat.Broker", "edgechat.Stream"):
        nucleus.install(name)
    nucleus.run("edgechat.Broker", ready="edgechat broker ready")
    nucleus.run("edgechat.Stream", ready="edgechat stream ready")
    creds = issue(Settings(data_dir=data), "thermo")
    device = ChatClient(ports["mqttPort"], creds.username, creds.password)
    try:
        assert device.connect() == 0
        device.subscribe("chat/pub/barn")
        for value in (1.0, 3.0):
            device.send(
                {"type": "reading", "room": "barn", "sensor": "t", "value": value},
                f"chat/stream/{creds.username}",
            )
        found = device.wait_for(
            lambda t, b: isinstance(b, dict) and b.get("type") == "activity", timeout_s=30
        )
        readings = [r for _, a in found for r in a["readings"]]
        assert readings[0]["clientId"] == creds.username and readings[0]["sensor"] == "t"
        # Stopped (SIGTERM, as the nucleus stops it): what the device sends
        # meanwhile waits in the broker (persistent session) and is counted after.
        assert stream.process is not None
        os.killpg(stream.process.pid, signal.SIGTERM)
        stream.process.wait(15)
        for value in (10.0, 20.0, 30.0):
            device.send({"type": "reading", "room": "barn", "sensor": "w", "value": value},
                        f"chat/stream/{creds.username}")  # fmt: skip
        nucleus.run("edgechat.Stream", ready="edgechat stream ready")

        def watts() -> list[dict]:
            return [r for _, b in device.received if isinstance(b, dict) and b.get("type") == "activity"
                    for r in b.get("readings", []) if r["sensor"] == "w"]  # fmt: skip

        device.wait_for(
            lambda t, b: isinstance(b, dict) and any(r["sensor"] == "w" for r in b.get("readings", [])),
            timeout_s=30,
        )
        deadline = time.monotonic() + 30
        while sum(r["count"] for r in watts()) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sum(r["count"] for r in watts()) == 3 and max(r["max"] for r in watts()) == 30.0
    finally:
        device.close()
    assert (data / "stream" / "stream.db").exists()  # the Stream found the Broker's data dir
    assert "configuration from" in "".join(stream.output)


def test_sync_recipe_finds_the_store_and_trusts_no_ipc_ok(nucleus: Nucleus, tmp_path: Path) -> None:
    """Sync under the recipe's run line: the Broker's data dir, the Router's
    store, IPC to "IoT Core" (the stand-in says OK to every publish and no cloud
    ever answers): a message made here stays in the outbox."""
    data = tmp_path / "edgechat-data"
    ports = {"mqttPort": free_port(), "wsPort": free_port(), "internalPort": free_port()}
    nucleus.deploy("edgechat.Broker", {"dataDir": str(data), "host": "127.0.0.1", **ports})
    nucleus.deploy("edgechat.Router", {"siteId": "site-a"})
    # The Token Exchange Service is part of the nucleus; without a pictures
    # bucket Sync never asks it for credentials, so a stand-in entry will do.
    nucleus.components["aws.greengrass.TokenExchangeService"] = Deployed(
        "aws.greengrass.TokenExchangeService", "2.0.3", {}, {}, {}, tmp_path, tmp_path, tmp_path
    )
    sync = nucleus.deploy("edgechat.Sync", {"siteId": "site-a"})
    for name in ("edgechat.Broker", "edgechat.Router", "edgechat.Sync"):
        nucleus.install(name)
    nucleus.run("edgechat.Broker", ready="edgechat broker ready")
    nucleus.run("edgechat.Router", ready="edgechat router ready")
    nucleus.run("edgechat.Sync", ready="edgechat sync ready")
    creds = issue(Settings(data_dir=data), "ann")
    client = ChatClient(ports["mqttPort"], creds.username, creds.password)
    try:
        assert client.connect() == 0
        client.subscribe(f"chat/in/{client.client_id}")
        client.request({"type": "hello", "nick": "ann"}, "welcome")
        client.send({"type": "message", "id": uuid.uuid4().hex, "room": "lobby", "text": "for the cloud"})
        client.wait_for(lambda t, b: b.get("type") == "ack")
    finally:
        client.close()
    status = data / "run" / "sync.json"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        state = json.loads(status.read_text()) if status.exists() else {}
        if state.get("counters", {}).get("sent"):
            break
        time.sleep(0.2)
    assert state["counters"]["sent"] == 1 and state["backlog"] == 1 and state["connected"] is True
    assert state["thing"] == "site-a" and "configuration from" in "".join(sync.output)
