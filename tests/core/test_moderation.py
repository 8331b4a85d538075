"""Edits, deletes and moderation through the pure Router (no broker, no disk)."""

from __future__ import annotations

from typing import Any

import pytest

from edgechat.core.router import RouterConfig
from tests.core.harness import Harness

ROOM = "lobby"


def chat(h: Harness, client: str, mid: str, text: str = "hello") -> None:
    h.send(client, {"type": "message", "id": mid, "room": ROOM, "text": text})


def errors(h: Harness, client: str) -> list[dict[str, Any]]:
    return [e for e in h.inbox.get(client, []) if e["type"] == "error"]


def pub(h: Harness, kind: str) -> list[dict[str, Any]]:
    return [e for e in h.rooms.get(ROOM, []) if e["type"] == kind]


@pytest.fixture
def h() -> Harness:
    harness = Harness(RouterConfig(edit_window_ms=60_000))
    harness.router.moderators = frozenset({"mod"})
    for who in ("ann", "bob", "mod"):
        harness.send(who, {"type": "hello", "nick": who.title()})
        harness.send(who, {"type": "join", "room": ROOM})
    return harness


def test_an_author_edits_then_deletes_and_everyone_sees_it(h):
    chat(h, "ann", "m0000001", "helo")
    h.send("ann", {"type": "edit", "id": "e0000001", "target": "m0000001", "room": ROOM, "text": "hello"})
    (edited,) = pub(h, "messageEdited")
    assert (edited["target"], edited["text"], edited["clientId"]) == ("m0000001", "hello", "ann")
    assert edited["orderKey"] > h.messages(ROOM)[0]["orderKey"]  # ordered after what it changes
    assert h.last("ann") == {**h.last("ann"), "type": "ack", "id": "e0000001", "duplicate": False}
    h.send("ann", {"type": "history", "room": ROOM})
    (shown,) = h.last("ann")["messages"]
    assert (shown["text"], shown.get("edited")) == ("hello", True)
    h.send("ann", {"type": "delete", "id": "d0000001", "target": "m0000001", "room": ROOM})
    h.send("ann", {"type": "delete", "id": "d0000001", "target": "m0000001", "room": ROOM})  # a resend
    assert len(pub(h, "messageRemoved")) == 1 and h.last("ann")["duplicate"] is True
    h.send("bob", {"type": "history", "room": ROOM})
    (shown,) = h.last("bob")["messages"]
    assert (shown["text"], shown.get("deleted")) == ("", True)


def test_others_cannot_edit_or_delete_and_the_window_closes(h):
    chat(h, "ann", "m0000001")
    h.send("bob", {"type": "edit", "id": "e0000001", "target": "m0000001", "room": ROOM, "text": "mine now"})
    h.send("bob", {"type": "delete", "id": "d0000001", "target": "m0000001", "room": ROOM})
    h.send("ann", {"type": "edit", "id": "e0000002", "target": "nosuch01", "room": ROOM, "text": "x"})
    h.send("ann", {"type": "edit", "id": "e0000003", "target": "m0000001", "room": "elsewhere", "text": "x"})
    h.send(
        "ann", {"type": "edit", "id": "e0000004", "target": "m0000001", "room": ROOM, "text": "late"}, 61_000
    )
    got = [(e["code"], e["ref"], e["requestType"]) for e in errors(h, "bob") + errors(h, "ann")]
    assert got == [
        ("not_allowed", "e0000001", "edit"), ("not_allowed", "d0000001", "delete"),
        ("not_found", "e0000002", "edit"), ("not_found", "e0000003", "edit"),
        ("edit_window_closed", "e0000004", "edit"),
    ]  # fmt: skip
    assert pub(h, "messageEdited") == pub(h, "messageRemoved") == []
    assert h.store.get("m0000001").text == "hello"


def test_a_moderator_deletes_any_message_at_any_time_and_it_is_audited(h):
    chat(h, "ann", "m0000001", "spam spam")
    h.send("mod", {"type": "edit", "id": "e0000001", "target": "m0000001", "room": ROOM, "text": "x"})
    assert errors(h, "mod")[-1]["code"] == "not_allowed"  # moderators remove, they don't rewrite
    h.send("mod", {"type": "delete", "id": "d0000001", "target": "m0000001", "room": ROOM}, 3_600_000)
    assert pub(h, "messageRemoved")[0]["clientId"] == "mod"
    assert h.store.get("m0000001").text == ""
    h.send("mod", {"type": "audit", "requestId": "a1"})
    (entry,) = h.last("mod")["entries"]
    assert entry == {**entry, "actor": "mod", "action": "delete", "target": "m0000001", "room": ROOM}
    assert entry["detail"] == {"author": "ann"} and entry["ts"] == h.now_ms - 1


def test_mute_refuses_sends_with_a_typed_error_until_it_runs_out(h):
    h.send("mod", {"type": "mute", "room": ROOM, "clientId": "bob", "minutes": 2, "requestId": "q1"})
    assert h.last("mod") == {"type": "moderated", "action": "mute", "target": "bob", "requestId": "q1"}
    muted = [e for e in h.inbox["bob"] if e["type"] == "muted"]
    assert muted[-1]["untilTs"] == h.now_ms + 120_000 and muted[-1]["muted"] is True
    chat(h, "bob", "m0000001")
    err = errors(h, "bob")[-1]
    assert (err["code"], err["retryable"], err["ref"]) == ("muted", True, "m0000001")
    assert 119_000 <= err["retryAfterMs"] <= 120_000
    chat(h, "ann", "m0000002")  # others still speak
    chat(h, "bob", "m0000003", "back")
    assert errors(h, "bob")[-1]["ref"] == "m0000003"
    h.now_ms += 120_000
    chat(h, "bob", "m0000004", "back again")
    assert [m["id"] for m in h.messages(ROOM)] == ["m0000002", "m0000004"]


def test_lock_makes_a_room_read_only_for_everyone_but_moderators(h):
    h.send("mod", {"type": "lock", "room": ROOM})
    assert pub(h, "roomLocked") == [{"type": "roomLocked", "room": ROOM, "locked": True}]
    chat(h, "ann", "m0000001")
    assert errors(h, "ann")[-1]["code"] == "room_locked"
    chat(h, "mod", "m0000002", "calm down")
    h.send("bob", {"type": "join", "room": ROOM})
    assert h.last("bob")["locked"] is True
    h.send("mod", {"type": "unlock", "room": ROOM})
    chat(h, "ann", "m0000003")
    assert [m["id"] for m in h.messages(ROOM)] == ["m0000002", "m0000003"]


def test_announcements_are_pinned_and_shown_on_join(h):
    h.send("mod", {"type": "announce", "room": ROOM, "text": "Dinner at 7"})
    (pinned,) = pub(h, "announcement")
    assert (pinned["text"], pinned["nick"]) == ("Dinner at 7", "Mod")
    h.send("ann", {"type": "join", "room": ROOM})
    assert h.last("ann")["pinned"] == pinned
    h.send("mod", {"type": "announce", "room": ROOM})
    assert pub(h, "announcement")[-1] == {"type": "announcement", "room": ROOM, "removed": True}
    h.send("ann", {"type": "join", "room": ROOM})
    assert "pinned" not in h.last("ann")


def test_ban_tells_the_client_removes_it_and_revokes_its_credential(h):
    h.send("mod", {"type": "ban", "clientId": "bob", "reason": "flooding"})
    until = h.now_ms + h.config.ban_ms  # the Router's default length
    assert h.inbox["bob"][-1] == {"type": "banned", "reason": "flooding", "untilTs": until}
    assert h.revoked == ["bob"]
    assert h.banned_until == {"bob": until}  # the shell keeps bob's address out till then
    left = [e for e in pub(h, "presence") if e["change"] == "leave"]
    assert left[-1]["clientId"] == "bob" and left[-1]["reason"] == "banned"


def test_a_ban_may_say_how_long_and_unban_lifts_it_early(h):
    h.send("mod", {"type": "ban", "clientId": "bob", "minutes": 90})
    assert h.last("bob")["untilTs"] == h.now_ms + 90 * 60_000
    assert h.banned_until == {"bob": h.now_ms + 90 * 60_000}
    h.send("mod", {"type": "unban", "clientId": "bob", "requestId": "u1"})
    assert h.last("mod") == {"type": "moderated", "action": "unban", "target": "bob", "requestId": "u1"}
    assert h.banned_until == {}
    h.send("mod", {"type": "audit"})
    assert [e["action"] for e in h.last("mod")["entries"][:2]] == ["unban", "ban"]


@pytest.mark.parametrize("minutes", [0, -5, 365 * 24 * 60 + 1, "60", True])
def test_a_ban_s_length_is_checked(h, minutes):
    h.send("mod", {"type": "ban", "clientId": "bob", "minutes": minutes})
    assert errors(h, "mod")[-1]["code"] == "invalid_field"
    assert h.revoked == []


@pytest.mark.parametrize(
    "request_",
    [
        {"type": "unban", "clientId": "bob"},
        {"type": "mute", "room": ROOM, "clientId": "bob", "minutes": 5},
        {"type": "unmute", "room": ROOM, "clientId": "bob"},
        {"type": "ban", "clientId": "bob"},
        {"type": "lock", "room": ROOM},
        {"type": "unlock", "room": ROOM},
        {"type": "announce", "room": ROOM, "text": "I am in charge"},
        {"type": "notice", "room": ROOM, "text": "hi"},
        {"type": "appUpdate", "version": "2.0"},
        {"type": "audit"},
        {"type": "console"},
        {"type": "delete", "id": "d0000001", "target": "m0000001", "room": ROOM},
    ],
)
def test_a_non_moderator_gets_a_typed_error_and_changes_nothing(h, request_):
    chat(h, "bob", "m0000001")
    before = (dict(h.rooms), h.store.moderation_state(0), h.store.audit_log(), list(h.inbox.get("bob", [])))
    h.send("ann", {**request_, "requestId": "x1"})
    err = h.last("ann")
    assert (err["type"], err["code"], err["retryable"]) == ("error", "not_allowed", False)
    assert err["requestType"] == request_["type"]
    after = (dict(h.rooms), h.store.moderation_state(0), h.store.audit_log(), list(h.inbox.get("bob", [])))
    assert after == before and h.revoked == []
    assert h.store.get("m0000001").text == "hello"


def test_moderation_requests_are_validated(h):
    h.send("mod", {"type": "mute", "room": ROOM, "clientId": "bob", "minutes": 0})
    h.send("mod", {"type": "mute", "room": ROOM, "clientId": "a/b", "minutes": 1})
    h.send("mod", {"type": "notice", "text": "to nobody"})
    assert [e["code"] for e in errors(h, "mod")] == ["invalid_field", "invalid_field", "missing_field"]


def test_the_console_shows_who_is_where_and_what_is_in_force(h):
    h.send("mod", {"type": "mute", "room": ROOM, "clientId": "bob", "minutes": 1})
    h.send("mod", {"type": "lock", "room": "quiet"})
    h.send("mod", {"type": "console"})
    console = h.last("mod")
    rooms = {r["room"]: r for r in console["present"]}
    assert [m["clientId"] for m in rooms[ROOM]["members"]] == ["ann", "bob", "mod"]
    assert rooms[ROOM]["muted"][0]["clientId"] == "bob" and rooms["quiet"]["locked"] is True


def test_app_update_reaches_every_room_with_people(h):
    h.send("ann", {"type": "join", "room": "other"})
    h.send("mod", {"type": "appUpdate", "version": "1.2.0", "note": "Reload for replies"})
    for room in (ROOM, "other"):
        (update,) = [e for e in h.rooms[room] if e["type"] == "appUpdate"]
        assert update == {"type": "appUpdate", "version": "1.2.0", "note": "Reload for replies"}
    assert h.store.audit_log(1)[0].action == "appUpdate"
