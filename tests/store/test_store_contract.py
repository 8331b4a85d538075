"""One contract, every MessageStore: the in-memory fake must behave like SQLite."""

import sqlite3
import uuid

import pytest

from edgechat.core.clock import Hlc, order_key
from edgechat.core.protocol import Message
from edgechat.store import MemoryStore, SqliteStore, StoreError


def message(mid: str, room: str = "r", ts: int = 1000, counter: int = 0, client: str = "c") -> Message:
    return Message(
        id=mid, room=room, text=f"text {mid}", client_id=client, nick="N", ts=ts,
        order_key=order_key(Hlc(ts, counter), "edge", mid), site="edge",
    )  # fmt: skip


@pytest.fixture(params=["memory", "sqlite", "dynamodb"])
def store(request, tmp_path):
    if request.param == "memory":
        s = MemoryStore()
    elif request.param == "sqlite":
        s = SqliteStore(tmp_path / "m.db")
    else:  # the cloud's store, on moto_server (started once for the session)
        from edgechat.cloud.dynamo import DynamoStore
        from tests.support.moto import new_chat_table

        url = request.getfixturevalue("moto_url")
        table = f"t{uuid.uuid4().hex[:12]}"
        s = DynamoStore(new_chat_table(url, table), table)
    yield s
    s.close()


def test_add_numbers_each_room_and_is_idempotent(store):
    out = store.add([message("a1"), message("b1", room="s"), message("a2"), message("a1")])
    assert [(m.id, m.seq, created) for m, created in out] == [
        ("a1", 1, True), ("b1", 1, True), ("a2", 2, True), ("a1", 1, False),
    ]  # fmt: skip
    again = store.add([message("a2")])
    assert again[0][0].seq == 2 and again[0][1] is False
    assert store.count() == 3


def test_history_before_and_after(store):
    store.add([message(f"m{i:02d}", ts=1000 + i) for i in range(10)])
    page, more = store.history("r", limit=4)
    assert [m.seq for m in page] == [10, 9, 8, 7] and more
    page, more = store.history("r", before=3, limit=4)
    assert [m.seq for m in page] == [2, 1] and not more
    page, more = store.history("r", after=8, limit=4)
    assert [m.seq for m in page] == [9, 10] and not more
    assert store.history("nowhere") == ([], False)


def test_rooms_and_max_clock(store):
    assert store.max_clock() == Hlc()
    store.add([message("a", ts=5, counter=2), message("b", room="s", ts=9)])
    assert {(r.room, r.last_seq, r.last_ts) for r in store.rooms()} == {("r", 1, 5), ("s", 1, 9)}
    assert store.max_clock() == Hlc(9, 0)


def test_expire_deletes_old_messages_but_never_reuses_a_sequence(store):
    store.add([message("old1", ts=1), message("old2", ts=2), message("new", ts=100)])
    assert store.expire(50, batch=1) == 1
    assert store.expire(50) == 1
    assert store.expire(50) == 0
    ((m, _),) = store.add([message("newer", ts=200)])
    assert m.seq == 4
    assert [x.id for x in store.history("r")[0]] == ["newer", "new"]


def test_sqlite_keeps_everything_across_reopen(tmp_path):
    path = tmp_path / "m.db"
    s = SqliteStore(path)
    s.add([message("a", ts=7, counter=3), message("b", ts=3)])
    s.close()
    s = SqliteStore(path)
    assert s.count() == 2 and s.max_clock() == Hlc(7, 3)
    ((m, created),) = s.add([message("c")])
    assert (m.seq, created) == (3, True)
    assert s.add([message("a")])[0][1] is False
    s.close()


def test_sqlite_runs_in_wal_mode_with_full_sync(tmp_path):
    s = SqliteStore(tmp_path / "m.db")
    s.close()
    db = sqlite3.connect(tmp_path / "m.db")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()


def test_sqlite_refuses_a_foreign_or_corrupt_file(tmp_path):
    foreign = tmp_path / "foreign.db"
    db = sqlite3.connect(foreign)
    db.execute("CREATE TABLE t (x)")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="not an edgechat store"):
        SqliteStore(foreign)
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"\x00garbage" * 1000)
    with pytest.raises(StoreError, match="cannot open"):
        SqliteStore(junk)


def test_a_failed_batch_stores_nothing(tmp_path):
    s = SqliteStore(tmp_path / "m.db")
    s.add([message("a")])
    s._db.execute(
        "CREATE TRIGGER boom BEFORE INSERT ON messages WHEN NEW.id = 'bad' "
        "BEGIN SELECT RAISE(ABORT, 'x'); END"
    )
    with pytest.raises(StoreError):
        s.add([message("b"), message("bad")])
    assert s.count() == 1
    ((m, _),) = s.add([message("b")])
    assert m.seq == 2  # no sequence number was used up by the failed batch
    s.close()


# --- sync: outbox and cursors (the edge stores only) ---------------------------


@pytest.fixture(params=["memory", "sqlite"])
def edge_store(request, tmp_path):
    s = MemoryStore() if request.param == "memory" else SqliteStore(tmp_path / "m.db")
    yield s
    s.close()


def test_local_messages_are_queued_once_and_remote_ones_never(edge_store):
    edge_store.add([message("a1", ts=5), message("a2", ts=7), message("a1")])
    edge_store.add_remote([message("x1", ts=1), message("a2")])  # a2 again: already queued
    queued = edge_store.outbox()
    assert [m.id for _, m in queued] == ["a1", "a2"]
    assert [m.seq for _, m in queued] == [1, 2]
    assert edge_store.outbox_stats() == (2, 5)
    first, _ = queued[0]
    assert [m.id for _, m in edge_store.outbox(after=first)] == ["a2"]
    assert [m.id for _, m in edge_store.outbox(limit=1)] == ["a1"]


def test_acknowledged_messages_leave_the_outbox_and_new_ones_queue_after(edge_store):
    edge_store.add([message(f"m{i}") for i in range(5)])
    last = edge_store.outbox()[-1][0]
    assert edge_store.outbox_done(["m0", "m2", "nope"]) == 2
    assert [m.id for _, m in edge_store.outbox()] == ["m1", "m3", "m4"]
    assert edge_store.outbox_done(["m1", "m3", "m4"]) == 3
    assert edge_store.outbox_stats() == (0, None)
    edge_store.add([message("later")])
    ((n, m),) = edge_store.outbox(after=last)  # positions are never reused
    assert m.id == "later" and n > last


def test_expired_messages_leave_the_outbox(edge_store):
    edge_store.add([message("old", ts=100), message("new", ts=5000)])
    edge_store.expire(1000)
    assert [m.id for _, m in edge_store.outbox()] == ["new"]
    assert edge_store.outbox_stats() == (1, 5000)


def test_known_says_which_ids_are_stored(edge_store):
    edge_store.add([message("a1")])
    edge_store.add_remote([message("x1")])
    assert edge_store.known(["a1", "x1", "nope"]) == {"a1", "x1"}
    assert edge_store.known([f"m{i}" for i in range(2500)]) == set()  # more than one statement's worth


def test_cursors_only_go_up(edge_store):
    assert edge_store.cursors() == {}
    edge_store.advance_cursors({"r": 5, "s": 2})
    edge_store.advance_cursors({"r": 3, "s": 4})
    assert edge_store.cursors() == {"r": 5, "s": 4}


def test_sqlite_outbox_and_cursors_survive_reopen(tmp_path):
    s = SqliteStore(tmp_path / "m.db")
    s.add([message("a1"), message("a2")])
    s.outbox_done(["a1"])
    s.advance_cursors({"r": 9})
    s.close()
    s = SqliteStore(tmp_path / "m.db")
    try:
        assert [m.id for _, m in s.outbox()] == ["a2"] and s.cursors() == {"r": 9}
    finally:
        s.close()


def test_a_message_is_never_stored_without_being_queued(tmp_path):
    s = SqliteStore(tmp_path / "m.db")
    try:  # the outbox write fails: the message must not stay stored
        s._db.execute(
            "CREATE TRIGGER no_b BEFORE INSERT ON outbox WHEN NEW.id = 'b' "
            "BEGIN SELECT RAISE(ABORT, 'no'); END"
        )
        with pytest.raises(StoreError):
            s.add([message("a"), message("b")])
        assert s.outbox() == [] and s.count() == 0
    finally:
        s.close()
