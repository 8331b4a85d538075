"""MQTT-level oddities, as raw packets a careless or hostile device could send:
invalid UTF-8, empty and wildcard topics, huge topics, wildcard client ids,
retained requests, QoS 2.  The broker refuses what is malformed, the ACL what
is not allowed, and the Router keeps serving everyone else."""

from __future__ import annotations

import json
import socket
import struct
import uuid

import pytest

from tests.support.edge import ChatClient, running_edge

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def edge(tmp_path_factory):
    with running_edge(tmp_path_factory.mktemp("odd") / "data") as e:
        yield e


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _str(b: bytes) -> bytes:
    return struct.pack("!H", len(b)) + b


def _packet(first: int, body: bytes) -> bytes:
    return bytes([first]) + _varint(len(body)) + body


def connect_packet(client_id: bytes, user: str, password: str) -> bytes:
    variable = _str(b"MQTT") + bytes([4, 0xC2]) + struct.pack("!H", 30)  # 3.1.1, user+pass, clean
    return _packet(0x10, variable + _str(client_id) + _str(user.encode()) + _str(password.encode()))


def publish_packet(topic: bytes, payload: bytes, qos: int = 0, retain: bool = False, mid: int = 1) -> bytes:
    first = 0x30 | (qos << 1) | int(retain)
    return _packet(first, _str(topic) + (struct.pack("!H", mid) if qos else b"") + payload)


class Raw:
    """A bare TCP connection speaking hand-made MQTT."""

    def __init__(self, port: int, creds: dict, client_id: bytes | None = None) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.sock.sendall(connect_packet(client_id or creds["clientId"].encode(), creds["username"],
                                         creds["password"]))  # fmt: skip
        connack = self.sock.recv(4)
        assert connack[:1] == b"\x20" and connack[3] == 0, connack

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def closed_by_broker(self) -> bool:
        """True when the broker hangs up on us (what it does with malformed packets)."""
        self.sock.settimeout(5)
        try:
            while chunk := self.sock.recv(4096):
                del chunk
            return True
        except TimeoutError:
            return False
        except OSError:
            return True

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def watcher(edge):
    creds = edge.credentials("watcher")
    c = ChatClient(edge.mqtt_port, creds["username"], creds["password"])
    assert c.connect() == 0
    c.subscribe(f"chat/in/{c.client_id}", "chat/pub/odd")
    yield c
    c.close()


def still_serving(watcher: ChatClient) -> None:
    mid = uuid.uuid4().hex
    watcher.send({"type": "message", "id": mid, "room": "odd", "text": "still here"})
    watcher.wait_for(lambda t, b: isinstance(b, dict) and b.get("type") == "ack" and b["id"] == mid)


@pytest.mark.parametrize(
    "topic",
    [
        pytest.param(b"chat/out/\xff\xfe", id="invalid-utf8"),
        pytest.param(b"", id="empty"),
        pytest.param(b"chat/out/+", id="wildcard-plus"),
        pytest.param(b"chat/#", id="wildcard-hash"),
        pytest.param(b"chat/out/a\x00b", id="nul"),
    ],
)
def test_malformed_topics_get_the_connection_closed(edge, watcher, topic):
    raw = Raw(edge.mqtt_port, edge.credentials("odd"))
    raw.send(publish_packet(topic, b'{"type":"hello"}', qos=1))
    assert raw.closed_by_broker()
    raw.close()
    still_serving(watcher)


def test_a_huge_topic_is_refused_and_harms_no_one(edge, watcher):
    creds = edge.credentials("huge")
    raw = Raw(edge.mqtt_port, creds)
    raw.send(publish_packet(b"chat/out/" + creds["clientId"].encode() + b"/" + b"x" * 60_000, b"{}", qos=0))
    raw.send(publish_packet(b"x" * 65_000, b"y" * 2000, qos=0))  # over the 64 KiB packet limit: hung up on
    assert raw.closed_by_broker()
    raw.close()
    still_serving(watcher)


@pytest.mark.parametrize("asked", [b"#", b"+", b"chat/in/+", b"$SYS", b""])
def test_a_wildcard_client_id_is_replaced_by_the_credential(edge, watcher, asked):
    creds = edge.credentials("wild")
    raw = Raw(edge.mqtt_port, creds, client_id=asked)
    # Subscribing to the watcher's inbox through a wildcard-looking id gets nothing.
    sub = _packet(0x82, struct.pack("!H", 7) + _str(f"chat/in/{watcher.client_id}".encode()) + b"\x01")
    raw.send(sub)
    still_serving(watcher)  # a reply goes to the watcher's inbox now
    raw.sock.settimeout(1)
    data = b""
    try:
        while chunk := raw.sock.recv(4096):
            data += chunk
    except TimeoutError:
        pass
    assert b"chat/in/" + watcher.client_id.encode() not in data
    raw.close()


def test_qos2_and_retained_requests_are_answered_once(edge):
    creds = edge.credentials("q2")
    me = ChatClient(edge.mqtt_port, creds["username"], creds["password"])
    assert me.connect() == 0
    me.subscribe(f"chat/in/{me.client_id}")
    hello = json.dumps({"type": "hello", "requestId": "q2"}).encode()
    me.client.publish(f"chat/out/{me.client_id}", hello, qos=2).wait_for_publish(10)
    retained = json.dumps({"type": "hello", "requestId": "kept"}).encode()
    me.client.publish(f"chat/out/{me.client_id}", retained, qos=1, retain=True).wait_for_publish(10)
    me.wait_for(lambda t, b: isinstance(b, dict) and b.get("requestId") == "q2")
    me.wait_for(lambda t, b: isinstance(b, dict) and b.get("requestId") == "kept")
    reply = me.request({"type": "rooms"}, "rooms")  # later requests: the earlier ones were not repeated
    assert reply["type"] == "rooms"
    assert len([b for _, b in me.received if isinstance(b, dict) and b.get("requestId") == "q2"]) == 1
    assert len([b for _, b in me.received if isinstance(b, dict) and b.get("requestId") == "kept"]) == 1
    me.close()
