"""Every class of malformed input, sent through the real broker: a typed error
to the sender, nothing published, nothing stored, and the Router lives on."""

import json
import uuid

import pytest

from tests.support.edge import ChatClient, running_edge

pytestmark = pytest.mark.integration

ROOM = "hostile"


def ok_message(**overrides) -> dict:
    return {"type": "message", "id": uuid.uuid4().hex, "room": ROOM, "text": "fine", **overrides}


BAD_INPUTS = {
    "bad_json": (b'{"type": "message", "id": ', "bad_json"),
    "bad_utf8": (b'{"type":"message","text":"\xff\xfe"}', "bad_utf8"),
    "not_an_object": (b'["message"]', "not_an_object"),
    "unknown_type": (json.dumps({"type": "exec", "code": "alert(1)"}).encode(), "unknown_type"),
    "missing_type": (json.dumps({"room": ROOM}).encode(), "missing_field"),
    "missing_room": (
        json.dumps({"type": "message", "id": "abcdefgh1", "text": "x"}).encode(),
        "missing_field",
    ),
    "wrong_room_type": (json.dumps(ok_message(room=5)).encode(), "invalid_field"),
    "wildcard_room": (json.dumps(ok_message(room="a/#")).encode(), "invalid_field"),
    "wrong_text_type": (json.dumps(ok_message(text={"html": "<b>"})).encode(), "invalid_field"),
    "empty_text": (json.dumps(ok_message(text="   ")).encode(), "invalid_field"),
    "text_over_cap": (json.dumps(ok_message(text="x" * 4001)).encode(), "too_large"),
    "payload_over_cap": (json.dumps(ok_message(text="x" * 3000, pad="y" * 20000)).encode(), "too_large"),
    "bad_id": (json.dumps(ok_message(id="short")).encode(), "invalid_field"),
    "control_chars": (json.dumps(ok_message(text="bell\u0007")).encode(), "invalid_field"),
    "lone_surrogate": (
        b'{"type":"message","id":"abcdefgh2","room":"hostile","text":"\\ud800"}',
        "invalid_field",
    ),
    "deep_nesting": (b'{"type":"message","x":' + b"[" * 5000 + b"]" * 5000 + b"}", "bad_json"),
    "history_bad_cursor": (
        json.dumps({"type": "history", "room": ROOM, "before": -1}).encode(),
        "invalid_field",
    ),
    "history_both_cursors": (
        json.dumps({"type": "history", "room": ROOM, "before": 3, "after": 1}).encode(),
        "invalid_field",
    ),
    "bool_as_seq": (json.dumps({"type": "history", "room": ROOM, "limit": True}).encode(), "invalid_field"),
}


@pytest.fixture(scope="module")
def unlimited_edge(tmp_path_factory):
    # No rate limit here, so that each case sees its own error, not rate_limited.
    with running_edge(tmp_path_factory.mktemp("bad") / "data", {"rate": {"per_second": 0, "burst": 1}}) as e:
        yield e


@pytest.fixture(scope="module")
def pair(unlimited_edge):
    def client(nick):
        creds = unlimited_edge.credentials(nick)
        c = ChatClient(unlimited_edge.mqtt_port, creds["username"], creds["password"])
        assert c.connect() == 0
        c.subscribe(f"chat/in/{c.client_id}", f"chat/pub/{ROOM}")
        return c

    sender, watcher = client("Mallory"), client("Wes")
    yield sender, watcher
    sender.close()
    watcher.close()


def stored_count(edge) -> int:
    return len(edge.stored())


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_gets_a_typed_error_and_changes_nothing(case, unlimited_edge, pair):
    sender, watcher = pair
    payload, code = BAD_INPUTS[case]
    before = stored_count(unlimited_edge)
    errors_before = len(sender.events(f"chat/in/{sender.client_id}", "error"))
    sender.send(payload)
    errors = sender.wait_for(
        lambda t, b: t == f"chat/in/{sender.client_id}" and isinstance(b, dict) and b.get("type") == "error",
        count=errors_before + 1,
    )
    error = errors[-1][1]
    assert error["code"] == code, error
    assert error["retryable"] is False and error["message"]
    # The Router is alive and in order: a good message still goes through...
    good = ok_message()
    sender.send(good)
    watcher.wait_for(lambda t, b: isinstance(b, dict) and b.get("id") == good["id"])
    # ...and it is the only thing that was stored or published.
    assert stored_count(unlimited_edge) == before + 1
    published = [b["id"] for t, b in watcher.received if t == f"chat/pub/{ROOM}" and isinstance(b, dict)]
    assert published[-1] == good["id"]
    assert all(isinstance(b, dict) for _, b in watcher.received)


def test_the_error_names_the_message_it_refused(pair):
    sender, _ = pair
    bad = ok_message(text="")
    sender.send(bad)
    _, error = sender.wait_for(lambda t, b: isinstance(b, dict) and b.get("ref") == bad["id"])[0]
    assert (error["code"], error["requestType"], error["field"]) == ("invalid_field", "message", "text")


def test_a_payload_over_the_broker_limit_drops_only_that_connection(unlimited_edge, pair):
    sender, watcher = pair
    creds = unlimited_edge.credentials("Huge")
    huge = ChatClient(unlimited_edge.mqtt_port, creds["username"], creds["password"])
    assert huge.connect() == 0
    huge.client.publish(f"chat/out/{huge.client_id}", b"x" * 200_000, qos=1)
    assert huge.disconnected.wait(10)
    huge.close()
    good = ok_message()
    sender.send(good)
    watcher.wait_for(lambda t, b: isinstance(b, dict) and b.get("id") == good["id"])


def test_flooding_is_rate_limited(tmp_path):
    settings = {"rate": {"per_second": 2, "burst": 5}}
    with running_edge(tmp_path / "data", settings) as edge:
        creds = edge.credentials("Flood")
        c = ChatClient(edge.mqtt_port, creds["username"], creds["password"])
        assert c.connect() == 0
        c.subscribe(f"chat/in/{c.client_id}")
        sent = [ok_message() for _ in range(12)]
        for m in sent:
            c.send(m)
        replies = c.wait_for(lambda t, b: isinstance(b, dict) and b.get("type") in ("ack", "error"), count=12)
        limited = [b for _, b in replies if b["type"] == "error"]
        acked = [b for _, b in replies if b["type"] == "ack"]
        assert limited and acked
        assert all(e["code"] == "rate_limited" and e["retryable"] and e["retryAfterMs"] > 0 for e in limited)
        assert stored_count(edge) == len(acked)
        c.close()


def test_a_page_of_long_messages_is_cut_to_fit_the_broker(pair):
    sender, _ = pair
    for i in range(25):
        m = ok_message(room="long", text=f"{i} " + "x" * 3990)
        sender.send(m)
        sender.wait_for(lambda t, b, m=m: isinstance(b, dict) and b.get("id") == m["id"])
    page = sender.request({"type": "history", "room": "long", "limit": 200}, "history")
    assert page["type"] == "history" and page["hasMore"] is True
    texts = [m["text"] for m in page["messages"]]
    while page["hasMore"]:
        before = page["messages"][-1]["seq"]
        page = sender.request({"type": "history", "room": "long", "limit": 200, "before": before}, "history")
        texts += [m["text"] for m in page["messages"]]
    assert [t.split()[0] for t in texts] == [str(i) for i in range(24, -1, -1)]
