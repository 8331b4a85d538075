"""The Stream component in a real ``edgechat up``: a scripted paho device's
readings, typing, reactions (stored) and typed errors, through the real broker."""

from __future__ import annotations

import itertools
import json
import sqlite3
import time

from edgechat.core.errors import ClientError
from edgechat.core.stream import StreamLimits, parse_event
from tests.fuzz.hostile import payloads

MID = "01J0000000000000000000000A"


def stream_topic(client) -> str:
    return f"chat/stream/{client.client_id}"


def activities(client, room: str) -> list[dict]:
    return client.events(f"chat/pub/{room}", "activity")


def test_a_device_publishes_readings_and_the_room_sees_their_aggregate(edge, connect):
    watcher = connect("watcher", rooms=("lab",))
    device = connect("thermo-1")
    values = [20.0, 21.0, 25.5, 19.5, 22.0]
    for v in values:
        device.send(
            {"type": "reading", "room": "lab", "sensor": "temp", "value": v, "unit": "°C"},
            stream_topic(device),
        )

    def readings() -> list[dict]:
        return [
            r
            for a in activities(watcher, "lab")
            for r in a.get("readings", [])
            if r["clientId"] == device.client_id
        ]

    deadline = time.monotonic() + 10
    while sum(r["count"] for r in readings()) < len(values) and time.monotonic() < deadline:
        time.sleep(0.05)
    seen = readings()
    assert sum(r["count"] for r in seen) == len(values)
    assert min(r["min"] for r in seen) == 19.5 and max(r["max"] for r in seen) == 25.5
    assert seen[-1]["latest"] == 22.0 and seen[-1]["unit"] == "°C" and seen[-1]["sensor"] == "temp"
    if len(seen) == 1:  # all in one window: the mean is the mean of all
        assert seen[0]["avg"] == sum(values) / len(values)


def test_typing_shows_then_expires_and_stopping_clears_it(edge, connect):
    ann = connect("ann")
    bob = connect("bob", rooms=("chatroom",))
    ann.send({"type": "typing", "room": "chatroom"}, stream_topic(ann))
    (_, shown), *_ = bob.wait_for(
        lambda t, b: isinstance(b, dict) and b.get("type") == "activity" and b.get("typing")
    )
    assert [t["clientId"] for t in shown["typing"]] == [ann.client_id]
    assert 0 < shown["typing"][0]["expiresInMs"] <= 6000
    ann.send({"type": "typing", "room": "chatroom", "active": False}, stream_topic(ann))
    bob.wait_for(lambda t, b: isinstance(b, dict) and b.get("type") == "activity" and b.get("typing") == [])


def test_reactions_are_counted_per_client_stored_and_sent_to_newcomers(edge, connect):
    ann = connect("ann")
    bob = connect("bob", rooms=("party",))
    for who in (ann, bob, ann):  # ann twice: still one
        who.send({"type": "reaction", "room": "party", "messageId": MID, "emoji": "🎉"}, stream_topic(who))

    def count() -> int | None:
        found = [r for a in activities(bob, "party") for r in a.get("reactions", []) if r["messageId"] == MID]
        return found[-1]["counts"].get("🎉") if found else None

    deadline = time.monotonic() + 10
    while count() != 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert count() == 2
    # It outlives the window: stored in the Stream's own SQLite file.
    db = sqlite3.connect(f"file:{edge.data_dir / 'stream' / 'stream.db'}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT client_id FROM reactions WHERE message_id = ?", (MID,)).fetchall()
    finally:
        db.close()
    assert sorted(r[0] for r in rows) == sorted([ann.client_id, bob.client_id])
    # Someone who joins later asks for the room's counts.
    cy = connect("cy")
    cy.send({"type": "reactions", "room": "party"}, stream_topic(cy))
    (_, answer), *_ = cy.wait_for(lambda t, b: t == f"chat/in/{cy.client_id}" and b.get("type") == "activity")
    assert answer["reactions"] == [{"messageId": MID, "counts": {"🎉": 2}}]


def test_bad_stream_events_get_typed_errors_and_nothing_is_published(edge, connect):
    ann = connect("ann", rooms=("quiet",))
    ann.send(b"\xff\xfe", stream_topic(ann))
    ann.send({"type": "reading", "room": "quiet", "sensor": "t", "value": "hot"}, stream_topic(ann))
    ann.send({"type": "wave", "room": "quiet"}, stream_topic(ann))
    errors = ann.wait_for(lambda t, b: isinstance(b, dict) and b.get("type") == "error", count=3)
    assert [(e["code"], e.get("field")) for _, e in errors] == [
        ("bad_utf8", None),
        ("invalid_field", "value"),
        ("unknown_type", "type"),
    ]
    time.sleep(0.5)  # more than two windows
    assert activities(ann, "quiet") == []


def test_status_shows_the_stream_and_its_spool(edge, connect):
    device = connect("meter")
    device.send({"type": "reading", "room": "lab", "sensor": "w", "value": 1}, stream_topic(device))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        stream = edge.status().get("stream")
        if stream and stream["accepted"] >= 1 and stream["export"]["spool"]["queued"] >= 1:
            break
        time.sleep(0.3)
    assert stream["connected"] is True
    assert stream["export"]["exporter"] == "none"
    assert stream["export"]["spool"]["dropped"] == 0
    text = edge.cli("status").stdout
    assert "stream: connected" in text and "queued" in text
    assert json.loads(edge.cli("status", "--json").stdout)["stream"]["received"] >= 1


def test_hostile_payloads_get_typed_errors_and_the_stream_carries_on(edge, connect):
    fuzzer = connect("fuzzer", rooms=("fuzz",))
    expected = 0
    for payload, _ in itertools.islice(payloads(seed=8), 150):  # under the burst: no rate limit
        try:
            parse_event(payload, StreamLimits())
        except ClientError:
            expected += 1
        if len(payload) < 60_000:  # larger ones the broker refuses (and disconnects for)
            fuzzer.send(payload, stream_topic(fuzzer))
        else:
            expected -= 1
    fuzzer.wait_for(
        lambda t, b: isinstance(b, dict) and b.get("type") == "error", count=expected, timeout_s=20
    )
    fuzzer.send({"type": "reading", "room": "fuzz", "sensor": "alive", "value": 1}, stream_topic(fuzzer))
    fuzzer.wait_for(
        lambda t, b: isinstance(b, dict) and any(r["sensor"] == "alive" for r in b.get("readings", []))
    )
    assert edge.status()["stream"]["connected"] is True
