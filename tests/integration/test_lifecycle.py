"""``edgechat up`` as an operator sees it: start, restart, stop, crash, status."""

import os
import signal
import subprocess
import sys
import time
import uuid

import pytest

from tests.support.edge import ChatClient, new_edge, running_edge, start_edge

pytestmark = pytest.mark.integration


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it is gone for our purposes.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def wait_until(check, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


def chat_client(edge, creds) -> ChatClient:
    c = ChatClient(edge.mqtt_port, creds["username"], creds["password"])
    assert c.connect() == 0
    c.subscribe(f"chat/in/{c.client_id}")
    return c


def test_history_and_credentials_survive_a_restart(tmp_path):
    data = tmp_path / "data"
    with running_edge(data) as edge:
        creds = edge.credentials("Ann")
        ann = chat_client(edge, creds)
        ids = [uuid.uuid4().hex for _ in range(3)]
        for i, m in enumerate(ids):
            ann.send({"type": "message", "id": m, "room": "keep", "text": f"before restart {i}"})
            ann.wait_for(lambda t, b, m=m: isinstance(b, dict) and b.get("type") == "ack" and b["id"] == m)
        ann.close()
    with running_edge(data) as edge:  # same data dir, new ports
        ann = chat_client(edge, creds)  # the credential still works
        page = ann.request({"type": "history", "room": "keep"}, "history")
        assert [m["id"] for m in page["messages"]] == ids[::-1]
        last = page["messages"][0]
        new = uuid.uuid4().hex
        ann.send({"type": "message", "id": new, "room": "keep", "text": "after restart"})
        _, ack = ann.wait_for(lambda t, b: isinstance(b, dict) and b.get("id") == new)[0]
        assert ack["seq"] == last["seq"] + 1  # the room's sequence carries on
        assert ack["orderKey"] > last["orderKey"]  # and so does the order
        ann.close()


def test_sigterm_stops_everything_and_leaves_no_broker(tmp_path):
    edge = start_edge(tmp_path / "data")
    broker_pid = edge.status()["broker"]["pid"]
    assert alive(broker_pid)
    assert edge.stop(signal.SIGTERM) == 0
    assert wait_until(lambda: not alive(broker_pid))
    assert not (edge.data_dir / "run" / "runtime.json").exists()
    assert edge.cli("status", check=False).returncode == 1


def test_ctrl_c_stops_cleanly(tmp_path):
    edge = start_edge(tmp_path / "data")
    broker_pid = edge.status()["broker"]["pid"]
    assert edge.stop(signal.SIGINT) == 0
    assert wait_until(lambda: not alive(broker_pid))


def test_kill_9_of_edgechat_takes_the_broker_down_too(tmp_path):
    edge = start_edge(tmp_path / "data")
    broker_pid = edge.status()["broker"]["pid"]
    edge.stop(signal.SIGKILL)
    assert wait_until(lambda: not alive(broker_pid)), "orphan mosquitto left running"
    # ...and the data dir can be started again right away (stale runtime.json is ignored).
    again = start_edge(tmp_path / "data")
    again.stop()


def test_a_crashed_broker_is_restarted_and_clients_carry_on(tmp_path):
    with running_edge(tmp_path / "data") as edge:
        old_pid = edge.status()["broker"]["pid"]
        os.kill(old_pid, signal.SIGKILL)

        def new_broker():
            pid = edge.status().get("broker", {}).get("pid")
            return pid not in (None, old_pid) and edge.status()["router"]["connected"]

        assert wait_until(new_broker, 20)
        ann = chat_client(edge, edge.credentials("Ann"))
        reply = ann.request({"type": "hello"}, "welcome")
        assert reply["type"] == "welcome"
        ann.close()


def test_a_second_up_on_the_same_data_dir_is_refused(tmp_path):
    with running_edge(tmp_path / "data") as edge:
        second = subprocess.run(edge.args(), capture_output=True, text=True, timeout=30, check=False)
        assert second.returncode == 2
        assert "already running" in second.stderr


def test_a_foreign_database_file_gives_a_clear_message(tmp_path):
    data = tmp_path / "data"
    (data / "store").mkdir(parents=True)
    (data / "store" / "messages.db").write_bytes(b"this is not a database at all" * 100)
    edge = new_edge(data)
    result = subprocess.run(edge.args(), capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 2
    assert "cannot start" in result.stderr and "messages.db" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_busy_port_gives_a_clear_message(tmp_path):
    import socket

    edge = new_edge(tmp_path / "data")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", edge.mqtt_port))
        busy.listen()
        result = subprocess.run(edge.args(), capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 2
    assert "cannot start" in result.stderr and "Traceback" not in result.stderr


def test_status_reports_what_runs_and_counts(tmp_path):
    with running_edge(tmp_path / "data") as edge:
        ann = chat_client(edge, edge.credentials("Ann"))
        ann.request({"type": "join", "room": "stat"}, "joined")
        m = uuid.uuid4().hex
        ann.send({"type": "message", "id": m, "room": "stat", "text": "count me"})
        ann.wait_for(lambda t, b: isinstance(b, dict) and b.get("id") == m)
        assert wait_until(lambda: edge.status()["router"]["stored"] == 1)
        status = edge.status()
        assert status["running"] is True
        assert status["store"] == {"messages": 1, "rooms": 1, "bytes": status["store"]["bytes"]}
        assert status["router"]["rooms"] == {"stat": 1}
        assert status["credentials"] == 1
        text = edge.cli("status").stdout
        assert "running" in text and "1 messages in 1 rooms" in text
        ann.close()


def test_the_cli_prints_usable_credentials(tmp_path):
    with running_edge(tmp_path / "data") as edge:
        result = subprocess.run(
            [sys.executable, "-m", "edgechat", "credentials", "new", "--data-dir", str(edge.data_dir),
             "--nick", "Zoë"],
            capture_output=True, text=True, check=True, timeout=60,
        )  # fmt: skip
        import json

        creds = json.loads(result.stdout)
        assert set(creds) == {"clientId", "username", "password", "nick", "mqttUrl", "wsUrl"}
        assert creds["nick"] == "Zoë" and creds["clientId"] == creds["username"]
        assert creds["mqttUrl"] == f"mqtt://127.0.0.1:{edge.mqtt_port}"
        assert creds["wsUrl"] == f"ws://127.0.0.1:{edge.ws_port}/mqtt"
        ws = ChatClient(edge.ws_port, creds["username"], creds["password"], transport="websockets")
        assert ws.connect() == 0
        ws.close()


def test_messages_older_than_the_retention_period_are_deleted(tmp_path):
    settings = {"retention_days": 2 / 86_400, "rate": {"per_second": 0, "burst": 1}}  # two seconds
    with running_edge(tmp_path / "data", settings) as edge:
        ann = chat_client(edge, edge.credentials("Ann"))
        m = uuid.uuid4().hex
        ann.send({"type": "message", "id": m, "room": "brief", "text": "soon gone"})
        ann.wait_for(lambda t, b: isinstance(b, dict) and b.get("id") == m)
        assert ann.request({"type": "history", "room": "brief"}, "history")["messages"]

        def gone():
            return not ann.request({"type": "history", "room": "brief"}, "history")["messages"]

        assert wait_until(gone, 15)
        ann.close()


def test_credentials_expire(tmp_path):
    with running_edge(tmp_path / "data", {"credential_ttl_hours": 3 / 3600}) as edge:  # three seconds
        creds = edge.credentials("Brief")
        first = ChatClient(edge.mqtt_port, creds["username"], creds["password"], will=False)
        assert first.connect() == 0
        # Still connected when it expires: the reload after expiry drops it.
        assert first.disconnected.wait(15), "an expired credential's connection stayed open"
        first.client.loop_stop()

        def refused() -> bool:
            probe = ChatClient(edge.mqtt_port, creds["username"], creds["password"])
            rc = probe.connect()
            probe.close()
            return rc != 0

        assert wait_until(refused, 15)
        assert edge.status()["credentials"] == 0
