"""Moderation on a real core: Mosquitto, the Router, SQLite, the CLI."""

from __future__ import annotations

import json
import time
import uuid

from tests.support.edge import ChatClient


def moderator(edge, connect_rooms=()) -> ChatClient:
    creds = json.loads(edge.cli("credentials", "new", "--nick", "Mod", "--moderator").stdout)
    assert creds["moderator"] is True
    client = ChatClient(edge.mqtt_port, creds["username"], creds["password"])
    assert client.connect() == 0
    client.subscribe(f"chat/in/{client.client_id}", *(f"chat/pub/{r}" for r in connect_rooms))
    assert client.request({"type": "hello", "nick": "Mod"}, "welcome")["type"] == "welcome"
    return client


def room() -> str:
    return f"mod-{uuid.uuid4().hex[:8]}"


def test_a_ban_closes_the_connection_and_the_old_credential_stays_out(edge, connect):
    here = room()
    mod = moderator(edge, (here,))
    bob = connect("bob", rooms=(here,))
    bob.request({"type": "join", "room": here}, "joined")
    creds = (bob.client._username.decode(), bob.client._password.decode())
    done = mod.request({"type": "ban", "clientId": bob.client_id, "reason": "spam"}, "moderated")
    assert done["type"] == "moderated"
    bob.wait_for(lambda t, b: t == f"chat/in/{bob.client_id}" and b.get("type") == "banned")
    assert bob.disconnected.wait(10), "the broker kept the banned client connected"
    again = ChatClient(edge.mqtt_port, *creds, will=False)
    try:
        assert again.connect() != 0  # not authorised
    finally:
        again.client.loop_stop()
    left = mod.wait_for(lambda t, b: b.get("type") == "presence" and b.get("reason") == "banned")
    assert left[0][1]["clientId"] == bob.client_id
    mod.close()


def test_mute_gives_a_typed_error_and_an_ordinary_client_cannot_moderate(edge, connect):
    here = room()
    mod = moderator(edge)
    ann, bob = connect("ann"), connect("bob")
    refused = ann.request(
        {"type": "mute", "room": here, "clientId": bob.client_id, "minutes": 5}, "moderated"
    )
    assert (refused["type"], refused["code"]) == ("error", "not_allowed")
    mod.request({"type": "mute", "room": here, "clientId": bob.client_id, "minutes": 5}, "moderated")
    bob.send({"type": "message", "id": "m" + uuid.uuid4().hex, "room": here, "text": "can I?"})
    ((_, err),) = bob.wait_for(lambda t, b: b.get("type") == "error")
    assert (err["code"], err["retryable"]) == ("muted", True) and err["retryAfterMs"] > 200_000
    assert edge.stored(here) == []
    mod.close()


def test_the_cli_locks_a_room_and_reads_the_audit_log(edge, connect):
    here = room()
    out = edge.cli("mod", "lock", here)
    assert json.loads(out.stdout)["type"] == "moderated"
    ann = connect("ann")
    ann.send({"type": "message", "id": "m" + uuid.uuid4().hex, "room": here, "text": "hi"})
    ((_, locked),) = ann.wait_for(lambda t, b: b.get("type") == "error")
    assert locked["code"] == "room_locked"
    audit = json.loads(edge.cli("mod", "audit", "--limit", "5").stdout)
    assert any(e["action"] == "lock" and e["target"] == here for e in audit["entries"])
    rooms = json.loads(edge.cli("rooms").stdout)
    assert any(r["room"] == here and r["locked"] for r in rooms["present"])
    assert rooms["disk"]["storeBytes"] > 0 and "counters" in rooms
    refused = edge.cli("mod", "unmute", "nobody", "bad/room", check=False)
    assert refused.returncode == 1 and json.loads(refused.stdout)["code"] == "invalid_field"


def test_a_deleted_message_leaves_the_running_core_s_files(edge, connect):
    here = room()
    ann = connect("ann", rooms=(here,))
    secret = f"secret-{uuid.uuid4().hex}"
    mid = "m" + uuid.uuid4().hex
    ann.send({"type": "message", "id": mid, "room": here, "text": secret})
    ann.wait_for(lambda t, b: b.get("type") == "ack" and b.get("id") == mid)
    files = sorted((edge.data_dir / "store").iterdir())
    assert any(secret.encode() in f.read_bytes() for f in files)
    ann.send({"type": "delete", "id": "d" + uuid.uuid4().hex, "target": mid, "room": here})
    ann.wait_for(lambda t, b: b.get("type") == "messageRemoved" and b.get("target") == mid)
    deadline = time.monotonic() + 5
    while any(secret.encode() in f.read_bytes() for f in (edge.data_dir / "store").iterdir()):
        assert time.monotonic() < deadline, "the deleted text is still in the store's files"
        time.sleep(0.1)
