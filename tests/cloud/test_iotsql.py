"""The IoT SQL subset the rules runner executes: pure, no broker."""

import base64
import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edgechat.cloud.iotsql import Context, SqlError, parse, run, substitute, topic_matches

CTX = Context(topic="chat/out/ann", client_id="ann", now_ms=1234)


def test_router_rule_shape():
    stmt = parse(
        "SELECT encode(*, 'base64') AS payload, topic(3) AS clientId, timestamp() AS receivedMs "
        "FROM 'chat/out/+' WHERE clientid() = topic(3)"
    )
    raw = b"\xff not json"
    assert run(stmt, raw, CTX) == {
        "payload": base64.b64encode(raw).decode(), "clientId": "ann", "receivedMs": 1234,
    }  # fmt: skip
    assert run(stmt, raw, Context("chat/out/bob", "ann", 1)) is None  # speaking as someone else
    assert run(stmt, raw, Context("chat/in/ann", "ann", 1)) is None


def test_star_fields_and_where():
    stmt = parse("SELECT *, clientId AS who FROM '$aws/events/presence/+/+' WHERE eventType = 'disconnected'")
    ctx = Context("$aws/events/presence/disconnected/ann", None, 1)
    out = run(stmt, b'{"clientId":"ann","eventType":"disconnected","timestamp":5}', ctx)
    assert out == {"clientId": "ann", "eventType": "disconnected", "timestamp": 5, "who": "ann"}
    assert run(stmt, b'{"clientId":"ann","eventType":"connected"}', ctx) is None
    assert run(stmt, b"not json", ctx) is None


def test_logic_nested_fields_and_undefined():
    stmt = parse("SELECT a.b AS x, topic() AS t FROM 'x/#' WHERE NOT (a.b < 2 OR a.c <> 'y') AND true")
    assert run(stmt, b'{"a":{"b":3,"c":"y"}}', Context("x/1/2", None, 0)) == {"x": 3, "t": "x/1/2"}
    assert run(stmt, b'{"a":{"b":1,"c":"y"}}', Context("x/1", None, 0)) is None
    assert run(stmt, b'{"a":{"c":"y"}}', Context("x", None, 0)) is None  # Undefined is not true


def test_topic_matching():
    assert topic_matches("chat/out/+", "chat/out/a")
    assert not topic_matches("chat/out/+", "chat/out/a/b")
    assert topic_matches("sync/#", "sync/a/up")
    assert not topic_matches("+/events/presence/+/+", "$aws/events/presence/connected/a")
    assert topic_matches("$aws/events/presence/+/+", "$aws/events/presence/connected/a")


def test_substitution_templates():
    assert substitute("${topic(3)}-${clientid()}", b"", CTX) == "ann-ann"
    assert substitute("plain", b"", CTX) == "plain"


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM chat",  # unquoted topic
        "SELECT newuuid() AS id FROM 'a'",  # unsupported function
        "SELECT topic(3) FROM 'a'",  # computed item without AS
        "SELECT * FROM 'a' WHERE",
        "UPDATE x",
        "SELECT * FROM 'a' LIMIT 3",
    ],
)
def test_outside_the_subset_is_an_error(sql):
    with pytest.raises(SqlError):
        parse(sql)


@given(st.text(max_size=80))
def test_any_text_parses_or_is_a_sql_error(text):
    with contextlib.suppress(SqlError):
        parse(text)


@given(st.binary(max_size=200), st.text(alphabet="ab/+#$", max_size=12))
def test_any_payload_and_topic_evaluate_without_crashing(payload, topic):
    stmt = parse("SELECT *, a.b AS x, encode(*, 'base64') AS p FROM '#' WHERE NOT (a = 1) OR topic(2) = 'b'")
    out = run(stmt, payload, Context(topic, None, 0))
    assert out is None or isinstance(out, dict)
