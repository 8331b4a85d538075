"""Two synced edge sites and the local cloud, chatters on each, and the three
replicas read for the history checker (docs/sync.md, "Guarantee")."""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from edgechat.cloud.dynamo import DynamoStore
from edgechat.cloud.local.child import LocalCloud
from edgechat.faults import LinkProxy
from edgechat.faults.history import Report, by_order_key, check
from tests.support.edge import Edge, start_edge
from tests.support.moto import client as aws_client

UNLIMITED = {"rate": {"per_second": 0, "burst": 1}}
DEBUG = bool(os.environ.get("EDGECHAT_SYNC_DEBUG"))


class Chatter:
    """A client as an app behaves: says hello on every (re)connect, and sends
    anything unacknowledged again with the same id until it is acked."""

    def __init__(self, name: str, port: int, creds: dict[str, Any], *, transport: str = "tcp") -> None:
        self.name = name
        self.id = creds["username"]
        self.lock = threading.Lock()
        self.attempted: dict[str, str] = {}  # id -> room
        self.acked: set[str] = set()
        self.revisions: dict[str, dict[str, Any]] = {}  # edits and deletes: id -> request
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=self.id, protocol=mqtt.MQTTv5, transport=transport
        )
        self.client.username_pw_set(creds["username"], creds["password"])
        self.client.reconnect_delay_set(0.1, 1.0)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port, keepalive=10)
        self.client.loop_start()

    def _publish(self, body: dict[str, Any]) -> None:
        self.client.publish(f"chat/out/{self.id}", json.dumps(body), qos=1)

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, rc: Any, _p: Any = None) -> None:
        if rc.value == 0:
            client.subscribe(f"chat/in/{self.id}", qos=1)
            self._publish({"type": "hello", "nick": self.name})
            self.resend()

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        body = json.loads(msg.payload)
        if body.get("type") == "ack":
            with self.lock:
                self.acked.add(body["id"])

    def say(self, room: str) -> str:
        mid = f"{self.name}-{uuid.uuid4().hex[:12]}"
        with self.lock:
            self.attempted[mid] = room
        self._publish({"type": "message", "id": mid, "room": room, "text": f"{self.name} says {mid}"})
        return mid

    def revise(self, room: str, target: str, text: str | None = None) -> str:
        """Edit ``target`` to ``text``, or delete it (None); resent like a message until acked."""
        rid = f"{self.name}-r{uuid.uuid4().hex[:11]}"
        body = {"type": "edit" if text is not None else "delete", "id": rid, "target": target, "room": room}
        if text is not None:
            body["text"] = text
        with self.lock:
            self.revisions[rid] = body
        self._publish(body)
        return rid

    def resend(self) -> None:
        with self.lock:
            todo = [(m, r) for m, r in self.attempted.items() if m not in self.acked]
            revisions = [b for rid, b in self.revisions.items() if rid not in self.acked]
        for mid, room in todo:
            self._publish({"type": "message", "id": mid, "room": room, "text": f"{self.name} says {mid}"})
        for body in revisions:
            self._publish(body)

    def unacked(self) -> int:
        with self.lock:
            return len((set(self.attempted) | set(self.revisions)) - self.acked)

    def wait_acked(self, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        resend_at = time.monotonic() + 2.0
        while self.unacked():
            assert time.monotonic() < deadline, f"{self.name}: {self.unacked()} never acknowledged"
            time.sleep(0.05)
            if time.monotonic() > resend_at:
                self.resend()
                resend_at = time.monotonic() + 2.0

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@dataclass
class Sites:
    cloud: LocalCloud
    proxy: LinkProxy  # between site A and the cloud
    a: Edge
    b: Edge
    rooms: tuple[str, ...]
    chatters: list[Chatter] = field(default_factory=list)

    def chatter_on(self, edge: Edge, name: str) -> Chatter:
        c = Chatter(name, edge.mqtt_port, edge.credentials(name))
        self.chatters.append(c)
        return c

    def cloud_chatter(self, name: str) -> Chatter:
        req = urllib.request.Request(f"{self.cloud.info['web']}/api/session", data=b"{}")
        with urllib.request.urlopen(req, timeout=10) as r:
            creds = json.loads(r.read())
        port = int(self.cloud.info["ws"].rsplit(":", 1)[1].split("/")[0])
        c = Chatter(name, port, creds, transport="websockets")
        self.chatters.append(c)
        return c

    def people(self) -> tuple[Chatter, Chatter, Chatter]:
        """Ann on site A, Bob on site B, Cat in a cloud browser; both sites linked."""
        self.wait_connected(self.a)
        self.wait_connected(self.b)
        return self.chatter_on(self.a, "ann"), self.chatter_on(self.b, "bob"), self.cloud_chatter("cat")

    # -- the replicas

    def dynamodb(self) -> DynamoStore:
        return DynamoStore(aws_client(self.cloud.info["moto"], "dynamodb"), self.cloud.info["table"])

    def histories(self) -> dict[str, dict[str, list[str]]]:
        store = self.dynamodb()
        cloud: dict[str, list[str]] = {}
        for room in self.rooms:
            messages, _ = store.history(room, after=0, limit=5000)
            cloud[room] = by_order_key((m.id, m.order_key) for m in messages)
        return {
            "site-a": {room: by_order_key(self.a.ordered(room)) for room in self.rooms},
            "site-b": {room: by_order_key(self.b.ordered(room)) for room in self.rooms},
            "cloud": cloud,
        }

    def texts(self) -> dict[str, dict[str, str | None]]:
        """Per replica, each message's merged text (None: deleted), over this test's rooms."""
        marks = ",".join("?" * len(self.rooms))
        sql = f"SELECT id, CASE WHEN deleted_key IS NULL THEN text END FROM messages WHERE room IN ({marks})"
        store = self.dynamodb()
        cloud = {
            m.id: None if m.deleted else m.text
            for room in self.rooms
            for m in store.history(room, after=0, limit=5000)[0]
        }
        return {"site-a": dict(self.a.query(sql, self.rooms)), "site-b": dict(self.b.query(sql, self.rooms)),
                "cloud": cloud}  # fmt: skip

    def same_texts(self, timeout_s: float) -> dict[str, dict[str, str | None]]:
        """Wait until every replica shows every message with the same merged text."""
        deadline = time.monotonic() + timeout_s
        while True:
            texts = self.texts()
            if texts["site-a"] == texts["site-b"] == texts["cloud"] or time.monotonic() > deadline:
                return texts
            time.sleep(0.5)

    def sent(self) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
        """(acked, attempted), room -> ids, over every chatter."""
        acked: dict[str, set[str]] = {r: set() for r in self.rooms}
        attempted: dict[str, set[str]] = {r: set() for r in self.rooms}
        for c in self.chatters:
            with c.lock:
                for mid, room in c.attempted.items():
                    attempted[room].add(mid)
                    if mid in c.acked:
                        acked[room].add(mid)
        return acked, attempted

    def converged(self, timeout_s: float) -> tuple[Report, float]:
        """Wait until every replica holds every acknowledged message and the
        checker finds nothing; returns the last report and the seconds taken."""
        t0 = time.monotonic()
        while True:
            acked, attempted = self.sent()
            report = check(self.histories(), acked, attempted)
            if report.ok or time.monotonic() - t0 > timeout_s:
                return report, time.monotonic() - t0
            if DEBUG:
                a, b = self.sync_status(self.a), self.sync_status(self.b)
                keys = (
                    "connected",
                    "backlog",
                    "inFlight",
                    "cursors",
                    "sent",
                    "acked",
                    "timeouts",
                    "backfills",
                )
                print(f"{time.monotonic() - t0:5.1f} {report.anomalies[:3]}")
                print("   A", {k: a.get(k) for k in keys})
                print("   B", {k: b.get(k) for k in keys})
            time.sleep(0.5)

    def outbox(self, edge: Edge) -> int:
        """How many of ``edge``'s messages the cloud has not acknowledged (its store's outbox)."""
        return edge.query("SELECT count(*) FROM outbox")[0][0]

    def sync_status(self, edge: Edge) -> dict[str, Any]:
        try:
            return json.loads((edge.data_dir / "run" / "sync.json").read_text())
        except (OSError, ValueError):
            return {}

    def wait_connected(self, edge: Edge, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not self.sync_status(edge).get("connected"):
            assert time.monotonic() < deadline, f"{edge.data_dir.name} never connected to the cloud"
            time.sleep(0.2)


@contextmanager
def two_sites(tmp: Path, moto_url: str, rooms: tuple[str, ...]) -> Iterator[Sites]:
    with ExitStack() as stack:
        cloud = stack.enter_context(LocalCloud(tmp / "cloud", moto_url=moto_url))
        proxy = stack.enter_context(LinkProxy(cloud.mqtts))
        via_proxy = cloud.sync_settings("site-a", f"mqtts://127.0.0.1:{proxy.port}")
        a = start_edge(tmp / "a", {"site_id": "site-a", **UNLIMITED, **via_proxy})
        sites = Sites(cloud, proxy, a, a, rooms)

        def stop_a() -> None:
            sites.a.stop()  # the current A: a test may have restarted it

        stack.callback(stop_a)
        b = start_edge(tmp / "b", {"site_id": "site-b", **UNLIMITED, **cloud.sync_settings("site-b")})
        stack.callback(b.stop)
        sites.b = b
        stack.callback(lambda: [c.close() for c in sites.chatters])
        yield sites
