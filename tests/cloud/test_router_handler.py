"""RouterFunction and PresenceFunction on moto: the core's rules, state in DynamoDB."""

from dataclasses import replace

from edgechat.cloud.handlers import presence
from edgechat.core.ratelimit import RateLimit
from edgechat.store.base import StoreError

A, B = "ann", "us-east-1:11111111-2222-3333-4444-555555555555"


def msg(mid: str, text: str = "hi", room: str = "lobby") -> dict:
    return {"type": "message", "id": mid, "room": room, "text": text}


def test_chat_round_trip_with_ttl(cloud):
    (welcome,) = cloud.request(A, {"type": "hello", "nick": "Ann", "requestId": "r1"})
    assert welcome[0] == f"chat/in/{A}" and welcome[1]["nick"] == "Ann" and welcome[1]["site"] == "cloud"
    out = cloud.request(A, {"type": "join", "room": "lobby"})
    assert [t for t, _ in out] == ["chat/pub/lobby", f"chat/in/{A}"]
    out = cloud.request(A, msg("m0000001", "hello"))
    (pub, event), (inbox, ack) = out
    assert pub == "chat/pub/lobby" and event["nick"] == "Ann" and event["seq"] == 1
    assert inbox == f"chat/in/{A}" and ack["type"] == "ack" and ack["duplicate"] is False
    assert event["orderKey"].endswith("!cloud!m0000001")
    key = {"pk": {"S": "room#lobby"}, "sk": {"S": "m#000000000001"}}
    item = cloud.db.get_item(TableName=cloud.table, Key=key)
    assert int(item["Item"]["expiresAt"]["N"]) == event["ts"] // 1000 + 30 * 86400


def test_resending_an_id_stores_one_copy_and_acks_again(cloud):
    first = cloud.request(A, msg("m0000001"))
    again = cloud.request(A, msg("m0000001", "changed"))
    assert len(first) == 2 and len(again) == 1  # no second announcement
    assert again[0][1]["duplicate"] is True and again[0][1]["seq"] == first[1][1]["seq"]
    assert cloud.deps.store.count() == 1
    (conflict,) = cloud.request(B, msg("m0000001"))
    assert conflict[1]["code"] == "id_conflict"


def test_same_millisecond_messages_never_overwrite(cloud):
    cloud.request(A, msg("m0000001", "one"))
    cloud.request(B, msg("m0000002", "two"), advance_ms=0)
    page, more = cloud.deps.store.history("lobby")
    assert [(m.seq, m.text) for m in page] == [(2, "two"), (1, "one")] and not more
    assert page[0].ts == page[1].ts and page[0].order_key > page[1].order_key


def test_history_pages_come_from_dynamodb(cloud):
    for i in range(5):
        cloud.request(A, msg(f"m000000{i}", f"t{i}"))
    ((_, page),) = cloud.request(A, {"type": "history", "room": "lobby", "limit": 2, "requestId": "h"})
    assert [m["seq"] for m in page["messages"]] == [5, 4] and page["hasMore"] and page["requestId"] == "h"
    ((_, page),) = cloud.request(A, {"type": "history", "room": "lobby", "before": 4, "limit": 5})
    assert [m["seq"] for m in page["messages"]] == [3, 2, 1] and not page["hasMore"]
    ((_, page),) = cloud.request(A, {"type": "history", "room": "lobby", "after": 3})
    assert [m["text"] for m in page["messages"]] == ["t3", "t4"]


def test_bad_input_gets_a_typed_error_and_nothing_else(cloud):
    ((topic, err),) = cloud.request(A, b"\xff\xfe")
    assert topic == f"chat/in/{A}" and err["code"] == "bad_utf8"
    assert cloud.deps.store.count() == 0


def test_a_failed_write_is_a_typed_error_and_the_same_id_succeeds_later(cloud, monkeypatch):
    def unavailable(messages):
        raise StoreError("ProvisionedThroughputExceededException")

    with monkeypatch.context() as patch:
        patch.setattr(cloud.deps.store, "add", unavailable)
        ((topic, err),) = cloud.request(A, msg("m0000001"))
    assert topic == f"chat/in/{A}" and err["code"] == "store_unavailable"
    assert cloud.on("chat/pub/lobby") == [] and cloud.deps.store.count() == 0
    (_, (_, ack)) = cloud.request(A, msg("m0000001"))
    assert ack["type"] == "ack" and ack["duplicate"] is False


def test_rate_limit_and_presence_survive_between_invocations(cloud):
    cloud.deps.config = replace(cloud.deps.config, rate=RateLimit(per_second=0.001, burst=3))
    cloud.request(A, {"type": "hello", "nick": "Ann"})
    cloud.request(A, {"type": "join", "room": "lobby"})
    cloud.request(A, {"type": "rooms"})
    ((_, err),) = cloud.request(A, msg("m0000001"))
    assert err["code"] == "rate_limited" and err["retryAfterMs"] > 0
    (_, (_, joined)) = cloud.request(B, {"type": "join", "room": "lobby"})
    assert joined["members"] == [{"clientId": A, "nick": "Ann"}, {"clientId": B, "nick": B}]


def test_a_dropped_connection_leaves_its_rooms_unless_it_is_back(cloud):
    cloud.request(A, {"type": "join", "room": "lobby"})
    stale = {"clientId": A, "eventType": "disconnected", "timestamp": cloud.now - 10}
    presence.handle(stale, cloud.deps)
    assert cloud.on("chat/pub/lobby")[-1]["change"] == "join"  # it spoke after that event
    presence.handle({**stale, "timestamp": cloud.now + 5}, cloud.deps)
    assert cloud.on("chat/pub/lobby")[-1] == {
        "type": "presence", "room": "lobby", "change": "leave", "clientId": A, "nick": A, "reason": "bye",
    }  # fmt: skip
    (_, (_, joined)) = cloud.request(B, {"type": "join", "room": "lobby"})
    assert joined["members"] == [{"clientId": B, "nick": B}]


def test_edit_and_delete_through_the_cloud_router(cloud):
    cloud.request(A, msg("m0000001", "helo"))
    out = cloud.request(
        A, {"type": "edit", "id": "e0000001", "target": "m0000001", "room": "lobby", "text": "hello"}
    )
    (pub, edited), (_, ack) = out
    assert (pub, edited["type"], edited["text"], ack["type"]) == (
        "chat/pub/lobby",
        "messageEdited",
        "hello",
        "ack",
    )
    ((_, err),) = cloud.request(
        B, {"type": "delete", "id": "d0000002", "target": "m0000001", "room": "lobby"}
    )
    assert err["code"] == "not_allowed"
    cloud.request(A, {"type": "delete", "id": "d0000001", "target": "m0000001", "room": "lobby"})
    (gone,) = cloud.deps.store.history("lobby")[0]
    assert gone.deleted and gone.text == ""
