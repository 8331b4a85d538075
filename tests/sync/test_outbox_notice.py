"""Sync learns that the outbox grew from the Router's notice on
``edgechat/sync/outbox``, not from the room broadcasts (docs/sync.md).

Sync runs in-process over the fake nucleus (as in test_sync_greengrass.py)
beside a real edge, with its periodic outbox read set to five minutes: what
reaches the cloud within seconds got there through the notice."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from edgechat.core import topics
from edgechat.core.clock import Hlc, order_key
from edgechat.greengrass.fake import FakeIpcClient
from edgechat.greengrass.ipc import GreengrassIpc
from edgechat.settings import Settings
from edgechat.store import SqliteStore
from edgechat.sync.wiring import sync_service
from tests.support.edge import ChatClient, running_edge
from tests.sync.test_sync_greengrass import beside, eventually

pytestmark = pytest.mark.integration

THING = "site-n"
ROOM = "lobby"
PROMPT_S = 20.0  # the notice path; the periodic read would take 300 s


def test_what_is_said_here_goes_up_on_the_routers_notice_and_sync_reads_no_broadcast(tmp_path: Path) -> None:
    with running_edge(tmp_path / "data", {"site_id": THING}) as edge:
        creds = edge.credentials("Ann")
        ann = ChatClient(edge.mqtt_port, creds["username"], creds["password"])
        assert ann.connect() == 0
        ann.subscribe(f"chat/in/{ann.client_id}", f"chat/pub/{ROOM}")
        ann.request({"type": "hello", "nick": "Ann"}, "welcome")
        # said before Sync runs: their notices reach no one; Sync reads the outbox on start
        for i in range(2):
            ann.send({"type": "message", "id": f"early{i:04d}", "room": ROOM, "text": f"early {i}"})
        ann.wait_for(lambda t, b: b.get("type") == "ack", count=2)
        beside(edge, THING, ann, _scenario)


def _sent(client: FakeIpcClient) -> list[dict[str, Any]]:
    return [b for m in client.iot_published if (b := json.loads(m.payload))["type"] == "sync"]


def _ack(client: FakeIpcClient, batch: dict[str, Any], first_seq: int) -> None:
    synced = {"type": "synced", "batchId": batch["batchId"],
              "accepted": [{"id": m["id"], "cloudSeq": first_seq + i, "duplicate": False}
                           for i, m in enumerate(batch["messages"])],
              "revisions": {"accepted": [{"id": r["id"]} for r in batch.get("revisions", [])]}}  # fmt: skip
    client.deliver_from_iot_core(f"sync/{THING}/down", json.dumps(synced).encode())


async def _settled(store: SqliteStore) -> None:
    """The outbox is empty and Sync has read it since (a retire is followed by
    a read: what the Router stored meanwhile would go up without a notice)."""
    await eventually(lambda: store.outbox_stats()[0] == 0)
    await asyncio.sleep(1.5)  # a few ticks: the read after the retire is done


async def _scenario(settings: Settings, client: FakeIpcClient, ann: ChatClient) -> None:
    store = SqliteStore(settings.paths.store)
    service = sync_service(settings, store, GreengrassIpc(client))
    service.outbox_poll_s = 300.0
    task = asyncio.create_task(service.run())
    try:
        await asyncio.wait_for(service.ready.wait(), 10)
        (first,) = await eventually(lambda: _sent(client))
        assert [m["id"] for m in first["messages"]] == ["early0000", "early0001"]
        _ack(client, first, 1)
        await _settled(store)

        # typed at the site while Sync runs: up within seconds, not at the next periodic read
        ann.send({"type": "message", "id": "live0001", "room": ROOM, "text": "said now"})
        batches = await eventually(lambda: _sent(client)[1:], PROMPT_S)
        assert [m["id"] for m in batches[0]["messages"]] == ["live0001"]
        _ack(client, batches[0], 3)
        await _settled(store)
        # an edit made here, the same way
        ann.send({"type": "edit", "id": "edit0001", "target": "live0001", "room": ROOM, "text": "better"})
        batches = await eventually(lambda: _sent(client)[2:], PROMPT_S)
        assert [r["id"] for r in batches[0].get("revisions", [])] == ["edit0001"]
        _ack(client, batches[0], 4)
        await eventually(lambda: store.outbox_stats()[0] == 0)
        notices = service.local_events.get(topics.SYNC_OUTBOX, 0)
        assert notices >= 2  # one per commit: the message, the edit

        # a message from the cloud: stored by the Router and shown in the room, no notice
        mid = "cloudmsg0001"
        event = {"type": "message", "id": mid, "room": ROOM, "seq": 4, "text": "from the cloud",
                 "clientId": "browser1", "nick": "Bob", "ts": 1_800_000_000_000,
                 "orderKey": order_key(Hlc(1_800_000_000_000, 0), "cloud", mid), "site": "cloud"}  # fmt: skip
        client.deliver_from_iot_core(f"chat/pub/{ROOM}", json.dumps(event).encode())
        backfill = await eventually(
            lambda: [b for m in client.iot_published if (b := json.loads(m.payload))["type"] == "backfill"]
        )
        ours = [*first["messages"], *_sent(client)[1]["messages"]]
        ours = [{**m, "seq": i + 1} for i, m in enumerate(ours)]
        page = {"type": "page", "requestId": backfill[-1]["requestId"], "room": ROOM, "hasMore": False,
                "messages": [*ours, event]}  # fmt: skip
        client.deliver_from_iot_core(f"sync/{THING}/down", json.dumps(page).encode())
        await asyncio.to_thread(ann.wait_for, lambda t, b: t == f"chat/pub/{ROOM}" and b.get("id") == mid)
        await eventually(lambda: service.local_events.get(topics.SYNC_STORED, 0) >= 1)

        # the room carried every one of those broadcasts; Sync received none of them
        shown = {b.get("id") for t, b in ann.received if t == f"chat/pub/{ROOM}" and isinstance(b, dict)}
        assert {"early0000", "early0001", "live0001", "edit0001", mid} <= shown
        assert set(service.local_events) == {topics.SYNC_OUTBOX, topics.SYNC_STORED}, service.local_events
        assert service.local_events[topics.SYNC_OUTBOX] == notices  # the cloud's message queued nothing
        assert store.outbox_stats()[0] == 0
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        store.close()
