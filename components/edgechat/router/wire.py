"""MQTT v5 packets for the Router's own connection, as bytes in and values out.

No I/O (h11's way): ``Reader.feed`` takes whatever the socket gave and returns
every complete packet in it; the ``*_packet`` functions build what the Router
sends.  Only what one subscriber-and-publisher client needs: CONNECT/CONNACK,
SUBSCRIBE/SUBACK, PUBLISH and PUBACK at QoS 0/1, PINGREQ/PINGRESP, DISCONNECT.
Incoming properties are skipped, not decoded: paho builds a ``Properties``
object (two dicts of 27 entries) for every PUBLISH and PUBACK, which was ~30 %
of the Router's CPU under load.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

CONNECT, CONNACK, PUBLISH, PUBACK = 1, 2, 3, 4
SUBSCRIBE, SUBACK, PINGREQ, PINGRESP, DISCONNECT = 8, 9, 12, 13, 14

PINGREQ_PACKET: Final = bytes([PINGREQ << 4, 0])
DISCONNECT_PACKET: Final = bytes([DISCONNECT << 4, 0])  # reason 0: the session is kept
MAX_REMAINING: Final = 268_435_455

# CONNACK property identifiers, with the size of their value (-1: a UTF-8 or
# binary string, -2: a string pair, 0: a variable byte integer).
_PROP_SIZES: Final[dict[int, int]] = {
    0x01: 1, 0x02: 4, 0x03: -1, 0x08: -1, 0x09: -1, 0x0B: 0, 0x11: 4, 0x12: -1, 0x13: 2,
    0x15: -1, 0x16: -1, 0x17: 1, 0x18: 4, 0x19: 1, 0x1A: -1, 0x1C: -1, 0x1F: -1, 0x21: 2,
    0x22: 2, 0x23: 2, 0x24: 1, 0x25: 1, 0x26: -2, 0x27: 4, 0x28: 1, 0x29: 1, 0x2A: 1,
}  # fmt: skip
RECEIVE_MAXIMUM, SERVER_KEEP_ALIVE, MAXIMUM_PACKET_SIZE = 0x21, 0x13, 0x27


class ProtocolError(Exception):
    """The broker sent bytes that are not the MQTT this client speaks."""


@dataclass(frozen=True, slots=True)
class Publish:
    topic: str
    payload: bytes
    qos: int
    retain: bool
    mid: int  # 0 at QoS 0


@dataclass(frozen=True, slots=True)
class Packet:
    """Any other packet: its type, flags and body."""

    kind: int
    flags: int
    body: bytes


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        n, digit = divmod(n, 128)
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _string(text: str | bytes) -> bytes:
    raw = text.encode() if isinstance(text, str) else text
    return struct.pack("!H", len(raw)) + raw


def _packet(first: int, body: bytes) -> bytes:
    return bytes([first]) + varint(len(body)) + body


def connect_packet(
    client_id: str, username: str, password: str, *, keepalive_s: int, clean_start: bool,
    session_expiry_s: int, receive_maximum: int,
) -> bytes:  # fmt: skip
    flags = 0x80 | 0x40 | (0x02 if clean_start else 0)
    props = bytes([0x11]) + struct.pack("!I", session_expiry_s) + bytes([RECEIVE_MAXIMUM])
    props += struct.pack("!H", receive_maximum)
    body = _string("MQTT") + bytes([5, flags]) + struct.pack("!H", keepalive_s) + varint(len(props)) + props
    body += _string(client_id) + _string(username) + _string(password)
    return _packet(CONNECT << 4, body)


def subscribe_packet(mid: int, topic_filter: str, qos: int) -> bytes:
    body = struct.pack("!H", mid) + b"\x00" + _string(topic_filter) + bytes([qos])  # no properties
    return _packet(SUBSCRIBE << 4 | 2, body)


def publish_packet(topic: str, payload: bytes, qos: int, mid: int) -> bytes:
    """A PUBLISH without properties (``mid`` is ignored at QoS 0)."""
    head = _string(topic) + (struct.pack("!H", mid) if qos else b"") + b"\x00"
    return bytes([PUBLISH << 4 | qos << 1]) + varint(len(head) + len(payload)) + head + payload


def puback_packet(mid: int) -> bytes:
    """Success with no properties: MQTT v5 lets the reason code be left out."""
    return bytes([PUBACK << 4, 2, mid >> 8, mid & 0xFF])


def _varint_at(buf: bytes, at: int, end: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if at >= end or shift > 21:
            raise ProtocolError("bad variable byte integer")
        byte = buf[at]
        value |= (byte & 0x7F) << shift
        at += 1
        if not byte & 0x80:
            return value, at
        shift += 7


def properties(body: bytes, at: int) -> tuple[dict[int, int], int]:
    """The integer-valued properties at ``body[at]`` (strings are skipped), and
    where they end."""
    length, at = _varint_at(body, at, len(body))
    end = at + length
    if end > len(body):
        raise ProtocolError("properties run past the packet")
    found: dict[int, int] = {}
    while at < end:
        ident = body[at]
        size = _PROP_SIZES.get(ident)
        if size is None:
            raise ProtocolError(f"unknown property 0x{ident:02x}")
        at += 1
        if size == 0:
            found[ident], at = _varint_at(body, at, end)
        elif size > 0:
            found[ident] = int.from_bytes(body[at : at + size], "big")
            at += size
        else:
            for _ in range(-size):
                at += 2 + int.from_bytes(body[at : at + 2], "big")
        if at > end:
            raise ProtocolError("a property runs past its end")
    return found, end


class Reader:
    """Splits a byte stream into packets; keeps a partial packet for the next feed."""

    __slots__ = ("_rest",)

    def __init__(self) -> None:
        self._rest = b""

    def feed(self, data: bytes) -> list[Publish | Packet]:
        buf = self._rest + data if self._rest else data
        out: list[Publish | Packet] = []
        pos, n = 0, len(buf)
        while pos + 2 <= n:
            first = buf[pos]
            byte = buf[pos + 1]
            if byte < 0x80:  # the common case, inline: this runs per packet
                length, i = byte, pos + 2
            else:
                try:
                    length, i = _varint_at(buf, pos + 1, min(n, pos + 5))
                except ProtocolError:
                    if n - pos - 1 >= 4:
                        raise  # four length bytes, all continuing: not MQTT
                    break  # the length itself is incomplete
            end = i + length
            if end > n:
                break
            if first >> 4 == PUBLISH:
                out.append(_publish(buf, first, i, end))
            else:
                out.append(Packet(first >> 4, first & 0x0F, buf[i:end]))
            pos = end
        self._rest = buf[pos:]
        return out


def _publish(buf: bytes, first: int, at: int, end: int) -> Publish:
    qos = (first >> 1) & 3
    if qos == 3:
        raise ProtocolError("PUBLISH with QoS 3")
    if at + 2 > end:
        raise ProtocolError("PUBLISH too short for its topic")
    topic_start = at + 2
    topic_end = topic_start + ((buf[at] << 8) | buf[at + 1])
    at, mid = topic_end, 0
    if qos:
        if at + 2 > end:
            raise ProtocolError("PUBLISH too short for its packet id")
        mid = (buf[at] << 8) | buf[at + 1]
        at += 2
    if at >= end:
        raise ProtocolError("PUBLISH too short for its properties")
    byte = buf[at]
    if byte < 0x80:  # the common case: under 128 bytes of properties
        at += 1 + byte
    else:
        plen, at = _varint_at(buf, at, end)
        at += plen
    if at > end:
        raise ProtocolError("PUBLISH properties run past the packet")
    # Mosquitto checks that topics are UTF-8; still, no topic may take the Router down.
    topic = buf[topic_start:topic_end].decode("utf-8", "replace")
    return Publish(topic, buf[at:end], qos, bool(first & 1), mid)
