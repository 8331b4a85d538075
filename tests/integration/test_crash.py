"""kill -9 at random moments during a steady chat: every acknowledged message
is stored once, in a gap-free sequence, and reaches a subscriber exactly once."""

import json
import os
import random
import signal
import threading
import time
import uuid

import paho.mqtt.client as mqtt
import pytest

from tests.support.edge import Edge, start_edge

pytestmark = pytest.mark.integration

ROOM = "crash"
MESSAGES = 1500
RATE = 200  # messages per second: a steady chat, not a flood
WINDOW = 100


class Peer:
    """A client as a real app behaves: resubscribes on every connect, resends
    unacknowledged messages with the same id, catches up by sequence."""

    def __init__(self, edge: Edge, creds: dict) -> None:
        self.id = creds["clientId"]
        self.lock = threading.Lock()
        self.acked: set[str] = set()
        self.raw_ids: list[str] = []  # every message id received on the room, duplicates included
        self.seqs: set[int] = set()
        self.contiguous = 0  # every seq up to here has been seen: catch up from it
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=self.id, protocol=mqtt.MQTTv5)
        self.client.username_pw_set(creds["username"], creds["password"])
        self.client.reconnect_delay_set(0.05, 0.5)
        self.client.max_inflight_messages_set(WINDOW)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", edge.mqtt_port)
        self.client.loop_start()

    def _on_connect(self, client, userdata, flags, rc, props=None) -> None:
        if rc.value == 0:
            client.subscribe([(f"chat/in/{self.id}", 1), (f"chat/pub/{ROOM}", 1)])
            self.catch_up()

    def catch_up(self) -> None:
        with self.lock:
            after = self.contiguous
        request = {"type": "history", "room": ROOM, "after": after, "limit": 200}
        self.client.publish(f"chat/out/{self.id}", json.dumps(request), qos=1)

    def _on_message(self, client, userdata, msg) -> None:
        body = json.loads(msg.payload)
        with self.lock:
            if body["type"] == "ack":
                self.acked.add(body["id"])
            elif body["type"] == "message":
                self._see(body)
            elif body["type"] == "history":
                for m in body["messages"]:
                    self._see(m, backfill=True)
                if body["hasMore"]:
                    threading.Thread(target=self.catch_up).start()

    def _see(self, m: dict, backfill: bool = False) -> None:
        if backfill and m["id"] in self.raw_ids:
            return  # the app merges a backfilled page by id
        self.raw_ids.append(m["id"])
        self.seqs.add(m["seq"])
        while self.contiguous + 1 in self.seqs:
            self.contiguous += 1

    def send(self, mid: str) -> None:
        request = {"type": "message", "id": mid, "room": ROOM, "text": f"text {mid}"}
        self.client.publish(f"chat/out/{self.id}", json.dumps(request), qos=1)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_kill_9_during_a_steady_chat_loses_and_doubles_nothing(tmp_path):
    rng = random.Random(7)
    edge = start_edge(tmp_path / "data", {"rate": {"per_second": 0, "burst": 1}})
    writer = Peer(edge, edge.credentials("writer"))
    reader = Peer(edge, edge.credentials("reader"))
    ids = [uuid.uuid4().hex for _ in range(MESSAGES)]
    sent_at: dict[str, float] = {}
    kills = 0
    next_kill = time.monotonic() + rng.uniform(0.5, 1.5)
    started = time.monotonic()
    deadline = started + 120
    try:
        while time.monotonic() < deadline:
            with writer.lock:
                unacked = [m for m in ids if m not in writer.acked]
            if not unacked:
                break
            now = time.monotonic()
            # Like an app: at most WINDOW unacknowledged at once; a message
            # waits its turn at the steady rate; what went unacknowledged for
            # two seconds is sent again with the same id.
            due = int((now - started) * RATE)
            room = WINDOW - len([m for m in unacked if m in sent_at])
            for m in ids[len(sent_at) : min(due, len(sent_at) + max(0, room))]:
                writer.send(m)
                sent_at[m] = now
            for m in unacked:
                if m in sent_at and now - sent_at[m] > 2.0:
                    writer.send(m)
                    sent_at[m] = now
            if kills < 4 and now > next_kill:
                if kills % 2 == 0:
                    edge.stop(signal.SIGKILL)  # edgechat (Router + Store); the kernel ends its broker
                    edge = edge.restart()
                else:
                    os.kill(edge.status()["broker"]["pid"], signal.SIGKILL)  # the broker; up restarts it
                kills += 1
                next_kill = time.monotonic() + rng.uniform(0.5, 1.5)
            time.sleep(0.02)
        assert kills == 4, "the chat finished before every kill happened: raise MESSAGES"
        with writer.lock:
            missing = len(set(ids) - writer.acked)
            assert not missing, f"{missing} never acknowledged; edgechat said: {edge.output[-15:]}"

        rows = edge.stored(ROOM)
        assert sorted(r[0] for r in rows) == sorted(ids)  # every acked message stored, once
        assert [r[1] for r in rows] == list(range(1, len(ids) + 1))  # gap-free

        def reader_has_all() -> bool:
            with reader.lock:
                return set(reader.raw_ids) >= set(ids)

        end = time.monotonic() + 30
        while not reader_has_all() and time.monotonic() < end:
            reader.catch_up()
            time.sleep(0.5)
        with reader.lock:
            assert set(reader.raw_ids) == set(ids), "a subscriber missed acknowledged messages"
            doubled = [m for m in set(reader.raw_ids) if reader.raw_ids.count(m) > 1]
            assert not doubled, f"a subscriber was shown {len(doubled)} messages twice"
    finally:
        writer.close()
        reader.close()
        edge.stop()
