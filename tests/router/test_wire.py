"""router.wire: the Router's MQTT v5 packets, without a broker."""

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgechat.router import wire
from edgechat.router.wire import Packet, ProtocolError, Publish, Reader


def _publish_with_props(topic: str, payload: bytes, props: bytes, mid: int = 7, flags: int = 0x2) -> bytes:
    """A PUBLISH as a broker may send it: with properties (here, raw bytes)."""
    head = struct.pack("!H", len(topic.encode())) + topic.encode() + struct.pack("!H", mid)
    body = head + wire.varint(len(props)) + props + payload
    return bytes([wire.PUBLISH << 4 | flags]) + wire.varint(len(body)) + body


def test_a_publish_reads_back_whatever_the_chunking():
    packet = wire.publish_packet("chat/out/alice", b'{"type":"hello"}', 1, 513)
    for cut in range(len(packet) + 1):
        reader = Reader()
        got = reader.feed(packet[:cut]) + reader.feed(packet[cut:])
        assert got == [Publish("chat/out/alice", b'{"type":"hello"}', 1, False, 513)]


def test_properties_are_skipped_short_and_long():
    user_prop = b"\x26" + struct.pack("!H", 1) + b"k" + struct.pack("!H", 1) + b"v"
    long_prop = b"\x26" + struct.pack("!H", 3) + b"key" + struct.pack("!H", 200) + b"x" * 200  # > 127 bytes
    for props in (b"", user_prop, long_prop, b"\x02\x00\x00\x00\x3c" + user_prop):
        [p] = Reader().feed(_publish_with_props("chat/out/bob", b"payload", props))
        assert (p.topic, p.payload, p.mid) == ("chat/out/bob", b"payload", 7)


def test_big_packets_and_many_in_one_read():
    big = b"x" * 70_000  # a three-byte remaining length
    stream = (
        wire.publish_packet("a", big, 1, 1) + bytes([wire.PUBACK << 4, 2, 0, 9])
        + wire.publish_packet("b", b"", 0, 0) + bytes([wire.PINGRESP << 4, 0])
    )  # fmt: skip
    reader = Reader()
    got = reader.feed(stream[:-1])
    assert [type(p) for p in got] == [Publish, Packet, Publish]
    assert got[0].payload == big and got[2] == Publish("b", b"", 0, False, 0)
    assert got[1] == Packet(wire.PUBACK, 0, b"\x00\x09")
    assert reader.feed(stream[-1:]) == [Packet(wire.PINGRESP, 0, b"")]


def test_retain_and_qos0_flags():
    [p] = Reader().feed(_publish_with_props("t", b"p", b"", flags=0x3))
    assert p.retain and p.qos == 1
    [p] = Reader().feed(wire.publish_packet("t", b"p", 0, 0))
    assert p.qos == 0 and p.mid == 0 and not p.retain


def test_connect_carries_session_expiry_and_receive_maximum():
    packet = wire.connect_packet(
        "edgechat-router", "u", "p", keepalive_s=30, clean_start=False, session_expiry_s=604_800,
        receive_maximum=500,
    )  # fmt: skip
    [p] = Reader().feed(packet)
    assert p.kind == wire.CONNECT
    body = p.body
    assert body[:7] == b"\x00\x04MQTT\x05" and body[7] == 0xC0  # username, password, no clean start
    props, _ = wire.properties(body, 10)
    assert props == {0x11: 604_800, wire.RECEIVE_MAXIMUM: 500}


def test_connack_properties_are_read_and_strings_skipped():
    props = b"\x21\x00\x64" + b"\x12" + struct.pack("!H", 3) + b"abc" + b"\x27\x00\x01\x00\x00"
    found, end = wire.properties(b"\x00\x00" + wire.varint(len(props)) + props, 2)
    assert found == {wire.RECEIVE_MAXIMUM: 100, wire.MAXIMUM_PACKET_SIZE: 65_536}
    assert end == 3 + len(props)


@pytest.mark.parametrize(
    "bad",
    [
        bytes([0x36, 2, 0, 0]),  # QoS 3
        bytes([0x32, 1, 0]),  # too short for its topic
        bytes([0x32, 4, 0, 1, 0x61, 0]),  # too short for its packet id
        bytes([0x30, 3, 0, 1, 0x61]),  # no properties length
        bytes([0x30, 5, 0, 1, 0x61, 9, 0]),  # properties past the end
        bytes([0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]),  # five length bytes
    ],
)
def test_malformed_packets_raise_protocol_error(bad):
    with pytest.raises(ProtocolError):
        Reader().feed(bad)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.binary(max_size=64), max_size=6))
def test_any_bytes_give_packets_or_a_protocol_error(chunks):
    reader = Reader()
    try:
        for chunk in chunks:
            for p in reader.feed(chunk):
                assert isinstance(p, Publish | Packet)
                if isinstance(p, Packet) and p.kind in (wire.CONNACK, wire.SUBACK):
                    wire.properties(p.body, 2)
    except ProtocolError:
        pass
