"""Chat over the real broker: two people, history, idempotent resends, presence."""

import uuid

import pytest

from tests.support.edge import ChatClient

pytestmark = pytest.mark.integration


def mid() -> str:
    return uuid.uuid4().hex


def is_event(topic: str, kind: str, **fields):
    def match(t, b):
        return (
            t == topic
            and isinstance(b, dict)
            and b.get("type") == kind
            and all(b.get(k) == v for k, v in fields.items())
        )

    return match


def barrier(sender: ChatClient, room: str, *watchers: ChatClient) -> None:
    """Send one more message and wait until every watcher has it: anything sent
    before it has arrived by then (one publisher, one room: ordered)."""
    marker = mid()
    sender.send({"type": "message", "id": marker, "room": room, "text": "barrier"})
    for w in watchers:
        w.wait_for(is_event(f"chat/pub/{room}", "message", id=marker))


def test_two_people_chat_and_a_latecomer_reads_history(connect):
    ann = connect("Ann", rooms=("lobby",))
    bob = connect("Bob", rooms=("lobby",))
    ann.request({"type": "join", "room": "lobby"}, "joined")
    bob.request({"type": "join", "room": "lobby"}, "joined")

    hello = mid()
    ann.send({"type": "message", "id": hello, "room": "lobby", "text": "hi Bob"})
    ack = ann.wait_for(is_event(f"chat/in/{ann.client_id}", "ack", id=hello))[0][1]
    assert ack["room"] == "lobby" and ack["seq"] >= 1 and ack["duplicate"] is False

    for c in (ann, bob):
        _, event = c.wait_for(is_event("chat/pub/lobby", "message", id=hello))[0]
        assert event["text"] == "hi Bob"
        assert event["nick"] == "Ann" and event["clientId"] == ann.client_id
        assert event["seq"] == ack["seq"] and event["orderKey"] == ack["orderKey"]

    reply = mid()
    bob.send({"type": "message", "id": reply, "room": "lobby", "text": "hi Ann", "replyTo": hello})
    ann.wait_for(is_event("chat/pub/lobby", "message", id=reply, replyTo=hello))
    barrier(bob, "lobby", ann, bob)
    for c in (ann, bob):  # each message arrived exactly once
        assert len(c.events("chat/pub/lobby", "message")) == 3
        assert len({e["id"] for e in c.events("chat/pub/lobby", "message")}) == 3

    cid = connect("Cy")
    page = cid.request({"type": "history", "room": "lobby", "limit": 10}, "history")
    texts = [m["text"] for m in page["messages"]]
    assert texts == ["barrier", "hi Ann", "hi Bob"]  # newest first
    assert page["hasMore"] is False


def test_resending_a_message_id_stores_it_once_and_acks_the_same(connect, edge):
    ann = connect("Ann", rooms=("resend",))
    watcher = connect("Wes", rooms=("resend",))
    message = {"type": "message", "id": mid(), "room": "resend", "text": "only once"}
    ann.send(message)
    first = ann.wait_for(is_event(f"chat/in/{ann.client_id}", "ack", id=message["id"]))[0][1]
    ann.send(message)
    acks = ann.wait_for(is_event(f"chat/in/{ann.client_id}", "ack", id=message["id"]), count=2)
    second = acks[1][1]
    assert (second["seq"], second["orderKey"], second["ts"]) == (first["seq"], first["orderKey"], first["ts"])
    assert second["duplicate"] is True
    barrier(ann, "resend", watcher)
    assert [e["id"] for e in watcher.events("chat/pub/resend", "message")].count(message["id"]) == 1
    page = watcher.request({"type": "history", "room": "resend"}, "history")
    assert [m["id"] for m in page["messages"]].count(message["id"]) == 1


def test_someone_else_cannot_reuse_a_message_id(connect):
    ann = connect("Ann")
    eve = connect("Eve")
    taken = mid()
    ann.send({"type": "message", "id": taken, "room": "ids", "text": "mine"})
    ann.wait_for(is_event(f"chat/in/{ann.client_id}", "ack", id=taken))
    eve.send({"type": "message", "id": taken, "room": "ids", "text": "hijack"})
    _, err = eve.wait_for(is_event(f"chat/in/{eve.client_id}", "error", ref=taken))[0]
    assert err["code"] == "id_conflict"


def test_presence_join_snapshot_and_disconnect_by_last_will(connect):
    ann = connect("Ann", rooms=("porch",))
    ann.request({"type": "join", "room": "porch"}, "joined")
    bob = connect("Bob", rooms=("porch",))
    joined = bob.request({"type": "join", "room": "porch"}, "joined")
    assert {m["nick"] for m in joined["members"]} == {"Ann", "Bob"}
    ann.wait_for(is_event("chat/pub/porch", "presence", change="join", clientId=bob.client_id))

    bob.drop()  # no goodbye: the broker publishes Bob's Last Will
    _, left = ann.wait_for(is_event("chat/pub/porch", "presence", change="leave", clientId=bob.client_id))[0]
    assert left["nick"] == "Bob"
    rooms = ann.request({"type": "rooms"}, "rooms")["rooms"]
    assert {"room": "porch", "members": 1}.items() <= next(r for r in rooms if r["room"] == "porch").items()


def test_leave_is_announced(connect):
    ann = connect("Ann", rooms=("den",))
    ann.request({"type": "join", "room": "den"}, "joined")
    bob = connect("Bob")
    bob.request({"type": "join", "room": "den"}, "joined")
    bob.request({"type": "leave", "room": "den"}, "left")
    ann.wait_for(is_event("chat/pub/den", "presence", change="leave", clientId=bob.client_id, reason="leave"))


def test_history_pages_back_with_a_before_cursor_and_forward_with_after(connect):
    ann = connect("Ann")
    ids = []
    for i in range(12):
        ids.append(mid())
        ann.send({"type": "message", "id": ids[-1], "room": "pages", "text": f"m{i}"})
        ann.wait_for(is_event(f"chat/in/{ann.client_id}", "ack", id=ids[-1]))
    newest = ann.request({"type": "history", "room": "pages", "limit": 5}, "history")
    assert [m["text"] for m in newest["messages"]] == ["m11", "m10", "m9", "m8", "m7"]
    assert newest["hasMore"] is True
    older = ann.request(
        {"type": "history", "room": "pages", "limit": 5, "before": newest["messages"][-1]["seq"]}, "history"
    )
    assert [m["text"] for m in older["messages"]] == ["m6", "m5", "m4", "m3", "m2"]
    missed = ann.request(
        {"type": "history", "room": "pages", "after": older["messages"][0]["seq"]}, "history"
    )
    assert [m["text"] for m in missed["messages"]] == [f"m{i}" for i in range(7, 12)]
    assert missed["direction"] == "after" and missed["hasMore"] is False
