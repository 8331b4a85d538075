"""The whole permission matrix, against the real broker: every actor, every
topic class, publish and subscribe, exactly as docs/protocol.md's table says.
Actors: the owner A (a browser), A's credential on a LAN device, another client
B, a moderator M (its role is checked by the Router, never by the broker: on
A's topics it has B's rights), the system account, and no credentials at all."""

import json
import uuid

import pytest

from tests.support.edge import ChatClient, system_client

pytestmark = pytest.mark.integration

ROOM = "matrix"

# Topic classes, written for the owner "A" and a room; {A} is filled in.
PUBLISH_TARGETS = [
    "chat/out/{A}",
    "chat/stream/{A}",
    "chat/in/{A}",
    "chat/pub/" + ROOM,
    "chat/pub/_site",
    "chat/sync/state",
    "edgechat/sync/in",
    "edgechat/sync/stored",
    "edgechat/sync/outbox",
    "edgechat/labels",
    "edgechat/pictures",
    "elsewhere/x",
    "edgechat/x",
]
SUBSCRIBE_TARGETS = {  # filter -> the concrete topic the probe is published on
    "chat/in/{A}": "chat/in/{A}",
    "chat/in/+": "chat/in/{A}",
    "chat/out/{A}": "chat/out/{A}",
    "chat/stream/{A}": "chat/stream/{A}",
    "chat/stream/+": "chat/stream/{A}",
    "chat/pub/" + ROOM: "chat/pub/" + ROOM,
    "chat/pub/#": "chat/pub/" + ROOM,
    "chat/pub/_site": "chat/pub/_site",
    "chat/sync/state": "chat/sync/state",
    "edgechat/sync/in": "edgechat/sync/in",
    "edgechat/sync/stored": "edgechat/sync/stored",
    "edgechat/sync/outbox": "edgechat/sync/outbox",
    "edgechat/labels": "edgechat/labels",
    "edgechat/pictures": "edgechat/pictures",
    "edgechat/#": "edgechat/labels",
    "#": "chat/in/{A}",
}
SERVICES = {  # between services only
    "edgechat/sync/in", "edgechat/sync/stored", "edgechat/sync/outbox",
    "edgechat/labels", "edgechat/pictures",
}  # fmt: skip

# Who may publish where (True = allowed).  "owner" is A itself, over WebSockets
# as a browser; "device" is A's credential used by a LAN device over plain MQTT;
# "other" is a different signed-in client acting on A's topics.
MAY_PUBLISH = {
    "owner": {"chat/out/{A}", "chat/stream/{A}"},
    "device": {"chat/out/{A}", "chat/stream/{A}"},
    "other": set(),
    "moderator": set(),
    "system": {
        "chat/in/{A}", "chat/pub/" + ROOM, "chat/pub/_site", "chat/sync/state", "edgechat/x", *SERVICES,
    },
}  # fmt: skip
READABLE = {"chat/pub/" + ROOM, "chat/pub/#", "chat/pub/_site", "chat/sync/state"}  # any signed-in client
MAY_RECEIVE = {
    "owner": {"chat/in/{A}", "chat/in/+", "#", *READABLE},
    "device": {"chat/in/{A}", "chat/in/+", "#", *READABLE},
    "other": READABLE,
    "moderator": READABLE,
    "system": {"chat/out/{A}", "chat/stream/{A}", "chat/stream/+", "edgechat/#", *READABLE, *SERVICES},
}
ACTORS = ["owner", "device", "other", "moderator", "system"]


@pytest.fixture(scope="module")
def world(edge):
    a = edge.credentials("A")
    b = edge.credentials("B")
    m = json.loads(edge.cli("credentials", "new", "--nick", "M", "--moderator").stdout)
    system = system_client(edge, "matrix-system")
    yield {"A": a, "B": b, "M": m, "system": system, "edge": edge}
    system.close()


def actor_client(world, actor: str) -> ChatClient:
    """A fresh connection for ``actor``.  "owner" and "device" share A's
    credential, so A's client id: the broker keeps one session per id, and the
    tests connect one at a time."""
    edge, a, b = world["edge"], world["A"], world["B"]
    if actor == "system":
        return system_client(edge, "matrix-listener")
    if actor == "owner":
        client = ChatClient(edge.ws_port, a["username"], a["password"], transport="websockets", will=False)
    elif actor == "device":
        client = ChatClient(edge.mqtt_port, a["username"], a["password"], client_id="device", will=False)
    else:
        who = world["M"] if actor == "moderator" else b
        client = ChatClient(edge.mqtt_port, who["username"], who["password"], will=False)
    assert client.connect() == 0
    return client


def fill(template: str, a: dict) -> str:
    return template.replace("{A}", a["clientId"])


@pytest.mark.parametrize("actor", ACTORS)
def test_publish(world, actor):
    client = world["system"] if actor == "system" else actor_client(world, actor)
    try:
        reasons: list[int] = []
        client.client.on_publish = lambda c, u, mid, rc, props: reasons.append(rc.value)
        for target in PUBLISH_TARGETS:
            payload = json.dumps({"type": "rooms", "requestId": "m1"}).encode()
            client.client.publish(fill(target, world["A"]), payload, qos=1).wait_for_publish(10)
            allowed = reasons[-1] in (0, 16)  # success / no matching subscribers
            assert allowed == (target in MAY_PUBLISH[actor]), (
                f"{actor} publish {target}: reason {reasons[-1]}"
            )
    finally:
        if actor != "system":
            client.close()


def test_a_client_without_credentials_cannot_connect_at_all(edge):
    for port, transport in ((edge.mqtt_port, "tcp"), (edge.ws_port, "websockets")):
        anonymous = ChatClient(port, None, None, transport=transport)
        assert anonymous.connect() == 135
        anonymous.close()


@pytest.mark.parametrize("actor", ACTORS)
def test_subscribe(world, actor):
    system = world["system"]
    listener = actor_client(world, actor)
    barrier_topic = f"chat/pub/barrier-{actor}"
    try:
        for filt, template in SUBSCRIBE_TARGETS.items():
            listener.received.clear()
            listener.subscribe(fill(filt, world["A"]), barrier_topic)
            probe = json.dumps({"type": "probe", "probe": uuid.uuid4().hex})
            topic = fill(template, world["A"])
            if topic.startswith(("chat/out/", "chat/stream/")):
                # Only A may publish there: A's own session, or a new one.
                own = actor in ("owner", "device")
                publisher = listener if own else actor_client(world, "device")
                publisher.client.publish(topic, probe, qos=1).wait_for_publish(5)
                if not own:
                    publisher.close()
            else:
                system.client.publish(topic, probe, qos=1).wait_for_publish(5)
            # A fresh barrier each round: under "chat/pub/#" the last round's
            # barrier arrives twice (one copy per matching subscription), and a
            # late copy must not end this round before its probe.
            barrier = uuid.uuid4().hex
            system.client.publish(
                barrier_topic, json.dumps({"type": "barrier", "barrier": barrier}), qos=1
            ).wait_for_publish(5)
            listener.wait_for(lambda t, b, want=barrier: isinstance(b, dict) and b.get("barrier") == want)
            got = any(isinstance(b, dict) and b.get("type") == "probe" and b["probe"] in probe
                      for _, b in listener.received)  # fmt: skip
            assert got == (filt in MAY_RECEIVE[actor]), f"{actor} subscribe {filt}: received={got}"
            listener.client.unsubscribe(fill(filt, world["A"]))
    finally:
        listener.close()
