"""The stream core, pure: parsing, admission, micro-batch aggregation, typing expiry."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgechat.core.errors import ClientError
from edgechat.core.ratelimit import RateLimit
from edgechat.core.stream import (
    Batcher,
    Reaction,
    ReactionChange,
    ReactionsQuery,
    Read,
    Reading,
    StreamLimits,
    Typing,
    TypingBoard,
    apply_reactions,
    batch_by_room,
    count_reactions,
    parse_event,
    to_json,
)

LIMITS = StreamLimits()
MID = "01J0000000000000000000000A"


def raw(**event: object) -> bytes:
    return json.dumps(event).encode()


def test_each_event_type_parses_to_its_frozen_form_and_back():
    cases = [
        {"type": "typing", "room": "lobby", "active": True},
        {"type": "typing", "room": "lobby", "active": False},
        {"type": "reaction", "room": "lobby", "messageId": MID, "emoji": "👍"},
        {"type": "reaction", "room": "lobby", "messageId": MID, "emoji": "👨‍👩‍👧", "remove": True},
        {"type": "read", "room": "lobby", "seq": 42},
        {"type": "reading", "room": "lab", "sensor": "temp.c", "value": 21.5, "unit": "°C"},
        {"type": "reactions", "room": "lobby"},
    ]
    for case in cases:
        assert to_json(parse_event(raw(**case), LIMITS)) == case


def test_typing_defaults_to_active_and_rooms_are_case_insensitive():
    assert parse_event(raw(type="typing", room="Lobby"), LIMITS) == Typing("lobby", True)


@pytest.mark.parametrize(
    ("payload", "code", "field"),
    [
        (b"\xff", "bad_utf8", None),
        (b"{", "bad_json", None),
        (b"[1]", "not_an_object", None),
        (b"x" * 2000, "too_large", None),
        (raw(room="lobby"), "missing_field", "type"),
        (raw(type="message", room="lobby"), "unknown_type", "type"),
        (raw(type=7), "invalid_field", "type"),
        (raw(type="typing"), "missing_field", "room"),
        (raw(type="typing", room="a/b"), "invalid_field", "room"),
        (raw(type="typing", room="lobby", active="yes"), "invalid_field", "active"),
        (raw(type="reaction", room="lobby", messageId="x", emoji="👍"), "invalid_field", "messageId"),
        (raw(type="reaction", room="lobby", messageId=MID, emoji=""), "invalid_field", "emoji"),
        (raw(type="reaction", room="lobby", messageId=MID, emoji="x" * 17), "invalid_field", "emoji"),
        (raw(type="reaction", room="lobby", messageId=MID, emoji="\u202e!"), "invalid_field", "emoji"),
        (raw(type="read", room="lobby", seq=-1), "invalid_field", "seq"),
        (raw(type="read", room="lobby", seq=True), "invalid_field", "seq"),
        (raw(type="reading", room="lab", sensor="t", value="21"), "invalid_field", "value"),
        (raw(type="reading", room="lab", sensor="t", value=True), "invalid_field", "value"),
        (b'{"type":"reading","room":"lab","sensor":"t","value":NaN}', "invalid_field", "value"),
        (b'{"type":"reading","room":"lab","sensor":"t","value":Infinity}', "invalid_field", "value"),
        (raw(type="reading", room="lab", sensor="a b", value=1), "invalid_field", "sensor"),
        (raw(type="reading", room="lab", value=1), "missing_field", "sensor"),
    ],
)
def test_bad_events_get_a_typed_error_naming_the_field(payload, code, field):
    with pytest.raises(ClientError) as caught:
        parse_event(payload, LIMITS)
    event = caught.value.to_event()
    assert event["code"] == code
    assert event.get("field") == field


def test_the_error_says_which_stream_event_it_was_about():
    with pytest.raises(ClientError) as caught:
        parse_event(raw(type="read", room="lobby"), LIMITS)
    assert caught.value.to_event()["requestType"] == "read"


def test_a_flood_is_cut_at_the_burst_and_told_once_per_wait():
    b = Batcher(StreamLimits(rate=RateLimit(per_second=10, burst=5)))
    payload = raw(type="reading", room="lab", sensor="t", value=1)
    outcomes = [b.receive("dev", payload, 1000) for _ in range(50)]
    accepted = [e for e, _ in outcomes if e is not None]
    errors = [err for _, err in outcomes if err is not None]
    assert len(accepted) == 5
    assert len(errors) == 1 and errors[0]["code"] == "rate_limited" and errors[0]["retryAfterMs"] == 100
    # After the wait, one more token; another client was never affected.
    assert b.receive("dev", payload, 1100)[0] is not None
    assert b.receive("other", payload, 1000)[0] is not None


def test_a_window_aggregates_readings_per_device_and_sensor():
    events = [
        ("dev1", Reading("lab", "temp", 20.0, "C"), 1),
        ("dev1", Reading("lab", "temp", 24.0), 2),
        ("dev1", Reading("lab", "temp", 19.0), 3),
        ("dev2", Reading("lab", "temp", 5.0), 4),
        ("dev1", Reading("lab", "hum", 40.0), 5),
        ("dev1", Reading("yard", "temp", 1.0), 6),
    ]
    batches = batch_by_room(events)
    assert set(batches) == {"lab", "yard"}
    stats = {k: s.to_json() for k, s in batches["lab"].readings.items()}
    assert stats[("dev1", "temp")] == {
        "clientId": "dev1", "sensor": "temp", "unit": "C", "count": 3,
        "latest": 19.0, "min": 19.0, "max": 24.0, "avg": 21.0, "ts": 3,
    }  # fmt: skip
    assert stats[("dev2", "temp")]["avg"] == 5.0
    assert stats[("dev1", "hum")]["count"] == 1


def test_read_marks_keep_the_highest_seq_per_client():
    batch = batch_by_room(
        [("a", Read("lobby", 5), 1), ("a", Read("lobby", 3), 2), ("b", Read("lobby", 1), 3)]
    )
    assert batch["lobby"].reads == {"a": 5, "b": 1}


def test_reactions_count_clients_not_clicks_and_can_be_taken_back():
    changes = [
        ReactionChange("a", MID, "👍", False),
        ReactionChange("a", MID, "👍", False),  # a resend: still one
        ReactionChange("b", MID, "👍", False),
        ReactionChange("b", MID, "🎉", False),
        ReactionChange("b", MID, "🎉", True),
    ]
    held = apply_reactions(set(), changes)
    assert count_reactions(held) == {MID: {"👍": 2}}


def test_typing_shows_until_its_ttl_then_disappears_by_itself():
    board = TypingBoard(ttl_ms=1000)
    first = batch_by_room([("a", Typing("lobby"), 0), ("b", Typing("lobby"), 100)])
    assert board.update(first.values(), 100) == {"lobby"}
    assert [t["clientId"] for t in board.typing("lobby", 100)] == ["a", "b"]
    # a keeps typing, b stops saying so: b expires at 1100, a stays.
    assert board.update(batch_by_room([("a", Typing("lobby"), 900)]).values(), 900) == set()
    assert board.update([], 1050) == set()  # nobody expired yet
    assert board.update([], 1150) == {"lobby"}
    assert [t["clientId"] for t in board.typing("lobby", 1150)] == ["a"]
    assert board.typing("lobby", 1150)[0]["expiresInMs"] == 750
    assert board.update([], 1900) == {"lobby"}
    assert board.typing("lobby", 1900) == []
    assert board.next_expiry() is None


def test_typing_false_removes_at_once():
    board = TypingBoard(ttl_ms=5000)
    board.update(batch_by_room([("a", Typing("lobby"), 0)]).values(), 0)
    assert board.update(batch_by_room([("a", Typing("lobby", False), 10)]).values(), 10) == {"lobby"}
    assert board.typing("lobby", 10) == []


def test_the_batcher_publishes_one_activity_per_room_per_window():
    b = Batcher(LIMITS)
    for i in range(10):
        b.receive("dev", raw(type="reading", room="lab", sensor="t", value=i), 1000 + i)
    b.receive("alice", raw(type="typing", room="lobby"), 1000)
    b.receive("alice", raw(type="reaction", room="lobby", messageId=MID, emoji="👍"), 1001)
    event, error = b.receive("alice", raw(type="reactions", room="lobby"), 1002)
    assert event == ReactionsQuery("lobby") and error is None
    _, error = b.receive("alice", b"nope", 1003)
    assert error is not None and error["code"] == "bad_json"
    window = b.take(1100)
    assert window.rooms() == ["lab", "lobby"]
    assert len(window.accepted) == 12  # the query is answered, not batched
    lab = b.activity(window, "lab", {}, 1100)
    assert lab is not None and lab["readings"][0]["count"] == 10 and lab["readings"][0]["avg"] == 4.5
    assert "typing" not in lab
    lobby = b.activity(window, "lobby", {MID: {"👍": 3}}, 1100)
    assert lobby is not None
    assert lobby["typing"] == [{"clientId": "alice", "expiresInMs": LIMITS.typing_ttl_ms - 100}]
    assert lobby["reactions"] == [{"messageId": MID, "counts": {"👍": 3}}]
    # Nothing new: nothing to publish, until alice's typing expires.
    empty = b.take(1200)
    assert empty.rooms() == []
    expired = b.take(1000 + LIMITS.typing_ttl_ms)
    assert expired.rooms() == ["lobby"]
    assert b.activity(expired, "lobby", {}, 1000 + LIMITS.typing_ttl_ms)["typing"] == []


def test_a_reaction_in_the_batch_is_what_the_store_applies():
    batch = batch_by_room([("a", Reaction("lobby", MID, "👍"), 1)])["lobby"]
    assert batch.reactions == [ReactionChange("a", MID, "👍", False)]
    assert batch.touched_messages() == [MID]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=10,
)
fields = st.fixed_dictionaries(
    {"type": st.sampled_from(["typing", "reaction", "read", "reading", "reactions", "nope"])},
    optional={
        k: json_values | st.text(max_size=40)
        for k in ("room", "active", "messageId", "emoji", "remove", "seq", "sensor", "value", "unit")
    },
)


@settings(max_examples=100, deadline=None)
@given(st.one_of(st.binary(max_size=300), fields.map(lambda d: json.dumps(d).encode())))
def test_no_payload_gets_anything_but_an_event_or_a_typed_error(payload):
    b = Batcher(LIMITS)
    event, error = b.receive("dev", payload, 1000)
    assert (event is None) != (error is None)
    if error is not None:
        assert error["type"] == "error" and isinstance(error["code"], str)
    else:
        # What is accepted survives the round trip the spool and the export make.
        assert parse_event(json.dumps(to_json(event)).encode(), LIMITS) == event
    window = b.take(1200)
    for room in window.rooms():
        assert json.dumps(b.activity(window, room, {}, 1200))
