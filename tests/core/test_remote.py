"""Messages from elsewhere: validated as strictly as a client's, bad ones named."""

import json

import pytest

from edgechat.core.clock import Hlc, order_key
from edgechat.core.remote import (
    MAX_CLOCK_AHEAD_MS,
    BadRemoteMessage,
    observable,
    parse_inject,
    parse_message,
    stored_reply,
)


def event(mid: str = "msg00001", site: str = "siteb", **over) -> dict:
    base = {
        "type": "message", "id": mid, "room": "lobby", "text": "hi", "clientId": "c1", "nick": "Ann",
        "ts": 1000, "orderKey": order_key(Hlc(1000, 2), site, mid), "site": site, "seq": 7,
    }  # fmt: skip
    return {**base, **over}


def test_a_good_message_keeps_its_origin():
    m = parse_message(event(replyTo="msg00000"), 4000)
    assert (m.id, m.site, m.order_key, m.reply_to, m.seq) == (
        "msg00001",
        "siteb",
        event()["orderKey"],
        "msg00000",
        0,
    )


def test_a_cognito_identity_may_be_the_author():
    assert parse_message(event(clientId="us-east-1:" + "0" * 8 + "-0000-0000-0000-" + "0" * 12), 10)


@pytest.mark.parametrize(
    "bad",
    [
        {"orderKey": order_key(Hlc(1, 0), "other", "msg00001")},  # another site's key
        {"orderKey": "zzzzzzzzzzzzzzzz!siteb!msg00001"},  # not a clock
        {"ts": "1000"},
        {"ts": True},
        {"clientId": "a/b"},
        {"room": "a/#"},
        {"text": "x" * 11},
        {"nick": ""},
        {"replyTo": 5},
        {"site": None},
    ],
)
def test_bad_fields_are_refused_with_a_reason(bad):
    with pytest.raises(BadRemoteMessage, match=r"^message: "):
        parse_message(event(**bad), 10)


def test_missing_field_and_non_object():
    raw = event()
    del raw["nick"]
    for item in (raw, [], "x", None):
        with pytest.raises(BadRemoteMessage):
            parse_message(item, 10)


def test_an_inject_keeps_the_good_messages_and_names_the_bad_ones():
    payload = json.dumps(
        {
            "type": "inject",
            "requestId": "r1",
            "messages": [event("msg0000a"), event("msg0000b", ts=-1), event("msg0000c"), 5],
        }
    ).encode()
    inject = parse_inject(payload, 100)
    assert [m.id for m in inject.messages] == ["msg0000a", "msg0000c"]
    assert [r["id"] for r in inject.rejected] == ["msg0000b", ""]
    assert inject.latest == Hlc(1000, 2)
    reply = stored_reply(inject, [(m, m.id == "msg0000a") for m in inject.messages])
    assert reply == {"type": "stored", "requestId": "r1", "ids": ["msg0000a", "msg0000c"], "created": 1,
                     "rejected": list(inject.rejected)}  # fmt: skip


@pytest.mark.parametrize(
    "payload",
    [b"", b"\xff", b"[]", b'{"type":"inject"}', b'{"type":"inject","requestId":"r","messages":{}}',
     b'{"type":"other","requestId":"r","messages":[]}', b"[" * 100_000],
)  # fmt: skip
def test_an_unreadable_inject_is_a_typed_error(payload):
    with pytest.raises(BadRemoteMessage):
        parse_inject(payload, 100)


def test_a_clock_far_ahead_pulls_this_sites_clock_only_so_far():
    now = 1_000_000
    assert observable(Hlc(now + 5, 3), now) == Hlc(now + 5, 3)
    assert observable(Hlc(now + 10 * MAX_CLOCK_AHEAD_MS, 3), now) == Hlc(now + MAX_CLOCK_AHEAD_MS, 0)
