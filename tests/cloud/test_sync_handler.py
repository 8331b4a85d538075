"""SyncFunction's three requests (sync, backfill, rooms) and what it refuses,
against DynamoDB on moto; page-size cuts against the in-memory store."""

import json

import pytest

from edgechat.cloud.handlers import sync
from edgechat.core.protocol import encode
from edgechat.store.memory import MemoryStore
from tests.cloud.test_other_handlers import site_message, sync_event


def _up(cloud, body, thing="site-a") -> list[dict]:
    before = len(cloud.on(f"sync/{thing}/down"))
    sync.handle(sync_event(thing, body), cloud.deps)
    return cloud.on(f"sync/{thing}/down")[before:]


def test_backfill_pages_by_cloud_seq_across_sites_and_browsers(cloud):
    cloud.request("ann", {"type": "hello", "nick": "Ann"})
    cloud.request("ann", {"type": "join", "room": "lobby"})
    cloud.request("ann", {"type": "message", "id": "cloud001", "room": "lobby", "text": "from a browser"})
    _up(cloud, {"type": "sync", "batchId": "b1", "messages": [site_message("a0000001", 100)]})
    _up(cloud, {"type": "sync", "batchId": "b2", "messages": [site_message("b0000001", 90, "site-b")]},
        "site-b")  # fmt: skip
    # every accepted message, whoever sent it, is announced with the cloud's seq
    live = [(e["id"], e["seq"]) for e in cloud.on("chat/pub/lobby") if e["type"] == "message"]
    assert live == [("cloud001", 1), ("a0000001", 2), ("b0000001", 3)]

    (first,) = _up(cloud, {"type": "backfill", "requestId": "r1", "room": "lobby", "after": 0, "limit": 2})
    assert first["type"] == "page" and first["requestId"] == "r1" and first["hasMore"] is True
    assert [(m["id"], m["seq"], m["site"]) for m in first["messages"]] == [
        ("cloud001", 1, "cloud"), ("a0000001", 2, "site-a"),
    ]  # fmt: skip
    (rest,) = _up(cloud, {"type": "backfill", "requestId": "r2", "room": "lobby", "after": 2, "limit": 2})
    assert [m["id"] for m in rest["messages"]] == ["b0000001"] and rest["hasMore"] is False
    assert rest["messages"][0]["orderKey"].endswith("!site-b!b0000001")
    (empty,) = _up(cloud, {"type": "backfill", "requestId": "r3", "room": "nowhere", "after": 0})
    assert empty["messages"] == [] and empty["hasMore"] is False

    (state,) = _up(cloud, {"type": "rooms", "requestId": "r4"})
    rooms = [{"room": "lobby", "lastSeq": 3, "lastRevSeq": 0}]
    assert state == {"type": "roomsState", "requestId": "r4", "rooms": rooms, "hasMore": False}


def test_a_bad_message_is_rejected_and_the_rest_of_its_batch_taken(cloud):
    bad = {**site_message("m0000002", 101), "text": 7}
    (ack,) = _up(cloud, {"type": "sync", "batchId": "b1", "messages": [site_message("m0000001", 100), bad]})
    assert [a["id"] for a in ack["accepted"]] == ["m0000001"]
    assert ack["rejected"][0]["id"] == "m0000002" and "text" in ack["rejected"][0]["error"]
    assert cloud.deps.store.count() == 1


@pytest.mark.parametrize(
    "payload",
    [
        b"\xff\xfe",
        b"not json",
        b"[]",
        b"{}",
        b'{"type":"delete"}',
        b'{"type":"sync","batchId":"b","messages":"x"}',
        b'{"type":"sync","batchId":"a/b","messages":[]}',
        b'{"type":"sync","batchId":"b","messages":[{"text":"no id"}]}',
        json.dumps({"type": "sync", "batchId": "b", "messages": [{}] * 101}).encode(),
        b'{"type":"backfill","requestId":"r","room":"lobby"}',
        b'{"type":"backfill","requestId":"r","room":"lobby","after":-1}',
        b'{"type":"backfill","requestId":"r","room":"lobby","after":true}',
        b'{"type":"backfill","requestId":"r","room":"lobby","after":0,"limit":0}',
        b'{"type":"backfill","requestId":"r","room":"lobby","after":0,"limit":501}',
        b'{"type":"backfill","requestId":"r","room":"Bad Room","after":0}',
        b'{"type":"backfill","requestId":"+","room":"lobby","after":0}',
        b'{"type":"rooms"}',
    ],
)
def test_unreadable_requests_are_dropped_with_a_log(cloud, payload, caplog):
    import base64

    event = {"payload": base64.b64encode(payload).decode(), "thingName": "site-a", "receivedMs": 1}
    sync.handle(event, cloud.deps)
    assert cloud.published == [] and cloud.deps.store.count() == 0
    assert "dropped a sync request" in caplog.text


def test_events_the_rule_never_makes_are_dropped(cloud):
    body = {"type": "rooms", "requestId": "r"}
    sync.handle({**sync_event("site-a", body), "thingName": "sync/+"}, cloud.deps)
    sync.handle({**sync_event("site-a", body), "payload": "%%%"}, cloud.deps)
    assert cloud.published == []


def test_pages_and_room_lists_fit_iot_cores_payload_limit(cloud):
    cloud.deps.store = MemoryStore()  # 300 long messages: quicker than moto, same contract
    long = "x" * 4000
    for n in range(3):
        batch = [{**site_message(f"m{n}{i:06d}", 100 + i), "text": long} for i in range(100)]
        _up(cloud, {"type": "sync", "batchId": f"b{n}", "messages": batch})
    got, after, pages = [], 0, 0
    while True:
        body = {"type": "backfill", "requestId": f"r{pages}", "room": "lobby", "after": after, "limit": 500}
        (page,) = _up(cloud, body)
        pages += 1
        assert len(encode(page)) <= 128 * 1024
        got += [m["seq"] for m in page["messages"]]
        if not page["hasMore"]:
            break
        after = page["messages"][-1]["seq"]
    assert got == list(range(1, 301)) and pages >= 10

    for i in range(6000):
        cloud.deps.store.add([sync.parse_message({**site_message(f"r{i:07d}", 1), "room": f"room-{i:05d}-"
                                                  + "y" * 40}, 4000)])  # fmt: skip
    (state,) = _up(cloud, {"type": "rooms", "requestId": "rr"})
    assert state["hasMore"] is True and len(encode(state)) <= 128 * 1024


def test_a_batch_whose_run_died_after_the_write_is_announced_on_the_retry(cloud):
    def down(topic: str, payload: bytes) -> None:
        raise ConnectionError("IoT Core throttled the publish")

    batch = {"type": "sync", "batchId": "b1", "messages": [site_message("m0000001", 100)]}
    publish, cloud.deps.publish = cloud.deps.publish, down
    with pytest.raises(ConnectionError):  # Lambda retries the invocation
        sync.handle(sync_event("site-a", batch), cloud.deps)
    assert cloud.deps.store.count() == 1 and cloud.published == []
    cloud.deps.publish = publish
    (ack,) = _up(cloud, batch)
    assert ack["accepted"] == [{"id": "m0000001", "cloudSeq": 1, "duplicate": True}]
    assert [(e["id"], e["seq"]) for e in cloud.on("chat/pub/lobby")] == [("m0000001", 1)]
