"""``edgechat up`` with the Stream exporting to Kinesis (moto): a device's
readings reach the stream, each once, with the site and the sender; status
says so."""

from __future__ import annotations

import base64
import json
import time

from tests.support.edge import ChatClient, running_edge
from tests.support.moto import FAKE_ENV, client, running_moto


def test_a_devices_readings_reach_kinesis_from_a_running_core(tmp_path, monkeypatch):
    for k, v in FAKE_ENV.items():  # boto3's credential chain, inherited by the core
        monkeypatch.setenv(k, v)
    with running_moto() as url:
        kinesis = client(url, "kinesis")
        kinesis.create_stream(StreamName="chat-stream", ShardCount=1)
        settings = {
            "site_id": "barn",
            "stream": {"export": "kinesis", "kinesis_stream": "chat-stream", "aws_region": "us-east-1",
                       "endpoint_url": url},
        }  # fmt: skip
        with running_edge(tmp_path / "data", settings) as edge:
            creds = edge.credentials("thermo")
            device = ChatClient(edge.mqtt_port, creds["username"], creds["password"])
            assert device.connect() == 0
            for i in range(30):
                body = {"type": "reading", "room": "barn", "sensor": "temp", "value": 20 + i / 10}
                device.send(body, f"chat/stream/{device.client_id}")
            device.send({"type": "reading", "room": "barn", "value": 1}, f"chat/stream/{device.client_id}")
            deadline = time.monotonic() + 20
            export: dict = {}
            while time.monotonic() < deadline:
                export = edge.status().get("stream", {}).get("export", {})
                if export.get("records", 0) >= 30:
                    break
                time.sleep(0.3)
            device.close()
            assert export["exporter"] == "kinesis" and export["connected"] is True
            assert export["spool"]["exported"] == 30 and export["spool"]["queued"] == 0
            assert "export kinesis (up)" in edge.cli("status").stdout
        shard = kinesis.describe_stream(StreamName="chat-stream")["StreamDescription"]["Shards"][0]["ShardId"]
        it = kinesis.get_shard_iterator(
            StreamName="chat-stream", ShardId=shard, ShardIteratorType="TRIM_HORIZON"
        )
        records = kinesis.get_records(ShardIterator=it["ShardIterator"], Limit=1000)["Records"]
    got = [json.loads(r["Data"]) for r in records]
    assert len(got) == 30 and len({r["id"] for r in got}) == 30  # the invalid one was never spooled
    assert {r["site"] for r in got} == {"barn"} and {r["clientId"] for r in got} == {device.client_id}
    values = [json.loads(base64.b64decode(r["payload"]))["value"] for r in got]
    assert values == [20 + i / 10 for i in range(30)]  # one device, one partition key: in order
