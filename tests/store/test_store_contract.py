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
