"""Sync under Greengrass: the same service over IPC (the fake nucleus, with the
recipe's own authorization policies) and a real edge.  The nucleus's "OK" for
publish_to_iot_core retires nothing: only the cloud's ``synced`` does."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from edgechat.core.clock import Hlc, order_key
from edgechat.greengrass.catalogue import SYNC
from edgechat.greengrass.fake import FakeIpcClient
from edgechat.greengrass.ipc import GreengrassIpc
from edgechat.settings import Settings
from edgechat.store import SqliteStore
from edgechat.sync.wiring import sync_service
from tests.support.edge import ChatClient, Edge, running_edge

pytestmark = pytest.mark.integration

THING = "site-g"


def permissions_for(thing: str):
    """What the nucleus makes of the recipe's policies on this core."""
    return tuple(
        replace(p, resources=tuple(r.replace("{iot:thingName}", thing) for r in p.resources))
        for p in SYNC.permissions
    )


async def eventually(check, timeout_s: float = 15.0):
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not (value := check()):
        assert asyncio.get_running_loop().time() < deadline, f"timed out: {check}"
        await asyncio.sleep(0.05)
    return value


def test_sync_over_ipc_sends_up_retires_on_synced_only_and_brings_the_cloud_down(tmp_path: Path) -> None:
    with running_edge(tmp_path / "data", {"site_id": THING}) as edge:
        creds = edge.credentials("Ann")
        ann = ChatClient(edge.mqtt_port, creds["username"], creds["password"])
        assert ann.connect() == 0
        ann.subscribe(f"chat/in/{ann.client_id}", "chat/pub/lobby")
        ann.request({"type": "hello", "nick": "Ann"}, "welcome")
        for i in range(3):
            ann.send({"type": "message", "id": f"ggmsg{i:04d}", "room": "lobby", "text": f"hello {i}"})
        ann.wait_for(lambda t, b: b.get("type") == "ack", count=3)
        beside(edge, THING, ann, _scenario)


def beside(edge: Edge, thing: str, ann: ChatClient, scenario: Any) -> None:
    """Run ``scenario(settings, fake nucleus, ann)`` for Sync beside ``edge``; closes both clients."""
    settings = Settings(data_dir=edge.data_dir, site_id=thing, internal_port=edge.internal_port)
    client = FakeIpcClient(component_name=SYNC.name, permissions=permissions_for(thing))
    try:
        asyncio.run(scenario(settings, client, ann))
    finally:
        ann.close()
        client.close()


async def _scenario(settings: Settings, client: FakeIpcClient, ann: ChatClient) -> None:
    store = SqliteStore(settings.paths.store)
    service = sync_service(settings, store, GreengrassIpc(client))
    task = asyncio.create_task(service.run())
    try:
        await asyncio.wait_for(service.ready.wait(), 10)
        batches = await eventually(lambda: [json.loads(m.payload) for m in client.iot_published
                                             if json.loads(m.payload)["type"] == "sync"])  # fmt: skip
        assert all(m.topic_name == f"sync/{THING}/up" for m in client.iot_published)
        (batch,) = batches
        assert [m["id"] for m in batch["messages"]] == ["ggmsg0000", "ggmsg0001", "ggmsg0002"]
        await asyncio.sleep(1.0)
        assert store.outbox_stats()[0] == 3  # published "OK" through IPC: still queued
        synced = {"type": "synced", "batchId": batch["batchId"],
                  "accepted": [{"id": m["id"], "cloudSeq": i + 1, "duplicate": False}
                               for i, m in enumerate(batch["messages"])]}  # fmt: skip
        client.deliver_from_iot_core(f"sync/{THING}/down", json.dumps(synced).encode())
        await eventually(lambda: store.outbox_stats()[0] == 0)
        # a message said in the cloud arrives by the live fan-out: into the room, once
        mid = "cloudmsg0001"
        event = {"type": "message", "id": mid, "room": "lobby", "seq": 4, "text": "from the cloud",
                 "clientId": "browser1", "nick": "Bob", "ts": 1_800_000_000_000,
                 "orderKey": order_key(Hlc(1_800_000_000_000, 0), "cloud", mid), "site": "cloud"}  # fmt: skip
        # seq 4 after a cursor of 0: a gap, so Sync asks for a backfill first
        client.deliver_from_iot_core("chat/pub/lobby", json.dumps(event).encode())
        backfill = await eventually(lambda: [json.loads(m.payload) for m in client.iot_published
                                              if json.loads(m.payload)["type"] == "backfill"])  # fmt: skip
        ours = [{**b, "seq": i + 1} for i, b in enumerate(batch["messages"])]
        page = {"type": "page", "requestId": backfill[-1]["requestId"], "room": "lobby", "hasMore": False,
                "messages": [*ours, event]}  # fmt: skip
        client.deliver_from_iot_core(f"sync/{THING}/down", json.dumps(page).encode())
        ((_, shown),) = await asyncio.to_thread(
            ann.wait_for, lambda t, b: t == "chat/pub/lobby" and b.get("id") == mid
        )
        assert shown["site"] == "cloud" and shown["seq"] == 4  # this site's next seq
        await eventually(lambda: store.cursors() == {"lobby": 4})
        ids = [m.id for m in store.history("lobby", after=0, limit=10)[0]]
        assert ids == ["ggmsg0000", "ggmsg0001", "ggmsg0002", mid]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        store.close()
