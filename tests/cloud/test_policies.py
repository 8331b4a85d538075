"""The template's IoT and IAM policies allow exactly the topic table of
docs/protocol.md, with the variables expanded as IoT Core expands them."""

import itertools

import pytest

from edgechat.cloud import template
from tests.cloud.iot_policy import ARN, allowed

ME = "us-east-1:11111111-2222-3333-4444-555555555555"
OTHER = "us-east-1:99999999-2222-3333-4444-555555555555"
NAMES = [ME, OTHER, "+", "#", "lobby"]
TOPICS = [f"chat/{kind}/{name}" for kind in ("out", "in", "pub", "stream") for name in NAMES]
TOPICS += ["chat/#", "chat/in/+", "chat/pub/#", "sync/site-a/up", "sync/site-a/down", "$aws/things/x/shadow"]

T = template.load()


def _doc(logical_id: str) -> dict:
    props = T["Resources"][logical_id]["Properties"]
    if "PolicyDocument" in props:
        return props["PolicyDocument"]
    (policy,) = props["Policies"]
    return policy["PolicyDocument"]


def _grants(doc: dict, variables: dict[str, str], client_id: str) -> set[tuple[str, str]]:
    out = set()
    if allowed(doc, "iot:Connect", f"{ARN}:client/{client_id}", variables):
        out.add(("connect", client_id))
    for topic, (action, kind) in itertools.product(
        TOPICS,
        [("iot:Publish", "topic"), ("iot:Receive", "topic"), ("iot:Subscribe", "topicfilter")],
    ):
        if allowed(doc, action, f"{ARN}:{kind}/{topic}", variables):
            out.add((action.split(":")[1].lower(), topic))
    return out


BROWSER_TABLE = {
    ("connect", ME),
    ("publish", f"chat/out/{ME}"),
    ("publish", f"chat/stream/{ME}"),
    ("subscribe", f"chat/in/{ME}"),
    ("receive", f"chat/in/{ME}"),
    *(("subscribe", f"chat/pub/{n}") for n in NAMES),  # any room, or all rooms
    *(("receive", f"chat/pub/{n}") for n in NAMES),
    ("subscribe", "chat/pub/#"),
    ("receive", "chat/pub/#"),
}


@pytest.mark.parametrize("policy", ["BrowserGuestRole", "BrowserPolicy"])
def test_a_browser_gets_exactly_the_topic_table(policy):
    variables = {"cognito-identity.amazonaws.com:sub": ME, "iot:ClientId": ME}
    assert _grants(_doc(policy), variables, ME) == BROWSER_TABLE


@pytest.mark.parametrize("policy", ["BrowserGuestRole", "BrowserPolicy"])
def test_a_browser_cannot_connect_as_anyone_else_or_as_a_wildcard(policy):
    for client_id in (OTHER, "+", "#", "*"):
        variables = {"cognito-identity.amazonaws.com:sub": ME, "iot:ClientId": client_id}
        assert ("connect", client_id) not in _grants(_doc(policy), variables, client_id)


def test_the_client_id_plus_pitfall_is_closed_twice():
    # Were a client ever connected as "+", ${iot:ClientId} would expand to a
    # wildcard: subscribing to chat/in/+ would match the expanded filter...
    doc = _doc("BrowserPolicy")
    plus = {"cognito-identity.amazonaws.com:sub": ME, "iot:ClientId": "+"}
    assert allowed(doc, "iot:Subscribe", f"{ARN}:topicfilter/chat/in/+", plus)
    # ...but Connect binds the id to the identity (so "+" never connects), and
    # Receive is checked against the real topic, which is not a wildcard.
    assert not allowed(doc, "iot:Connect", f"{ARN}:client/+", plus)
    assert not allowed(doc, "iot:Receive", f"{ARN}:topic/chat/in/{OTHER}", plus)


def test_a_core_uses_only_its_own_sync_topics():
    doc = _doc("CorePolicy")
    thing = {"iot:Connection.Thing.ThingName": "site-a", "iot:Connection.Thing.IsAttached": "true"}
    rooms = {(a, f"chat/pub/{n}") for a in ("subscribe", "receive") for n in NAMES} | {
        ("subscribe", "chat/pub/#"),
        ("receive", "chat/pub/#"),
    }  # fmt: skip  (every room's accepted messages: the live fan-out between sites)
    assert _grants(doc, thing, "site-a") == {
        ("connect", "site-a"),
        ("publish", "sync/site-a/up"),
        ("subscribe", "sync/site-a/down"),
        ("receive", "sync/site-a/down"),
        *rooms,
    }
    assert _grants(doc, thing, "site-b") == {
        ("publish", "sync/site-a/up"),
        ("subscribe", "sync/site-a/down"),
        ("receive", "sync/site-a/down"),
        *rooms,
    }  # fmt: skip  (topics named by its thing, whatever it asks; and it cannot connect as site-b)
    unattached = {**thing, "iot:Connection.Thing.IsAttached": "false"}
    assert ("connect", "site-a") not in _grants(doc, unattached, "site-a")


def test_only_the_handlers_may_speak_on_system_topics():
    props = T["Resources"]["RouterFunction"]["Properties"]
    stmt = props["Policies"][1]["Statement"]
    assert allowed({"Statement": stmt}, "iot:Publish", f"{ARN}:topic/chat/in/{ME}", {})
    assert not allowed({"Statement": stmt}, "iot:Publish", f"{ARN}:topic/chat/out/{ME}", {})


def _acl_grants(acl: str, username: str, topics: list[str]) -> set[tuple[str, str]]:
    """What a Mosquitto acl_file grants ``username`` on concrete topics: a read
    rule allows subscribing to and receiving what it matches."""
    from paho.mqtt.client import topic_matches_sub

    out = set()
    for line in acl.splitlines():
        if not line or line.startswith("#"):
            continue
        kind, access, topic_filter = line.split()
        topic_filter = topic_filter.replace("%u", username) if kind == "pattern" else topic_filter
        for topic in topics:
            if "+" in topic or "#" in topic or not topic_matches_sub(topic_filter, topic):
                continue
            actions = ("publish",) if access == "write" else ("subscribe", "receive")
            out |= {(a, topic) for a in actions}
    return out


def test_the_local_brokers_core_acl_is_the_core_policy():
    from edgechat.cloud.local.broker import CORE_ACL

    thing = {"iot:Connection.Thing.ThingName": "site-a", "iot:Connection.Thing.IsAttached": "true"}
    concrete = {(a, t) for a, t in _grants(_doc("CorePolicy"), thing, "site-a") if a != "connect"}
    concrete = {(a, t) for a, t in concrete if "+" not in t and "#" not in t}
    assert _acl_grants(CORE_ACL, "site-a", TOPICS) == concrete
