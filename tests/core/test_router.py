"""The Router's rules, with no broker and no database."""

import json

from hypothesis import given
from hypothesis import strategies as st

from edgechat.core.errors import ClientError
from edgechat.core.protocol import Bye, Limits, encode, parse_request
from edgechat.core.ratelimit import RateLimit
from edgechat.core.router import RouterConfig
from tests.core.harness import Harness


def msg(mid: str, room: str = "lobby", text: str = "hi", **extra) -> dict:
    return {"type": "message", "id": mid, "room": room, "text": text, **extra}


def test_a_message_is_announced_after_it_is_stored_and_acked_to_its_sender():
    h = Harness()
    h.send("ann", {"type": "hello", "nick": "Ann"})
    h.send("ann", msg("m0000001"))
    (event,) = h.messages("lobby")
    assert event | {"ts": 0, "orderKey": ""} == {
        "type": "message", "id": "m0000001", "room": "lobby", "seq": 1, "ts": 0, "orderKey": "",
        "site": "edge", "clientId": "ann", "nick": "Ann", "text": "hi",
    }  # fmt: skip
    ack = h.last("ann")
    assert ack["type"] == "ack" and ack["seq"] == 1 and ack["orderKey"] == event["orderKey"]
    assert h.store.count() == 1


def test_without_hello_the_nick_is_the_client_id():
    h = Harness()
    h.send("c-1", msg("m0000001"))
    assert h.messages("lobby")[0]["nick"] == "c-1"


def test_a_resend_acks_again_without_a_second_copy():
    h = Harness()
    h.send("ann", msg("m0000001"))
    first = h.last("ann")
    h.send("ann", msg("m0000001"), advance_ms=5000)
    second = h.last("ann")
    assert len(h.messages("lobby")) == 1 and h.store.count() == 1
    assert second == first | {"duplicate": True}


def test_sequences_are_per_room_and_gap_free_despite_rejections():
    h = Harness()
    h.send("ann", msg("a0000001", room="one"))
    h.send("ann", msg("bad", room="one"))  # rejected: id too short
    h.send("ann", msg("a0000002", room="two"))
    h.send("ann", msg("a0000003", room="one"))
    assert [e["seq"] for e in h.messages("one")] == [1, 2]
    assert [e["seq"] for e in h.messages("two")] == [1]


def test_order_keys_increase_even_when_the_wall_clock_goes_back():
    h = Harness()
    h.send("ann", msg("a0000001"))
    h.send("ann", msg("a0000002"), advance_ms=-60_000)
    keys = [e["orderKey"] for e in h.messages("lobby")]
    assert keys == sorted(keys) and keys[0] != keys[1]


def test_presence_join_snapshot_nick_change_and_bye():
    h = Harness()
    h.send("ann", {"type": "hello", "nick": "Ann"})
    h.send("ann", {"type": "join", "room": "lobby"})
    h.send("bob", {"type": "hello", "nick": "Bob"})
    h.send("bob", {"type": "join", "room": "lobby"})
    assert h.last("bob") == {
        "type": "joined", "room": "lobby",
        "members": [{"clientId": "ann", "nick": "Ann"}, {"clientId": "bob", "nick": "Bob"}],
    }  # fmt: skip
    h.send("bob", {"type": "join", "room": "lobby"})  # joining twice announces nothing new
    h.send("bob", {"type": "hello", "nick": "Robert"})
    h.send("bob", {"type": "bye"})
    changes = [(e["change"], e["nick"]) for e in h.rooms["lobby"]]
    assert changes == [("join", "Ann"), ("join", "Bob"), ("update", "Robert"), ("leave", "Robert")]
    assert h.router.presence.members("lobby")[0].nick == "Ann"


def test_history_pages_and_rooms_list():
    h = Harness()
    for i in range(7):
        h.send("ann", msg(f"m000000{i}", text=f"t{i}"))
    h.send("ann", {"type": "history", "room": "lobby", "limit": 3, "requestId": "q1"})
    page = h.last("ann")
    assert [m["text"] for m in page["messages"]] == ["t6", "t5", "t4"]
    assert page["hasMore"] and page["requestId"] == "q1"
    h.send("ann", {"type": "history", "room": "lobby", "after": 5})
    assert [m["text"] for m in h.last("ann")["messages"]] == ["t5", "t6"]
    h.send("bob", {"type": "join", "room": "quiet"})
    h.send("ann", {"type": "rooms"})
    rooms = {r["room"]: r for r in h.last("ann")["rooms"]}
    assert rooms["lobby"]["lastSeq"] == 7 and rooms["quiet"]["members"] == 1


def test_rate_limit_rejects_without_storing_then_recovers():
    h = Harness(RouterConfig(rate=RateLimit(per_second=1, burst=2)))
    for i in range(3):
        h.send("ann", msg(f"m000000{i}"), advance_ms=0)
    err = h.last("ann")
    assert err["code"] == "rate_limited" and err["ref"] == "m0000002" and err["retryAfterMs"] > 0
    assert h.store.count() == 2
    h.send("ann", msg("m0000002"), advance_ms=err["retryAfterMs"])
    assert h.last("ann")["type"] == "ack" and h.store.count() == 3


def test_bye_is_never_rate_limited():
    h = Harness(RouterConfig(rate=RateLimit(per_second=1, burst=1)))
    h.send("ann", {"type": "join", "room": "lobby"}, advance_ms=0)
    h.send("ann", {"type": "bye"}, advance_ms=0)
    assert h.router.presence.members("lobby") == []


def test_store_failure_is_a_retryable_error_for_the_sender():
    h = Harness()
    h.now_ms += 1
    (effect,) = h.router.receive("ann", json.dumps(msg("m0000001")).encode(), h.now_ms)
    h.apply(h.router.store_failed(effect.message))
    err = h.last("ann")
    assert err["code"] == "store_unavailable" and err["retryable"] is True and err["ref"] == "m0000001"
    h.apply(h.router.store_failed(effect.message, full=True))
    assert h.last("ann")["code"] == "storage_full" and h.last("ann")["retryable"] is True
    assert "lobby" not in h.rooms


def test_idle_sessions_are_pruned_but_present_ones_kept():
    h = Harness()
    h.send("ann", {"type": "hello"})
    h.send("bob", {"type": "join", "room": "lobby"})
    assert h.router.prune(h.now_ms + 11 * 60 * 1000) == 1
    assert h.router.session_count == 1


def is_bye(request: dict | bytes) -> bool:
    payload = request if isinstance(request, bytes) else json.dumps(request).encode()
    try:
        return isinstance(parse_request(payload, Limits()), Bye)
    except ClientError:
        return False


clients = st.sampled_from(["ann", "bob", "cy"])
ids = st.sampled_from([f"m{i:07d}" for i in range(8)])
rooms = st.sampled_from(["a", "b", "A ", "bad/room"])
requests = st.one_of(
    st.builds(lambda i, r, t: msg(i, room=r, text=t), ids, rooms, st.text(max_size=10)),
    st.builds(lambda r: {"type": "join", "room": r}, rooms),
    st.builds(lambda r: {"type": "leave", "room": r}, rooms),
    st.builds(lambda r, b: {"type": "history", "room": r, "before": b}, rooms, st.integers(-1, 9)),
    st.just({"type": "bye"}),
    st.just({"type": "rooms"}),
    st.builds(lambda n: {"type": "hello", "nick": n}, st.text(max_size=40)),
    st.binary(max_size=20),
)


@given(st.lists(st.tuples(clients, requests, st.integers(0, 3000)), max_size=40))
def test_any_conversation_keeps_the_invariants(steps):
    h = Harness(RouterConfig(limits=Limits(), rate=RateLimit(per_second=2, burst=3)))
    for client, request, dt in steps:
        before = {c: len(v) for c, v in h.inbox.items()}
        h.send(client, request, advance_ms=dt)
        if not is_bye(request):  # every other request is answered
            assert len(h.inbox.get(client, [])) > before.get(client, 0)
    for room, events in h.rooms.items():
        messages = [e for e in events if e["type"] == "message"]
        # each id announced once, sequences gap-free from 1, order keys increasing
        assert len({m["id"] for m in messages}) == len(messages)
        assert [m["seq"] for m in messages] == list(range(1, len(messages) + 1))
        assert [m["orderKey"] for m in messages] == sorted(m["orderKey"] for m in messages)
        # announced == stored
        stored, _ = h.store.history(room, after=0, limit=1000)
        assert [m.id for m in stored] == [m["id"] for m in messages]
    # every ack matches a stored message from that sender
    for client, events in h.inbox.items():
        for e in events:
            if e["type"] == "ack":
                (page, _) = h.store.history(e["room"], after=e["seq"] - 1, limit=1)
                assert page[0].id == e["id"] and page[0].client_id == client


def test_a_history_page_is_cut_to_fit_one_packet():
    h = Harness(RouterConfig(limits=Limits(max_event_bytes=20_000), rate=RateLimit(per_second=0)))
    for i in range(30):
        h.send("ann", msg(f"m{i:07d}", text=f"{i} " + "é" * 2000))
    h.send("ann", {"type": "history", "room": "lobby", "limit": 30})
    page = h.last("ann")
    assert 1 <= len(page["messages"]) < 30 and page["hasMore"] is True
    assert len(encode(page)) <= 20_000
    seen = [m["seq"] for m in page["messages"]]
    while page["hasMore"]:  # paging on from the last one gets everything, once
        h.send(
            "ann", {"type": "history", "room": "lobby", "limit": 30, "before": page["messages"][-1]["seq"]}
        )
        page = h.last("ann")
        seen += [m["seq"] for m in page["messages"]]
    assert seen == list(range(30, 0, -1))
