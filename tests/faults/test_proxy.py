"""The fault harness's link proxy against a plain TCP echo server: it forwards,
cuts (reset + refuse), blackholes (holds, loses nothing), delays and restores."""

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from edgechat.faults import LinkProxy, LinkState, kill9, wait_gone


@pytest.fixture
def echo() -> Iterator[tuple[str, int]]:
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve_one(conn: socket.socket) -> None:
        with conn:
            while data := conn.recv(65536):
                conn.sendall(data)

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            threading.Thread(target=serve_one, args=(conn,), daemon=True).start()

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    yield server.getsockname()
    stop.set()
    t.join()
    server.close()


@pytest.fixture
def proxy(echo) -> Iterator[LinkProxy]:
    with LinkProxy(echo) as p:
        yield p


def _connect(p: LinkProxy) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", p.port), timeout=5)
    return s


def _roundtrip(s: socket.socket, data: bytes) -> bytes:
    s.sendall(data)
    got = b""
    while len(got) < len(data):
        chunk = s.recv(65536)
        if not chunk:
            break
        got += chunk
    return got


def test_it_forwards_both_ways(proxy):
    with _connect(proxy) as s:
        payload = bytes(range(256)) * 1000
        assert _roundtrip(s, payload) == payload
    assert proxy.stats.bytes_up >= len(payload) and proxy.stats.bytes_down >= len(payload)


def test_a_cut_resets_connections_and_refuses_new_ones_until_restored(proxy):
    s = _connect(proxy)
    assert _roundtrip(s, b"before") == b"before"
    proxy.cut()
    assert proxy.state is LinkState.CUT
    with pytest.raises(OSError):  # reset by peer, or the pipe is gone
        s.sendall(b"x")
        if s.recv(10) == b"":
            raise ConnectionResetError
    s.close()
    with pytest.raises(ConnectionRefusedError):
        _connect(proxy)
    proxy.restore()
    with _connect(proxy) as again:  # same port, as a link that comes back
        assert _roundtrip(again, b"after") == b"after"


def test_a_blackhole_holds_bytes_and_loses_none_when_it_heals(proxy):
    s = _connect(proxy)
    assert _roundtrip(s, b"ping") == b"ping"
    proxy.blackhole()
    s.sendall(b"held")
    s.settimeout(0.5)
    with pytest.raises(TimeoutError):
        s.recv(10)
    late = _connect(proxy)  # accepted, but nothing reaches the other side yet
    late.sendall(b"late")
    proxy.restore()
    s.settimeout(5)
    late.settimeout(5)
    assert s.recv(10) == b"held" and late.recv(10) == b"late"
    s.close()
    late.close()


def test_delay_adds_latency_each_way_and_keeps_order(proxy):
    proxy.delay(0.2)
    with _connect(proxy) as s:
        t0 = time.monotonic()
        for i in range(5):
            s.sendall(f"{i}".encode())
        got = b""
        while len(got) < 5:
            got += s.recv(10)
        assert got == b"01234" and time.monotonic() - t0 >= 0.4
    proxy.delay(0)
    with pytest.raises(ValueError):
        proxy.delay(-1)


def test_an_unreachable_cloud_looks_like_a_dropped_connection():
    with socket.socket() as spare:
        spare.bind(("127.0.0.1", 0))
        dead = spare.getsockname()  # nothing listens here
    with LinkProxy(dead) as p, _connect(p) as s:
        s.settimeout(5)
        assert s.recv(10) == b""


def test_kill9_and_wait_gone():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    kill9(proc.pid)
    assert wait_gone(proc.pid)
    assert proc.wait(5) == -9
    kill9(proc.pid)  # already gone: no error
