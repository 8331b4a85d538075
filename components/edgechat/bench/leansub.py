"""A lean MQTT 3.1.1 subscriber for the load generators.

paho reads a packet with three or more ``recv`` calls and builds objects per
message; at 10,000 deliveries a second on two cores the subscribers, not the
system under test, become the bottleneck.  This one reads 64 KiB at a time,
parses PUBLISH packets in place and answers each batch's PUBACKs in one write.
It only subscribes: publishers stay paho clients.
"""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Callable

from edgechat.router.wire import varint as _varint

CONNECT, CONNACK, PUBLISH, PUBACK, SUBSCRIBE, SUBACK, PINGREQ, PINGRESP = 1, 2, 3, 4, 8, 9, 12, 13
KEEPALIVE_S = 120


def _string(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("!H", len(raw)) + raw


def _packet(kind: int, flags: int, body: bytes) -> bytes:
    return bytes([kind << 4 | flags]) + _varint(len(body)) + body


class LeanSubscriber:
    def __init__(self, on_payload: Callable[[bytes], None]) -> None:
        self.on_payload = on_payload
        self.sock: socket.socket | None = None
        self.buf = bytearray()
        self.last_ping = time.monotonic()

    def connect(
        self, host: str, port: int, *, client_id: str, username: str, password: str,
        topics: tuple[str, ...], qos: int, timeout_s: float = 30.0,
    ) -> None:  # fmt: skip
        sock = socket.create_connection((host, port), timeout=timeout_s)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        flags = 0x80 | 0x40 | 0x02  # username, password, clean session
        body = _string("MQTT") + bytes([4, flags]) + struct.pack("!H", KEEPALIVE_S)
        body += _string(client_id) + _string(username) + _string(password)
        sock.sendall(_packet(CONNECT, 0, body))
        kind, payload = self._read_one(sock)
        if kind != CONNACK or payload[1] != 0:
            raise ConnectionError(f"broker refused the connection ({payload[1] if payload else '?'})")
        sub = struct.pack("!H", 1) + b"".join(_string(t) + bytes([qos]) for t in topics)
        sock.sendall(_packet(SUBSCRIBE, 2, sub))
        kind, payload = self._read_one(sock)
        if kind != SUBACK or 0x80 in payload[2:]:
            raise ConnectionError("broker refused the subscription")
        sock.setblocking(False)
        self.sock = sock

    def _read_one(self, sock: socket.socket) -> tuple[int, bytes]:
        """One packet, blocking (the handshake only)."""
        while True:
            found = self._split(0)
            if found is not None:
                header, start, end = found
                payload = bytes(self.buf[start:end])
                del self.buf[:end]
                return header >> 4, payload
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("the broker closed the connection")
            self.buf += chunk

    def _split(self, pos: int) -> tuple[int, int, int] | None:
        """The packet at ``pos``: (header byte, body start, body end), or None if incomplete."""
        buf = self.buf
        length, mult, i = 0, 1, pos + 1
        while True:
            if i >= len(buf):
                return None
            byte = buf[i]
            length += (byte & 0x7F) * mult
            mult *= 128
            i += 1
            if not byte & 0x80:
                break
        if len(buf) < i + length:
            return None
        return buf[pos], i, i + length

    def loop_read(self) -> None:
        assert self.sock is not None
        try:
            chunk = self.sock.recv(65536)
        except BlockingIOError:
            return
        if not chunk:
            raise ConnectionError("the broker closed the connection")
        self.buf += chunk
        buf, pos, acks = self.buf, 0, bytearray()
        while (found := self._split(pos)) is not None:
            header, start, pos = found
            if header >> 4 != PUBLISH:
                continue  # PINGRESP
            at = start + 2 + struct.unpack_from("!H", buf, start)[0]
            if (header >> 1) & 3:
                acks += bytes([PUBACK << 4, 2]) + buf[at : at + 2]
                at += 2
            self.on_payload(bytes(buf[at:pos]))
        del buf[:pos]
        if acks:
            self.sock.setblocking(True)  # a PUBACK batch is small: let it go out whole
            self.sock.sendall(acks)
            self.sock.setblocking(False)

    def misc(self) -> None:
        if self.sock is not None and time.monotonic() - self.last_ping > KEEPALIVE_S / 4:
            self.last_ping = time.monotonic()
            self.sock.setblocking(True)
            self.sock.sendall(bytes([PINGREQ << 4, 0]))
            self.sock.setblocking(False)

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
