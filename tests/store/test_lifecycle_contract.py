"""Edits, deletes and moderation state: one contract for every MessageStore."""

from __future__ import annotations

import uuid
from dataclasses import replace

from edgechat.core.clock import Hlc, order_key
from edgechat.core.lifecycle import DELETE, EDIT, Revision
from edgechat.core.moderation import Action
from edgechat.store import MemoryStore, SqliteStore
from tests.store.test_store_contract import message, store  # noqa: F401  (the fixture)


def revision(
    rid: str, target: str, kind: str = EDIT, text: str = "", ts: int = 2000, *, by: str = "c"
) -> Revision:
    return Revision(
        id=rid, target=target, room="r", kind=kind, text=text if kind == EDIT else "", client_id=by,
        ts=ts, order_key=order_key(Hlc(ts, 0), "edge", rid), site="edge",
    )  # fmt: skip


def test_an_edit_shows_in_history_marked_and_a_resend_changes_nothing(store):  # noqa: F811
    store.add([message("m0000001"), message("m0000002")])
    ((stored, created, applied),) = store.revise([revision("e0000001", "m0000001", text="better")])
    assert (stored.text, created, applied) == ("better", True, True)
    page, _ = store.history("r")
    shown = {m.id: m for m in page}
    assert shown["m0000001"].text == "better" and shown["m0000001"].edited
    assert shown["m0000002"].text == "text m0000002" and not shown["m0000002"].edited
    assert shown["m0000001"].to_event()["edited"] is True
    assert store.revise([revision("e0000001", "m0000001", text="other")])[0][1:] == (False, False)
    assert store.get("m0000001").text == "better"
    assert store.get("nothere1") is None


def test_the_latest_edit_wins_whatever_order_they_arrive_in(store):  # noqa: F811
    store.add([message("m0000001")])
    store.revise([revision("e0000002", "m0000002x", text="orphan")])  # no such message: kept, not applied
    newer = revision("e0000009", "m0000001", text="newer", ts=3000)
    older = revision("e0000008", "m0000001", text="older", ts=2500)
    assert store.revise([newer])[0][2] is True
    assert store.revise([older])[0][1:] == (True, False)
    assert store.get("m0000001").text == "newer"


def test_a_delete_wins_and_leaves_no_text(store):  # noqa: F811
    store.add([message("m0000001"), message("m0000002")])
    store.revise([revision("e0000001", "m0000001", text="edited words")])
    ((_, created, applied),) = store.revise([revision("d0000001", "m0000001", DELETE, ts=3000)])
    assert created and applied
    gone = store.get("m0000001")
    assert gone.deleted and gone.text == "" and gone.to_event()["deleted"] is True
    # an edit made elsewhere before the delete arrives later: stored, without its text
    ((late, created, applied),) = store.revise([revision("e0000002", "m0000001", text="late", ts=2500)])
    assert (late.text, created, applied) == ("", True, False)
    assert store.get("m0000001").text == ""
    assert [m.id for m in store.history("r")[0]] == ["m0000002", "m0000001"]  # the seq stays


def test_moderation_state_and_audit_log(store):  # noqa: F811
    pinned = {"type": "announcement", "room": "r", "text": "read the rules", "ts": 5}
    store.moderate(Action(1, "mod", "mute", "bob", "r", {"untilTs": 10_000, "minutes": 1}))
    store.moderate(Action(2, "mod", "mute", "eve", "r", {"untilTs": 50, "minutes": 1}))
    store.moderate(Action(3, "mod", "lock", "r", "r"))
    store.moderate(Action(4, "mod", "announce", "r", "r", {"announcement": pinned}))
    store.moderate(Action(5, "mod", "ban", "zed", None, {"reason": "spam"}))
    state = store.moderation_state(now_ms=100)
    assert state.mutes == {("r", "bob"): 10_000} and state.locked == {"r"} and state.pinned == {"r": pinned}
    assert [(a.action, a.target) for a in store.audit_log(3)] == [
        ("ban", "zed"),
        ("announce", "r"),
        ("lock", "r"),
    ]
    assert store.audit_log(1)[0].detail == {"reason": "spam"}
    store.moderate(Action(6, "mod", "unlock", "r", "r"))
    store.moderate(Action(7, "mod", "unpin", "r", "r"))
    store.moderate(Action(8, "mod", "unmute", "bob", "r"))
    state = store.moderation_state(now_ms=100)
    assert (state.mutes, state.locked, state.pinned) == ({}, set(), {})


def test_deleted_text_is_gone_from_the_sqlite_files(tmp_path):
    """Searched byte-wise in the database, its WAL and whatever else is beside them."""
    first, edited = f"first-{uuid.uuid4().hex}", f"edited-{uuid.uuid4().hex}"
    tail = " and long enough to spill onto overflow pages" * 150
    s = SqliteStore(tmp_path / "m.db")
    keep = [message(f"k{i:07d}") for i in range(50)]  # neighbours on the same pages
    s.add([*keep[:25], replace(message("m0000001"), text=first), *keep[25:]])
    s.revise([revision("e0000001", "m0000001", text=tail + edited)])

    def on_disk(needle: str) -> list[str]:
        return sorted(p.name for p in tmp_path.iterdir() if needle.encode() in p.read_bytes())

    assert on_disk(first) and on_disk(edited)  # the search finds words that are there
    s.revise([revision("d0000001", "m0000001", DELETE, ts=3000)])
    assert on_disk(first) == [] and on_disk(edited) == []
    assert on_disk("text k0000049")  # the neighbours are intact
    assert [m.text for m in s.history("r", limit=100)[0] if m.id == "k0000049"] == ["text k0000049"]
    s.close()
    assert on_disk(first) == [] and on_disk(edited) == []


def test_retention_takes_a_message_s_edits_with_it_from_the_file(tmp_path):
    s = SqliteStore(tmp_path / "m.db")
    edited = f"edited-{uuid.uuid4().hex}"
    s.add([message("m0000001", ts=1000), message("m0000002", ts=9000)])
    s.revise([revision("e0000001", "m0000001", text=edited, ts=2000)])
    assert s.expire(5000) == 1
    assert [m.id for m in s.history("r")[0]] == ["m0000002"]
    assert not any(edited.encode() in p.read_bytes() for p in tmp_path.iterdir())
    s.close()


def test_a_message_deleted_before_it_synced_never_goes_up(tmp_path):
    for s in (MemoryStore(), SqliteStore(tmp_path / "m.db")):
        s.add([message("m0000001"), message("m0000002")])
        s.revise([revision("d0000001", "m0000001", DELETE)])
        # its words never leave; the delete goes up (the message may have been in flight)
        assert [m.id for _, m in s.outbox()] == ["m0000002", "d0000001"]
        s.close()
