"""Hostile payloads on chat/stream through the real broker and Stream.

CI sends a couple of thousand; `make fuzz` sends EDGECHAT_FUZZ_COUNT (100,000).
Every payload the rules refuse gets exactly one typed error, the Stream never
dies, and only accepted events reach its store: the reaction table is what the
valid reactions make, the spool holds the accepted events and nothing else,
and the Router's store is untouched.
"""

import json
import os
import sqlite3
import threading
import time

import paho.mqtt.client as mqtt
import pytest

from edgechat.core.errors import ClientError, ErrorCode
from edgechat.core.stream import Reaction, ReactionsQuery, StreamLimits, parse_event
from tests.fuzz.hostile import stream_payloads
from tests.support.edge import running_edge

pytestmark = pytest.mark.integration

COUNT = int(os.environ.get("EDGECHAT_FUZZ_COUNT", "2000"))
SEED = int(os.environ.get("EDGECHAT_FUZZ_SEED", "20261129"))
CHUNK = 250  # then a barrier: a `reactions` query, answered after everything before it


def test_hostile_stream_events_get_typed_errors_and_change_only_what_is_valid(tmp_path):
    # The rate limit has its own tests: here every event must meet the rules.
    unlimited = {"stream": {"rate_per_second": 1e6, "rate_burst": 10**6}}
    with running_edge(tmp_path / "data", unlimited) as edge:
        creds = edge.credentials("streamfuzzer")
        cid = creds["clientId"]
        inbox: list[dict] = []
        lock = threading.Condition()

        def on_message(client, userdata, msg):
            with lock:
                inbox.append(json.loads(msg.payload))
                lock.notify_all()

        fuzzer = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=cid, protocol=mqtt.MQTTv5)
        fuzzer.username_pw_set(creds["username"], creds["password"])
        fuzzer.max_inflight_messages_set(100)
        fuzzer.on_message = on_message
        subscribed = threading.Event()
        fuzzer.on_subscribe = lambda *a: subscribed.set()
        fuzzer.connect("127.0.0.1", edge.mqtt_port)
        fuzzer.loop_start()
        fuzzer.subscribe(f"chat/in/{cid}", 1)
        assert subscribed.wait(10)

        limits = StreamLimits()
        refused = accepted = queries = 0
        reactions: set[tuple[str, str]] = set()  # (message, emoji) this client holds, by the rules
        source = stream_payloads(SEED)
        started = time.monotonic()
        for n in range(COUNT):
            payload = next(source)
            try:
                event = parse_event(payload, limits)
            except ClientError:
                refused += 1
            else:
                if isinstance(event, ReactionsQuery):
                    queries += 1
                else:
                    accepted += 1
                if isinstance(event, Reaction):
                    (reactions.discard if event.remove else reactions.add)((event.message_id, event.emoji))
            fuzzer.publish(f"chat/stream/{cid}", payload, qos=1)
            if n % CHUNK == CHUNK - 1 or n == COUNT - 1:
                barrier = f"barrier-{n}"
                query = json.dumps({"type": "reactions", "room": barrier})
                fuzzer.publish(f"chat/stream/{cid}", query, qos=1)
                with lock:
                    assert lock.wait_for(lambda b=barrier: any(e.get("room") == b for e in inbox), 60), (
                        f"no answer after {n + 1} payloads: the Stream stopped answering"
                    )
        elapsed = time.monotonic() - started
        print(f"\n{COUNT} stream payloads ({refused} refused, {accepted} accepted, {len(reactions)} reactions"
              f" held) in {elapsed:.1f} s ({COUNT / elapsed:.0f}/s)")  # fmt: skip

        with lock:
            got = list(inbox)
        errors = [e for e in got if e["type"] == "error"]
        assert len(errors) == refused  # one typed error each, no more, no fewer
        assert all(ErrorCode(e["code"]) and e["message"] for e in errors)
        assert not [e for e in errors if e["code"] in ("internal", "rate_limited", "store_unavailable")]
        answers = [e for e in got if e["type"] == "activity" and not e["room"].startswith("barrier-")]
        assert len(answers) == queries

        # Only accepted events reach the store, once the last window is committed.
        stream = {}
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            stream = edge.status()["stream"]
            if stream["accepted"] == accepted and stream["export"]["spool"]["queued"] == accepted:
                break
            time.sleep(0.2)
        assert stream["connected"] is True and stream["rejected"] == refused
        assert (stream["accepted"], stream["export"]["spool"]["queued"]) == (accepted, accepted)
        db = sqlite3.connect(f"file:{edge.data_dir / 'stream' / 'stream.db'}?mode=ro", uri=True)
        try:
            rows = set(db.execute("SELECT message_id, emoji FROM reactions WHERE client_id = ?", (cid,)))
            others = db.execute("SELECT COUNT(*) FROM reactions WHERE client_id != ?", (cid,)).fetchone()[0]
        finally:
            db.close()
        assert rows == reactions and others == 0
        assert edge.stored() == []  # the Stream never writes the chat's store

        # Still serving.
        fuzzer.publish(f"chat/stream/{cid}", json.dumps({"type": "reactions", "room": "after"}), qos=1)
        with lock:
            assert lock.wait_for(lambda: any(e.get("room") == "after" for e in inbox), 20)
        fuzzer.disconnect()
        fuzzer.loop_stop()
        assert edge.process.poll() is None
