"""The broker enforces the topic table: who may publish and read where."""

import json
import threading
import uuid

import paho.mqtt.client as mqtt
import pytest

from tests.support.edge import ChatClient, system_client

pytestmark = pytest.mark.integration


def signed_in(edge, nick: str, *topics: str) -> ChatClient:
    creds = edge.credentials(nick)
    client = ChatClient(edge.mqtt_port, creds["username"], creds["password"])
    assert client.connect() == 0
    client.subscribe(f"chat/in/{client.client_id}", *topics)
    return client


def puback_reason(client: ChatClient, topic: str, payload: bytes) -> int:
    """Publish at QoS 1 and return the PUBACK reason code (135 = not authorized)."""
    done = threading.Event()
    reason: list[int] = []

    def on_publish(c, userdata, mid, rc, props):
        reason.append(rc.value)
        done.set()

    client.client.on_publish = on_publish
    client.client.publish(topic, payload, qos=1)
    assert done.wait(10)
    return reason[0]


def test_a_client_cannot_read_another_clients_inbox(edge):
    bob = signed_in(edge, "Bob", "chat/in/+")
    eve = signed_in(edge, "Eve")
    eve.subscribe(f"chat/in/{bob.client_id}", "chat/in/#")  # "granted", but nothing may arrive
    bob.request({"type": "hello", "nick": "Bob"}, "welcome")
    eve.request({"type": "hello", "nick": "Eve"}, "welcome")  # Eve's own reply arrives after Bob's
    assert all(topic == f"chat/in/{eve.client_id}" for topic, _ in eve.received)
    bob.close()
    eve.close()


def test_a_client_cannot_publish_on_room_or_inbox_topics(edge):
    eve = signed_in(edge, "Eve")
    watcher = signed_in(edge, "Wes", "chat/pub/lobby", f"chat/in/{eve.client_id}")
    forged = json.dumps({"type": "message", "id": uuid.uuid4().hex, "room": "lobby", "text": "forged"})
    assert puback_reason(eve, "chat/pub/lobby", forged.encode()) == 135
    assert puback_reason(eve, f"chat/in/{watcher.client_id}", b'{"type":"welcome"}') == 135
    assert puback_reason(eve, "$SYS/broker/x", b"x") == 135
    # A system message on the room proves the watcher's subscription works.
    system = system_client(edge)
    system.client.publish("chat/pub/lobby", b'{"type":"notice"}', qos=1).wait_for_publish(5)
    watcher.wait_for(lambda t, b: t == "chat/pub/lobby" and b.get("type") == "notice")
    assert not [b for t, b in watcher.received if isinstance(b, dict) and b.get("text") == "forged"]
    for c in (eve, watcher, system):
        c.close()


def test_a_client_cannot_speak_as_another(edge):
    bob = signed_in(edge, "Bob", "chat/pub/impersonation")
    eve = signed_in(edge, "Eve")
    forged = {"type": "message", "id": uuid.uuid4().hex, "room": "impersonation", "text": "I am Bob"}
    assert puback_reason(eve, f"chat/out/{bob.client_id}", json.dumps(forged).encode()) == 135
    assert puback_reason(eve, f"chat/stream/{bob.client_id}", b"{}") == 135
    page = bob.request({"type": "history", "room": "impersonation"}, "history")
    assert page["messages"] == []
    bob.close()
    eve.close()


def test_another_clients_id_does_not_take_over_their_session(edge):
    bob = signed_in(edge, "Bob")
    eve_creds = edge.credentials("Eve")
    # Eve asks for Bob's client id with her own credential.
    eve = ChatClient(edge.mqtt_port, eve_creds["username"], eve_creds["password"], client_id=bob.client_id)
    assert eve.connect() == 0  # accepted, but as herself: the broker replaces the id
    eve.subscribe(f"chat/in/{bob.client_id}")
    bob.request({"type": "hello"}, "welcome")
    assert not bob.disconnected.is_set(), "Bob was kicked off by a client claiming his id"
    assert not [t for t, _ in eve.received if t == f"chat/in/{bob.client_id}"]
    bob.close()
    eve.close()


@pytest.mark.parametrize("transport", ["tcp", "websockets"])
def test_no_credentials_or_a_wrong_password_is_refused(edge, transport):
    port = edge.mqtt_port if transport == "tcp" else edge.ws_port
    anonymous = ChatClient(port, None, None, transport=transport)
    assert anonymous.connect() == 135  # not authorized
    anonymous.close()
    creds = edge.credentials("Ann")
    wrong = ChatClient(port, creds["username"], creds["password"] + "x", transport=transport)
    assert wrong.connect() in (134, 135)  # bad user name or password / not authorized
    wrong.close()
    right = ChatClient(port, creds["username"], creds["password"], transport=transport)
    assert right.connect() == 0
    right.close()


def test_the_system_account_is_refused_on_the_lan_listener(edge):
    system = ChatClient(edge.mqtt_port, "edgechat-system", edge.system_password(), client_id="sneaky")
    assert system.connect() != 0
    system.close()


def test_a_revoked_credential_cannot_connect_again(edge):
    creds = edge.credentials("Tmp")
    edge.cli("credentials", "revoke", creds["clientId"])
    deadline_client = ChatClient(edge.mqtt_port, creds["username"], creds["password"])
    rc = deadline_client.connect()
    deadline_client.close()
    assert rc in (134, 135)


def test_mqtt_v311_clients_are_bound_the_same_way(edge):
    creds = edge.credentials("Old")
    got: list[str] = []
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="someone-else", protocol=mqtt.MQTTv311)
    client.username_pw_set(creds["username"], creds["password"])
    connected = threading.Event()
    client.on_connect = lambda *a: connected.set()
    client.on_message = lambda c, u, m: got.append(m.topic)
    client.connect("127.0.0.1", edge.mqtt_port)
    client.loop_start()
    assert connected.wait(10)
    client.subscribe(f"chat/in/{creds['clientId']}", qos=1)
    client.publish(f"chat/out/{creds['clientId']}", b'{"type":"hello","requestId":"r1"}', qos=1)
    deadline = threading.Event()
    for _ in range(100):
        if got:
            break
        deadline.wait(0.05)
    client.disconnect()
    client.loop_stop()
    assert got == [f"chat/in/{creds['clientId']}"]
