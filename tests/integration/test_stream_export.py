"""``edgechat up`` with the Stream exporting to Kinesis (moto): a device's
readings wait in the spool while Kinesis is unreachable, survive kill -9, and
reach the stream when it is back, each once, in order, with the site and the
sender; status says so."""

from __future__ import annotations

import base64
import json
import signal
import time

from tests.support.edge import ChatClient, free_port, running_edge, start_edge
from tests.support.moto import FAKE_ENV, client, running_moto


def test_spooled_events_survive_kill_9_and_go_out_once_when_the_link_is_back(tmp_path, monkeypatch):
    for k, v in FAKE_ENV.items():
        monkeypatch.setenv(k, v)
    port = free_port()  # Kinesis is unreachable until moto starts here
    url = f"http://127.0.0.1:{port}"
    export = {
        "export": "kinesis",
        "kinesis_stream": "chat-stream",
        "aws_region": "us-east-1",
        "endpoint_url": url,
    }
    settings = {"site_id": "barn", "stream": export}
    edge = start_edge(tmp_path / "data", settings)
    try:
        creds = edge.credentials("meter")
        device = ChatClient(edge.mqtt_port, creds["username"], creds["password"])
        assert device.connect() == 0
        device.send({"type": "reading", "room": "plant", "value": 1}, f"chat/stream/{creds['username']}")
        for i in range(50):
            device.send(
                {"type": "reading", "room": "plant", "sensor": "kw", "value": i},
                f"chat/stream/{creds['username']}",
            )
        deadline = time.monotonic() + 20
        while (edge.status().get("stream") or {}).get("export", {}).get("spool", {}).get("queued", 0) < 50:
            assert time.monotonic() < deadline, edge.status().get("stream")
            time.sleep(0.3)
        assert edge.status()["stream"]["export"]["connected"] is False
        assert "export kinesis (DOWN)" in edge.cli("status").stdout
        device.close()
    finally:
        edge.stop(signal.SIGKILL)  # power cut, as far as the process knows
    with running_moto(port):
        kinesis = client(url, "kinesis")
        kinesis.create_stream(StreamName="chat-stream", ShardCount=1)
        with running_edge(tmp_path / "data", settings) as again:
            deadline = time.monotonic() + 30
            while (again.status().get("stream") or {}).get("export", {}).get("spool", {}).get(
                "exported", 0
            ) < 50:
                assert time.monotonic() < deadline, again.status().get("stream")
                time.sleep(0.3)
            assert "export kinesis (up)" in again.cli("status").stdout
        shard = kinesis.describe_stream(StreamName="chat-stream")["StreamDescription"]["Shards"][0]["ShardId"]
        it = kinesis.get_shard_iterator(
            StreamName="chat-stream", ShardId=shard, ShardIteratorType="TRIM_HORIZON"
        )
        records = kinesis.get_records(ShardIterator=it["ShardIterator"], Limit=1000)["Records"]
    got = [json.loads(r["Data"]) for r in records]
    assert {r["site"] for r in got} == {"barn"} and {r["clientId"] for r in got} == {creds["username"]}
    assert len({r["id"] for r in got}) == 50
    values = [json.loads(base64.b64decode(r["payload"]))["value"] for r in got]
    assert values == list(range(50))  # each once, in order; the invalid one was never spooled
