"""parse_request: arbitrary bytes never raise anything but a typed ClientError."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgechat.core.errors import ClientError, ErrorCode
from edgechat.core.protocol import (
    Bye,
    Hello,
    History,
    Join,
    Leave,
    Limits,
    ListRooms,
    SendMessage,
    encode,
    parse_request,
    request_type,
)

LIMITS = Limits()

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
request_like = st.fixed_dictionaries(
    {
        "type": st.sampled_from(
            ["message", "hello", "join", "leave", "bye", "history", "rooms", "x", "\ud800"]
        )
        | json_values
    },
    optional={
        "id": json_values | st.text(alphabet="abcdef0123456789-_", min_size=6, max_size=70),
        "room": json_values | st.from_regex(r"[A-Za-z0-9_ /#+-]{0,70}", fullmatch=True),
        "text": json_values,
        "nick": json_values,
        "before": json_values,
        "after": json_values,
        "limit": json_values,
        "replyTo": json_values,
        "requestId": json_values,
    },
)


def parse_or_error(payload: bytes):
    try:
        return parse_request(payload, LIMITS)
    except ClientError as exc:
        event = exc.to_event()
        assert event["type"] == "error" and ErrorCode(event["code"])
        encode(event)  # always publishable as UTF-8 JSON, whatever the input held
        return exc


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_arbitrary_bytes_give_a_request_or_a_typed_error(payload):
    parse_or_error(payload)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(request_like)
def test_arbitrary_request_shaped_objects_give_a_request_or_a_typed_error(obj):
    result = parse_or_error(json.dumps(obj).encode())
    if not isinstance(result, ClientError):
        assert request_type(result) == obj["type"]
        # Whatever was accepted can be published: it encodes as UTF-8 JSON.
        json.dumps([getattr(result, f) for f in result.__slots__], ensure_ascii=False).encode()


def test_a_message_is_normalised():
    req = parse_request(
        json.dumps(
            {"type": "message", "id": "01HXYZABCDEF", "room": " Lobby ", "text": "Cafe\u0301  "}
        ).encode(),
        LIMITS,
    )
    assert req == SendMessage(id="01HXYZABCDEF", room="lobby", text="Café")


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        ({"type": "hello", "nick": "  Ann "}, Hello(nick="Ann")),
        ({"type": "hello"}, Hello()),
        ({"type": "join", "room": "a-b_c"}, Join(room="a-b_c")),
        ({"type": "leave", "room": "x"}, Leave(room="x")),
        ({"type": "bye"}, Bye()),
        ({"type": "rooms", "requestId": "r1"}, ListRooms(request_id="r1")),
        ({"type": "history", "room": "x"}, History(room="x", limit=50)),
        ({"type": "history", "room": "x", "limit": 10_000}, History(room="x", limit=200)),
        ({"type": "history", "room": "x", "limit": 0}, History(room="x", limit=1)),
        ({"type": "history", "room": "x", "after": 7}, History(room="x", after=7, limit=50)),
    ],
)
def test_each_request_type(obj, expected):
    assert parse_request(json.dumps(obj).encode(), LIMITS) == expected


@pytest.mark.parametrize(
    ("payload", "code", "field"),
    [
        (b"\xff", ErrorCode.BAD_UTF8, None),
        (b"{", ErrorCode.BAD_JSON, None),
        (b"[]", ErrorCode.NOT_AN_OBJECT, None),
        (b"{}", ErrorCode.MISSING_FIELD, "type"),
        (b'{"type": 1}', ErrorCode.INVALID_FIELD, "type"),
        (b'{"type": "shell"}', ErrorCode.UNKNOWN_TYPE, "type"),
        (b'{"type": "join"}', ErrorCode.MISSING_FIELD, "room"),
        (b'{"type": "join", "room": "a/b"}', ErrorCode.INVALID_FIELD, "room"),
        (b'{"type": "join", "room": "+"}', ErrorCode.INVALID_FIELD, "room"),
        (b'{"type": "hello", "nick": "a\\u202eb"}', ErrorCode.INVALID_FIELD, "nick"),
        (b'{"type": "hello", "nick": "' + b"n" * 33 + b'"}', ErrorCode.INVALID_FIELD, "nick"),
        (b'{"type": "message", "id": "12345678", "room": "r", "text": 5}', ErrorCode.INVALID_FIELD, "text"),
        (b'{"type": "history", "room": "r", "before": 1.5}', ErrorCode.INVALID_FIELD, "before"),
        (b"1" * 5000, ErrorCode.BAD_JSON, None),
        (b" " * (LIMITS.max_payload_bytes + 1), ErrorCode.TOO_LARGE, None),
    ],
)
def test_each_error(payload, code, field):
    with pytest.raises(ClientError) as caught:
        parse_request(payload, LIMITS)
    assert caught.value.code == code
    assert caught.value.field == field


def test_an_error_carries_the_message_id_it_refers_to():
    with pytest.raises(ClientError) as caught:
        parse_request(b'{"type": "message", "id": "abcdefgh", "room": "r", "text": ""}', LIMITS)
    event = caught.value.to_event()
    assert event["ref"] == "abcdefgh" and event["requestType"] == "message"


def test_emoji_with_joiners_are_text_not_control():
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    req = parse_request(
        json.dumps({"type": "message", "id": "abcdefgh", "room": "r", "text": family}).encode(), LIMITS
    )
    assert req.text == family


@pytest.mark.parametrize("field", ["type", "requestId", "id"])
def test_a_lone_surrogate_anywhere_still_gives_a_publishable_error(field):
    obj = {"type": "message", "id": "abcdefgh", "room": "r", "text": "", field: "\ud800"}
    with pytest.raises(ClientError) as caught:
        parse_request(json.dumps(obj).encode(), LIMITS)
    encode(caught.value.to_event())
