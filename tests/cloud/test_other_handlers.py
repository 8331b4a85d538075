"""StreamFunction (Kinesis micro-batches), SyncFunction (idempotent ingest) and
HistoryFunction, with recorded-shape events."""

import base64
import json

import pytest

from edgechat.cloud.handlers import history_api, stream, sync
from edgechat.core.clock import Hlc, order_key


def kinesis_event(*records: tuple[str, bytes]) -> dict:
    return {"Records": [
        {"eventSource": "aws:kinesis", "eventID": f"shardId-000000000000:{seq}",
         "kinesis": {"sequenceNumber": seq, "partitionKey": "ann", "data": base64.b64encode(data).decode()}}
        for seq, data in records
    ]}  # fmt: skip


def stream_record(client_id: str, body: dict | bytes, ts: int = 5) -> bytes:
    payload = body if isinstance(body, bytes) else json.dumps(body).encode()
    rule = {"payload": base64.b64encode(payload).decode(), "clientId": client_id, "receivedMs": ts}
    return json.dumps(rule).encode()


class FlakyIot:
    """Publishes, except to one room."""

    def __init__(self, broken: str) -> None:
        self.broken, self.sent = broken, []

    def __call__(self, topic: str, payload: bytes) -> None:
        if topic == f"chat/pub/{self.broken}":
            raise ConnectionError("throttled")
        self.sent.append((topic, json.loads(payload)))


def test_a_micro_batch_becomes_one_event_per_room_and_reports_only_what_failed(cloud):
    iot = FlakyIot(broken="kitchen")
    cloud.deps.publish = iot
    now = cloud.now
    mid = "m0000001"
    reading = {"type": "reading", "room": "lobby", "sensor": "temp", "value": 21.5, "unit": "C"}
    event = kinesis_event(
        ("1", stream_record("ann", {"type": "typing", "room": "lobby"}, ts=now - 1000)),
        ("2", stream_record("bob", {"type": "reaction", "room": "lobby", "messageId": mid, "emoji": "+1"})),
        ("3", stream_record("cy", {"type": "typing", "room": "kitchen"})),
        ("4", b"not json at all"),  # unreadable: dropped, since a retry never helps
        ("5", stream_record("dee", reading)),
        ("6", stream_record("dee", {**reading, "value": 19.5})),
        ("7", stream_record("ann", {"type": "reaction", "room": "lobby", "messageId": mid, "emoji": "+1"})),
    )
    assert stream.handle(event, cloud.deps) == {"batchItemFailures": [{"itemIdentifier": "3"}]}
    ((topic, activity),) = iot.sent
    assert topic == "chat/pub/lobby"
    # The edge's shape, made by the same pure functions (core/stream.py).
    assert activity["typing"] == [{"clientId": "ann", "expiresInMs": 5000}]
    assert activity["reactions"] == [{"messageId": mid, "counts": {"+1": 2}}]
    (stats,) = activity["readings"]
    assert (stats["clientId"], stats["count"], stats["min"], stats["max"], stats["avg"], stats["latest"]) == (
        "dee", 2, 19.5, 21.5, 20.5, 19.5,
    )  # fmt: skip
    # A retried batch (Lambda retries from a failure) counts each client once.
    iot.sent.clear()
    stream.handle(event, cloud.deps)
    assert iot.sent[0][1]["reactions"] == [{"messageId": mid, "counts": {"+1": 2}}]
    # Taking one back.
    undo = {"type": "reaction", "room": "lobby", "messageId": mid, "emoji": "+1", "remove": True}
    stream.handle(kinesis_event(("8", stream_record("bob", undo))), cloud.deps)
    assert iot.sent[-1][1]["reactions"] == [{"messageId": mid, "counts": {"+1": 1}}]


@pytest.mark.parametrize(
    "body",
    [
        {"type": "message", "room": "lobby"},
        {"type": "typing", "room": "Bad Room!"},
        {"type": "reading", "room": "lobby", "value": 21.5},  # no sensor
    ],
)
def test_stream_records_outside_the_model_are_dropped(cloud, body):
    assert stream.handle(kinesis_event(("9", stream_record("ann", body))), cloud.deps) == {
        "batchItemFailures": []
    }
    assert cloud.published == []


def test_a_page_joining_a_room_gets_the_stored_reaction_counts_from_the_cloud(cloud):
    def react(seq: str, who: str, mid: str, emoji: str, *, room: str = "lobby", remove: bool = False) -> None:
        body = {"type": "reaction", "room": room, "messageId": mid, "emoji": emoji, "remove": remove}
        cloud.published.clear()
        got = stream.handle(kinesis_event((seq, stream_record(who, body))), cloud.deps)
        assert got == {"batchItemFailures": []}
        assert cloud.published  # stored and counted, not dropped

    react("1", "ann", "m0000001", "+1")
    react("2", "bob", "m0000001", "+1")
    react("3", "bob", "m0000002", "tada")
    react("4", "bob", "m0000002", "tada", remove=True)  # it has none left: not listed
    react("5", "cy", "m0000009", "+1", room="kitchen")  # another room's
    cloud.published.clear()
    ask = kinesis_event(("6", stream_record("dee", {"type": "reactions", "room": "lobby"})))
    assert stream.handle(ask, cloud.deps) == {"batchItemFailures": []}
    # The edge Stream's answer, on the asker's own topic only.
    assert cloud.published == [
        ("chat/in/dee", {"type": "activity", "room": "lobby", "ts": cloud.now,
                         "reactions": [{"messageId": "m0000001", "counts": {"+1": 2}}]}),
    ]  # fmt: skip


def test_a_reactions_query_that_cannot_be_answered_is_retried(cloud):
    iot = FlakyIot(broken="nowhere")

    def refuse(topic: str, payload: bytes) -> None:
        raise ConnectionError("throttled") if topic == "chat/in/dee" else iot(topic, payload)

    cloud.deps.publish = refuse
    ask = kinesis_event(("6", stream_record("dee", {"type": "reactions", "room": "lobby"})))
    assert stream.handle(ask, cloud.deps) == {"batchItemFailures": [{"itemIdentifier": "6"}]}


def test_cloud_typing_lasts_across_batches_and_expires_by_itself(cloud):
    def batch(seq: str, who: str, at: int, active: bool = True) -> list[dict]:
        body = {"type": "typing", "room": "lobby", "active": active}
        cloud.published.clear()
        stream.handle(kinesis_event((seq, stream_record(who, body, ts=at))), cloud.deps)
        return [e["typing"] for t, e in cloud.published if t == "chat/pub/lobby"]

    start = cloud.now
    assert batch("1", "ann", start) == [[{"clientId": "ann", "expiresInMs": 6000}]]
    cloud.now += 2000  # Bob, in the next invocation: Ann is still typing
    assert batch("2", "bob", cloud.now) == [
        [{"clientId": "ann", "expiresInMs": 4000}, {"clientId": "bob", "expiresInMs": 6000}]
    ]
    cloud.now += 5000  # Ann's time ran out with nobody telling the cloud
    assert batch("3", "cy", cloud.now) == [
        [{"clientId": "bob", "expiresInMs": 1000}, {"clientId": "cy", "expiresInMs": 6000}]
    ]
    # A late record of Bob's first keystroke does not shorten his later one; his stop ends it.
    assert batch("4", "bob", start)[0][0] == {"clientId": "bob", "expiresInMs": 1000}
    assert batch("5", "bob", cloud.now, active=False) == [[{"clientId": "cy", "expiresInMs": 6000}]]
    # Each item carries the table's TTL, so DynamoDB removes it by itself too.
    items = cloud.db.query(
        TableName=cloud.table, KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "typing#lobby"}},
    )["Items"]  # fmt: skip
    assert [(i["sk"]["S"], int(i["expiresAt"]["N"])) for i in items if i["sk"]["S"] == "cy"] == [
        ("cy", (cloud.now + 6000) // 1000 + 1)
    ]


def site_message(mid: str, wall: int, site: str = "site-a") -> dict:
    return {"type": "message", "id": mid, "room": "lobby", "seq": 7, "ts": wall,
            "orderKey": order_key(Hlc(wall, 0), site, mid), "site": site, "clientId": "ann",
            "nick": "Ann", "text": f"from {site}"}  # fmt: skip


def sync_event(thing: str, body: dict) -> dict:
    raw = json.dumps(body).encode()
    return {"payload": base64.b64encode(raw).decode(), "thingName": thing, "receivedMs": 1}


def test_sync_ingest_is_idempotent_and_acks_every_id(cloud):
    batch = {
        "type": "sync",
        "batchId": "b1",
        "messages": [site_message("m0000001", 100), site_message("m0000002", 101)],
    }
    sync.handle(sync_event("site-a", batch), cloud.deps)
    sync.handle(sync_event("site-a", batch), cloud.deps)  # the core never saw the first ack
    assert cloud.deps.store.count() == 2
    announced = cloud.on("chat/pub/lobby")
    assert [(m["id"], m["seq"], m["site"]) for m in announced] == [
        ("m0000001", 1, "site-a"),
        ("m0000002", 2, "site-a"),
    ] * 2  # again for the resend: its first run may have died before announcing
    first, second = cloud.on("sync/site-a/down")
    assert first["accepted"] == [
        {"id": "m0000001", "cloudSeq": 1, "duplicate": False},
        {"id": "m0000002", "cloudSeq": 2, "duplicate": False},
    ]
    assert [a["duplicate"] for a in second["accepted"]] == [True, True]
    assert cloud.deps.state.load_clock() >= Hlc(101, 0)


def test_a_forged_order_key_is_refused(cloud):
    bad = site_message("m0000001", 100)
    bad["orderKey"] = order_key(Hlc(100, 0), "site-b", "m0000001")
    sync.handle(sync_event("site-a", {"type": "sync", "batchId": "b", "messages": [bad]}), cloud.deps)
    assert cloud.deps.store.count() == 0 and cloud.on("chat/pub/lobby") == []
    ((ack),) = cloud.on("sync/site-a/down")  # refused by id: a resend cannot fix it
    assert ack["accepted"] == [] and [r["id"] for r in ack["rejected"]] == ["m0000001"]


def test_history_api(cloud):
    for i in range(3):
        cloud.request("ann", {"type": "message", "id": f"m000000{i}", "room": "lobby", "text": f"t{i}"})
    got = history_api.handle(
        {"pathParameters": {"room": "Lobby"}, "queryStringParameters": {"limit": "2"}}, cloud.deps
    )
    body = json.loads(got["body"])
    assert got["statusCode"] == 200 and [m["seq"] for m in body["messages"]] == [3, 2] and body["hasMore"]
    bad = history_api.handle(
        {"pathParameters": {"room": "lobby"}, "queryStringParameters": {"after": "x"}}, cloud.deps
    )
    assert bad["statusCode"] == 400 and json.loads(bad["body"])["field"] == "after"
