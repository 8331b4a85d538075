"""Edits and deletes sync like messages (issue 9): the stores' side."""

from __future__ import annotations

import sqlite3
import uuid
from dataclasses import replace

from edgechat.core.lifecycle import DELETE
from edgechat.store import SqliteStore
from tests.store.test_lifecycle_contract import revision
from tests.store.test_store_contract import edge_store, message, store  # noqa: F401  (fixtures)


def test_a_revision_made_here_is_queued_after_its_message_and_retired_by_its_ack(edge_store):  # noqa: F811
    edge_store.add([message("m0000001", ts=5)])
    edge_store.revise([revision("e0000001", "m0000001", text="better", ts=9)])
    edge_store.revise([revision("e0000001", "m0000001", text="again", ts=9)])  # a resend: queued once
    queued = edge_store.outbox()
    assert [(type(item).__name__, item.id) for _, item in queued] == [
        ("Message", "m0000001"), ("Revision", "e0000001"),
    ]  # fmt: skip
    assert queued[1][1].text == "better" and edge_store.outbox_stats() == (2, 5)
    # a message ack does not retire a revision of the same id, nor the other way round
    assert edge_store.outbox_done(["e0000001"], ["m0000001"]) == 0
    assert edge_store.outbox_done(["m0000001"]) == 1 and edge_store.outbox_stats() == (1, 9)
    assert edge_store.outbox_done([], ["e0000001"]) == 1 and edge_store.outbox() == []


def test_revisions_from_elsewhere_are_merged_but_not_queued(edge_store):  # noqa: F811
    edge_store.add_remote([message("m0000001")])
    out = edge_store.revise_remote([revision("e0000001", "m0000001", text="from afar")])
    assert out[0][1:] == (True, True) and edge_store.get("m0000001").text == "from afar"
    assert edge_store.revise_remote([revision("e0000001", "m0000001", text="x")])[0][1:] == (False, False)
    assert edge_store.outbox() == []


def test_revisions_that_arrive_before_their_message_apply_when_it_comes(edge_store):  # noqa: F811
    edge_store.revise_remote([
        revision("e0000002", "m0000001", text="newest", ts=3000),
        revision("e0000001", "m0000001", text="older", ts=2000),
        revision("d0000001", "m0000002", DELETE, ts=2000),
        revision("e0000003", "m0000002", text="lost to the delete", ts=4000),
    ])  # fmt: skip
    edge_store.add_remote([message("m0000001"), message("m0000002")])
    assert edge_store.get("m0000001").text == "newest" and edge_store.get("m0000001").edited
    gone = edge_store.get("m0000002")
    assert gone.deleted and gone.text == ""
    # later, older news changes nothing
    edge_store.revise_remote([revision("e0000000", "m0000001", text="oldest", ts=1000)])
    assert edge_store.get("m0000001").text == "newest"


def test_an_early_delete_leaves_no_words_in_the_file(tmp_path):
    s = SqliteStore(tmp_path / "m.db")
    words = f"secret-{uuid.uuid4().hex}"
    s.revise_remote([revision("d0000001", "m0000001", DELETE)])
    s.add_remote([replace(message("m0000001"), text=words)])
    assert s.get("m0000001").deleted
    s.close()
    assert not any(words.encode() in p.read_bytes() for p in tmp_path.iterdir())


def test_schema_5_keeps_a_version_4_outbox(tmp_path):
    s = SqliteStore(tmp_path / "m.db")
    s.add([message("a1"), message("a2"), message("a3")])
    s.outbox_done(["a1"])
    s.close()
    db = sqlite3.connect(tmp_path / "m.db")  # back to schema 4's outbox, as an old file has it
    db.executescript(
        "DROP TABLE outbox; "
        "CREATE TABLE outbox (n INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE);"
        "INSERT INTO outbox (n, id) VALUES (2, 'a2'), (3, 'a3'); UPDATE sqlite_sequence SET seq = 7 "
        "WHERE name = 'outbox'; PRAGMA user_version = 4;"
    )
    db.close()
    s = SqliteStore(tmp_path / "m.db")
    assert [(n, m.id) for n, m in s.outbox()] == [(2, "a2"), (3, "a3")]
    s.add([message("a4")])
    assert s.outbox()[-1][0] == 8  # positions past the old counter: a running Sync skips nothing
    s.close()


def test_revision_cursors_only_go_up_apart_from_the_message_cursors(edge_store):  # noqa: F811
    assert edge_store.revision_cursors() == {}
    edge_store.advance_cursors({"r": 9})
    edge_store.advance_revision_cursors({"r": 5, "s": 2})
    edge_store.advance_revision_cursors({"r": 3, "s": 4})
    assert edge_store.revision_cursors() == {"r": 5, "s": 4} and edge_store.cursors() == {"r": 9}


def test_sqlite_revision_cursors_survive_reopen(tmp_path):
    s = SqliteStore(tmp_path / "m.db")
    s.advance_revision_cursors({"r": 7})
    s.close()
    s = SqliteStore(tmp_path / "m.db")
    try:
        assert s.revision_cursors() == {"r": 7} and s.cursors() == {}
    finally:
        s.close()
