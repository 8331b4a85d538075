"""Hostile payloads on chat/out through the real broker and Router.

CI sends a few thousand; `make fuzz` sends 100,000 (EDGECHAT_FUZZ_COUNT).
Every payload is answered (a reply or a typed error), the Router never dies,
and only valid messages are stored or published.
"""

import json
import os
import threading
import time

import paho.mqtt.client as mqtt
import pytest

from edgechat.core.errors import ErrorCode
from tests.fuzz.hostile import payloads
from tests.support.edge import ChatClient, running_edge

pytestmark = pytest.mark.integration

COUNT = int(os.environ.get("EDGECHAT_FUZZ_COUNT", "3000"))
SEED = int(os.environ.get("EDGECHAT_FUZZ_SEED", "20261129"))
WINDOW = 200
REPLY_TYPES = {"welcome", "joined", "left", "ack", "history", "rooms", "error"}


def test_hostile_payloads_are_all_answered_and_change_nothing(tmp_path):
    with running_edge(tmp_path / "data", {"rate": {"per_second": 0, "burst": 1}}) as edge:
        creds = edge.credentials("fuzzer")
        cid = creds["clientId"]
        replies: list[dict] = []
        room_events: list[dict] = []
        lock = threading.Condition()

        def on_message(client, userdata, msg):
            body = json.loads(msg.payload)  # whatever we sent, what comes back is JSON
            with lock:
                (replies if msg.topic.startswith("chat/in/") else room_events).append(body)
                lock.notify_all()

        fuzzer = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=cid, protocol=mqtt.MQTTv5)
        fuzzer.username_pw_set(creds["username"], creds["password"])
        fuzzer.max_inflight_messages_set(100)
        fuzzer.on_message = on_message
        fuzzer.connect("127.0.0.1", edge.mqtt_port)
        fuzzer.loop_start()
        subscribed = threading.Event()
        fuzzer.on_subscribe = lambda *a: subscribed.set()
        fuzzer.subscribe([(f"chat/in/{cid}", 1), ("chat/pub/fuzz", 1)])
        assert subscribed.wait(10)

        expected = 0
        started = time.monotonic()
        source = payloads(SEED)
        for _ in range(COUNT):
            payload, answered = next(source)
            # At most WINDOW unanswered: this tests answers, not overload (a
            # flood beyond the broker's queue for the Router is dropped there).
            with lock:
                assert lock.wait_for(lambda e=expected: e - len(replies) < WINDOW, timeout=30), "no answers"
            expected += answered
            fuzzer.publish(f"chat/out/{cid}", payload, qos=1)
        with lock:
            lock.wait_for(lambda: len(replies) >= expected, timeout=60)
            got = list(replies)
        elapsed = time.monotonic() - started
        print(f"\n{COUNT} payloads, {len(got)} replies in {elapsed:.1f} s ({COUNT / elapsed:.0f}/s)")

        assert len(got) == expected, f"{expected - len(got)} payloads went unanswered"
        assert all(r["type"] in REPLY_TYPES for r in got)
        errors = [r for r in got if r["type"] == "error"]
        assert errors and all(ErrorCode(e["code"]) and e["message"] for e in errors)
        assert not [e for e in errors if e["code"] in ("internal", "store_unavailable")]
        refused = {e["requestType"] for e in errors if e["code"] == "not_allowed"}
        no_moderator = {"mute", "unmute", "ban", "unban", "lock", "unlock", "audit", "console"}
        assert no_moderator <= refused
        assert any(r["type"] == "ack" and "target" in r for r in got)  # edits and deletes went through

        acked = {r["id"] for r in got if r["type"] == "ack" and "target" not in r}  # not edits/deletes
        stored = {mid for mid, _ in edge.stored()}
        assert stored == acked  # nothing rejected was stored
        with lock:
            published = [e["id"] for e in room_events if e["type"] == "message"]
        assert len(published) == len(set(published)) and set(published) <= acked

        # Still serving, and still sane, after all of it.
        check = ChatClient(edge.mqtt_port, creds["username"], creds["password"])
        fuzzer.disconnect()
        fuzzer.loop_stop()
        assert check.connect() == 0
        check.subscribe(f"chat/in/{cid}")
        assert check.request({"type": "hello", "nick": "after"}, "welcome")["type"] == "welcome"
        check.close()
        assert edge.process.poll() is None
