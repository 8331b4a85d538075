"""Test support: a real ``edgechat up`` on free loopback ports, and paho clients."""

from __future__ import annotations

import json
import queue
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Edge:
    """A running ``edgechat up``; ``stop()`` ends it (SIGTERM) and waits."""

    data_dir: Path
    mqtt_port: int
    ws_port: int
    http_port: int
    internal_port: int
    config: Path | None = None
    process: subprocess.Popen[str] | None = None
    ready_line: str = ""
    output: list[str] = field(default_factory=list)

    def args(self) -> list[str]:
        args = [
            sys.executable, "-m", "edgechat", "up",
            "--data-dir", str(self.data_dir), "--host", "127.0.0.1",
            "--mqtt-port", str(self.mqtt_port), "--ws-port", str(self.ws_port),
            "--http-port", str(self.http_port), "--internal-port", str(self.internal_port),
        ]  # fmt: skip
        if self.config is not None:
            args += ["--config", str(self.config)]
        return args

    def start(self, timeout_s: float = 30.0) -> Edge:
        self.process = subprocess.Popen(
            self.args(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
        )
        lines: queue.Queue[str | None] = queue.Queue()

        def pump() -> None:
            assert self.process is not None and self.process.stdout is not None
            for line in self.process.stdout:
                self.output.append(line.rstrip())
                lines.put(line)
            lines.put(None)

        threading.Thread(target=pump, daemon=True).start()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=0.2)
            except queue.Empty:
                continue
            if line is None:
                raise RuntimeError("edgechat up exited:\n" + "\n".join(self.output[-30:]))
            if line.startswith("edgechat ready"):
                self.ready_line = line.strip()
                return self
        self.stop()
        raise TimeoutError("edgechat up not ready:\n" + "\n".join(self.output[-30:]))

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 15.0) -> int | None:
        proc = self.process
        if proc is None or proc.poll() is not None:
            return proc.returncode if proc else None
        proc.send_signal(sig)
        try:
            return proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait()

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "edgechat", *args, "--data-dir", str(self.data_dir)],
            capture_output=True, text=True, check=check, timeout=60,
        )  # fmt: skip

    def credentials(self, nick: str | None = None) -> dict[str, Any]:
        args = ["credentials", "new"] + (["--nick", nick] if nick else [])
        return json.loads(self.cli(*args).stdout)

    def new_session(self, nick: str = "Guest") -> tuple[int, dict[str, Any]]:
        """``POST /api/session`` as the app does (from 127.0.0.1): (status, body)."""
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.http_port}/api/session",
            data=json.dumps({"nick": nick}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=20) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    def status(self) -> dict[str, Any]:
        return json.loads(self.cli("status", "--json", check=False).stdout)

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Rows from the store, read from outside as an operator would: read-only,
        while edgechat runs."""
        db = sqlite3.connect(f"file:{self.data_dir / 'store' / 'messages.db'}?mode=ro", uri=True)
        try:
            return db.execute(sql, params).fetchall()
        finally:
            db.close()

    def stored(self, room: str | None = None) -> list[tuple[str, int]]:
        """(id, seq) of what the store holds (in ``room``, by seq)."""
        if room is None:
            return self.query("SELECT id, seq FROM messages")
        return self.query("SELECT id, seq FROM messages WHERE room = ? ORDER BY seq", (room,))

    def ordered(self, room: str) -> list[tuple[str, str]]:
        """(id, order key) of ``room``'s messages."""
        return self.query("SELECT id, order_key FROM messages WHERE room = ?", (room,))

    def system_password(self) -> str:
        return json.loads((self.data_dir / "secrets" / "system.json").read_text())["password"]

    def restart(self, timeout_s: float = 30.0) -> Edge:
        """The same edge (data, ports, settings) started again, e.g. after a kill -9."""
        ports = (self.mqtt_port, self.ws_port, self.http_port, self.internal_port)
        again = Edge(self.data_dir, *ports, self.config)
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                return again.start()
            except (RuntimeError, TimeoutError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)  # ports still held by the dying broker


def new_edge(data_dir: Path, settings: dict[str, Any] | None = None) -> Edge:
    config = None
    if settings is not None:
        config = data_dir.parent / f"{data_dir.name}-settings.json"
        config.write_text(json.dumps(settings))
    ports: list[int] = []
    while len(ports) < 4:  # four different ones: the kernel may hand out one twice
        if (port := free_port()) not in ports:
            ports.append(port)
    return Edge(data_dir, *ports, config)


def start_edge(data_dir: Path, settings: dict[str, Any] | None = None, attempts: int = 3) -> Edge:
    """A started edge on free ports.  A port found free can be taken by another
    process before the broker binds it: then try again with new ports."""
    for attempt in range(attempts):
        edge = new_edge(data_dir, settings)
        try:
            return edge.start()
        except RuntimeError as exc:
            # The broker says why in its own log, not in the lines the error quotes.
            logs = [f.read_text(errors="replace") for f in data_dir.rglob("mosquitto.log")]
            said = "\n".join([*edge.output, *logs, str(exc)])
            taken = any(s in said for s in ("in use", "cannot listen", "Unable to create"))
            if not taken or attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


@contextmanager
def running_edge(data_dir: Path, settings: dict[str, Any] | None = None) -> Iterator[Edge]:
    edge = start_edge(data_dir, settings)
    try:
        yield edge
    finally:
        edge.stop()


class ChatClient:
    """A paho MQTT v5 client that records what it receives, for assertions."""

    def __init__(
        self,
        port: int,
        username: str | None,
        password: str | None,
        *,
        client_id: str | None = None,
        will: bool = True,
        transport: str = "tcp",
        ca_file: Path | None = None,
    ) -> None:
        self.client_id = client_id or username or f"anon-{uuid.uuid4().hex[:8]}"
        self.received: list[tuple[str, dict[str, Any] | bytes]] = []
        self._cond = threading.Condition()
        self.connect_rc: int | None = None
        self.disconnected = threading.Event()
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=self.client_id,
            protocol=mqtt.MQTTv5, transport=transport,
        )  # fmt: skip
        if username is not None:
            self.client.username_pw_set(username, password)
        if ca_file is not None:
            self.client.tls_set(ca_certs=str(ca_file))
        if will and username is not None:
            self.client.will_set(f"chat/out/{username}", json.dumps({"type": "bye"}), qos=1)
        self.client.on_message = self._on_message
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = lambda *a: self.disconnected.set()
        self.port = port

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, rc: Any, props: Any = None) -> None:
        with self._cond:
            self.connect_rc = rc.value
            self._cond.notify_all()

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            body: dict[str, Any] | bytes = json.loads(msg.payload)
        except ValueError:
            body = msg.payload
        with self._cond:
            self.received.append((msg.topic, body))
            self._cond.notify_all()

    def connect(self, timeout_s: float = 10.0) -> int:
        """Connects; returns the CONNACK reason code (0 = accepted)."""
        self.client.connect("127.0.0.1", self.port, keepalive=30)
        self.client.loop_start()
        with self._cond:
            self._cond.wait_for(lambda: self.connect_rc is not None, timeout_s)
        if self.connect_rc is None:
            raise TimeoutError("no CONNACK")
        return self.connect_rc

    def subscribe(self, *topic_filters: str) -> list[int]:
        done = threading.Event()
        codes: list[int] = []

        def on_subscribe(client: mqtt.Client, userdata: Any, mid: int, rcs: Any, props: Any) -> None:
            codes.extend(rc.value for rc in rcs)
            done.set()

        self.client.on_subscribe = on_subscribe
        self.client.subscribe([(t, 1) for t in topic_filters])
        assert done.wait(10), "no SUBACK"
        return codes

    def send(self, request: dict[str, Any] | bytes, topic: str | None = None) -> None:
        payload = request if isinstance(request, bytes) else json.dumps(request).encode()
        info = self.client.publish(topic or f"chat/out/{self.client_id}", payload, qos=1)
        info.wait_for_publish(10)

    def wait_for(
        self, match: Callable[[str, Any], bool], timeout_s: float = 10.0, count: int = 1
    ) -> list[tuple[str, Any]]:
        """Wait until ``count`` received messages match; returns the matches."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while True:
                found = [(t, b) for t, b in self.received if match(t, b)]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    recent = self.received[-10:]
                    raise AssertionError(f"wanted {count}, got {len(found)}; last received: {recent}")
                self._cond.wait(left)

    def events(self, topic: str, kind: str | None = None) -> list[dict[str, Any]]:
        with self._cond:
            return [
                b for t, b in self.received
                if t == topic and isinstance(b, dict) and (kind is None or b.get("type") == kind)
            ]  # fmt: skip

    def request(self, request: dict[str, Any], reply_type: str, timeout_s: float = 10.0) -> dict[str, Any]:
        """Send a request with a fresh requestId and wait for its reply (or error)."""
        rid = uuid.uuid4().hex[:12]
        self.send({**request, "requestId": rid})
        topic = f"chat/in/{self.client_id}"
        _, body = self.wait_for(
            lambda t, b: (
                t == topic
                and isinstance(b, dict)
                and b.get("requestId", b.get("ref")) == rid
                and b.get("type") in (reply_type, "error")
            ),
            timeout_s,
        )[0]
        return body

    def close(self, polite: bool = False) -> None:
        if polite:
            self.send({"type": "bye"})
        props = Properties(PacketTypes.DISCONNECT)
        self.client.disconnect(properties=props)
        self.client.loop_stop()

    def drop(self) -> None:
        """Vanish without a DISCONNECT, as a phone leaving Wi-Fi does: the
        broker then publishes the Last Will."""
        self.client.socket().close() if self.client.socket() else None
        self.client.loop_stop()


def system_client(edge: Edge, client_id: str = "test-system") -> ChatClient:
    c = ChatClient(
        edge.internal_port, "edgechat-system", edge.system_password(), client_id=client_id, will=False
    )
    assert c.connect() == 0
    return c
