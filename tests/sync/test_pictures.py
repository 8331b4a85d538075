"""Sync's picture gate, pure: a message goes up only once its pictures are in S3,
a message waiting for one never holds back the rest, failures back off."""

from __future__ import annotations

import hashlib

import pytest

from edgechat.core.attachments import Attachment
from edgechat.core.clock import Hlc, order_key
from edgechat.core.lifecycle import EDIT, Revision
from edgechat.core.protocol import Message
from edgechat.settings import Settings
from edgechat.sync.core import SendUp, SyncConfig, SyncCore
from edgechat.sync.pictures import PictureConfig, PictureGate, pictures_off, status_line
from edgechat.sync.wiring import picture_sync

NONE: frozenset[str] = frozenset()


def sha(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def pic(name: str) -> Attachment:
    return Attachment(sha(name), "image/jpeg", 1000, 40, 30, 40, 30)


def msg(i: int, *pictures: str) -> Message:
    mid = f"msg{i:05d}"
    return Message(id=mid, room="lobby", text="look" if pictures else "hi", client_id="c1", nick="Ann",
                   ts=1000 + i, order_key=order_key(Hlc(1000 + i, 0), "sitea", mid), site="sitea", seq=i,
                   attachments=tuple(pic(p) for p in pictures))  # fmt: skip


def rows(*messages: Message) -> list[tuple[int, Message]]:
    return [(m.seq, m) for m in messages]


def ids(rs: list[tuple[int, Message]]) -> list[str]:
    return [m.id for _, m in rs]


def test_text_goes_at_once_and_a_picture_already_up_or_not_here_does_not_wait() -> None:
    gate = PictureGate()
    got = gate.admit(rows(msg(1), msg(2, "cat"), msg(3, "dog")), frozenset({sha("cat")}), on_core=NONE)
    assert ids(got.ready) == ["msg00001", "msg00002", "msg00003"] and got.passed == 3
    assert gate.due(0) == [] and not gate.held
    status = gate.status()
    assert (status["alreadyUp"], status["missing"], status["waitingMessages"]) == (1, 1, 0)


def test_a_message_waits_for_its_picture_without_holding_back_the_ones_after_it() -> None:
    gate = PictureGate()
    got = gate.admit(rows(msg(1), msg(2, "cat"), msg(3)), NONE, on_core=frozenset({sha("cat")}))
    assert ids(got.ready) == ["msg00001", "msg00003"] and got.passed == 3
    assert gate.due(0) == [sha("cat")]
    assert gate.due(0) == []  # already uploading: not started twice
    assert gate.release() == [] and gate.status()["waitingMessages"] == 1
    gate.uploaded(sha("cat"), "put")
    assert ids(gate.release()) == ["msg00002"]
    assert gate.release() == [] and gate.status()["uploaded"] == 1 and not gate.tries


def test_a_picture_shared_by_two_messages_is_uploaded_once_and_releases_both_in_order() -> None:
    gate = PictureGate()
    on_core = frozenset({sha("cat"), sha("dog")})
    gate.admit(rows(msg(1, "cat", "dog"), msg(2, "cat"), msg(3, "cat", "cat")), NONE, on_core)
    assert sorted(gate.due(0)) == sorted([sha("cat"), sha("dog")])
    gate.uploaded(sha("cat"), "put")
    assert ids(gate.release()) == ["msg00002", "msg00003"]  # msg 1 still waits for the dog
    gate.uploaded(sha("dog"), "put")
    assert ids(gate.release()) == ["msg00001"]


def test_a_failing_upload_is_retried_after_a_growing_backoff_and_the_message_keeps_waiting() -> None:
    gate = PictureGate(PictureConfig(backoff_min_ms=1000, backoff_max_ms=4000))
    gate.admit(rows(msg(1, "cat")), NONE, frozenset({sha("cat")}))
    waits = []
    now = 0
    for _ in range(5):
        (started,) = gate.due(now)
        gate.failed(started, now, "EndpointConnectionError: S3 away")
        nxt = gate.tries[started].next_ms
        assert gate.due(nxt - 1) == []
        waits.append(nxt - now)
        now = nxt
    assert waits == [1000, 2000, 4000, 4000, 4000]
    status = gate.status()
    assert status["failing"] == 1 and status["failures"] == 5 and "S3 away" in status["lastError"]
    assert gate.release() == [] and status["waitingMessages"] == 1  # never sent without its picture
    assert gate.due(now) == [sha("cat")]


def test_at_most_max_held_wait_aside_then_the_outbox_waits_in_order() -> None:
    gate = PictureGate(PictureConfig(max_held=2))
    on_core = frozenset({sha("a"), sha("b"), sha("c")})
    got = gate.admit(rows(msg(1, "a"), msg(2), msg(3, "b"), msg(4), msg(5, "c"), msg(6)), NONE, on_core)
    assert ids(got.ready) == ["msg00002", "msg00004"] and got.passed == 4  # 5 and 6 read again later
    assert len(gate.held) == 2


def test_uploads_at_once_are_limited() -> None:
    gate = PictureGate(PictureConfig(max_uploading=2))
    names = ["a", "b", "c"]
    gate.admit(rows(*(msg(i + 1, n) for i, n in enumerate(names))), NONE, frozenset(sha(n) for n in names))
    first = gate.due(0)
    assert len(first) == 2 and gate.due(0) == []
    gate.uploaded(first[0], "put")
    assert gate.due(0) == [sha("c")]


def test_a_held_message_read_again_is_not_doubled_and_goes_once_the_ledger_has_its_picture() -> None:
    gate = PictureGate()
    on_core = frozenset({sha("cat")})
    gate.admit(rows(msg(1, "cat")), NONE, on_core)
    again = gate.admit(rows(msg(1, "cat")), NONE, on_core)  # a resend from the start
    assert again.ready == [] and again.passed == 1 and len(gate.held) == 1
    later = gate.admit(rows(msg(1, "cat")), frozenset({sha("cat")}), on_core)  # another run put it
    assert ids(later.ready) == ["msg00001"] and not gate.held and gate.release() == []


def test_with_the_core_the_outbox_is_read_past_held_messages_and_from_the_start_after_a_timeout() -> None:
    core = SyncCore(SyncConfig(max_in_flight=1, batch_size=10, ack_timeout_ms=1000), {}, "t")
    gate = PictureGate()
    outbox = rows(msg(1, "cat"), msg(2))
    core.on_connected(0)
    after, _ = core.outbox_wanted(0) or (None, None)
    assert after == 0
    got = gate.admit(outbox, NONE, frozenset({sha("cat")}))
    core.outbox_passed(got.passed)
    (send,) = core.outbox_read(got.ready, 0)
    assert isinstance(send, SendUp) and [m["id"] for m in send.body["messages"]] == ["msg00002"]
    core.on_cloud({"type": "synced", "batchId": send.body["batchId"], "accepted": [{"id": "msg00002"}]}, 10)
    assert core.outbox_wanted(10) == (2, 10)  # the held message is not read again and again
    gate.uploaded(sha("cat"), "put")
    (send,) = core.outbox_read(gate.release(), 20)
    assert [m["id"] for m in send.body["messages"]] == ["msg00001"]
    assert send.body["messages"][0]["attachments"][0]["sha256"] == sha("cat")
    core.tick(2000)  # unanswered: everything unacknowledged goes again from the start
    assert core.outbox_wanted(5000) == (0, 10)


def test_the_status_line_says_what_waits_and_why() -> None:
    gate = PictureGate()
    gate.admit(rows(msg(1, "cat"), msg(2, "cat")), NONE, frozenset({sha("cat")}))
    (started,) = gate.due(0)
    gate.failed(started, 0, "EndpointConnectionError: S3 away")
    line = status_line({**gate.status(), "bucket": "pics"})
    assert (
        "s3://pics: 2 messages waiting for 1 pictures" in line
        and "failing now: EndpointConnectionError" in line
    )
    assert "not synced to S3 (no bucket set)" in status_line(pictures_off("no bucket set"))


def test_an_edit_of_a_message_waiting_for_its_picture_waits_with_it_and_goes_after_it() -> None:
    gate = PictureGate()
    edit = Revision(id="rev00001", target="msg00001", room="lobby", kind=EDIT, text="look, my cat",
                    client_id="c1", ts=1010, order_key=order_key(Hlc(1010, 0), "sitea", "rev00001"),
                    site="sitea")  # fmt: skip
    other = Revision(id="rev00002", target="msg00002", room="lobby", kind=EDIT, text="hello",
                     client_id="c1", ts=1011, order_key=order_key(Hlc(1011, 0), "sitea", "rev00002"),
                     site="sitea")  # fmt: skip
    got = gate.admit([(1, msg(1, "cat")), (2, msg(2)), (3, edit), (4, other)], NONE, frozenset({sha("cat")}))
    assert [r.id for _, r in got.ready] == ["msg00002", "rev00002"] and got.passed == 4
    gate.uploaded(sha("cat"), "put")
    assert [r.id for _, r in gate.release()] == ["msg00001", "rev00001"]


def test_the_pictures_settings_are_checked_and_no_bucket_means_no_picture_sync(tmp_path) -> None:
    for bad in ({"sync_pictures_bucket": "My_Pictures"}, {"sync_s3_endpoint_url": "moto:5000"}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            Settings(**bad)
    assert picture_sync(Settings(data_dir=tmp_path)) is None
    settings = Settings(data_dir=tmp_path, sync_pictures_bucket="edgechat-pictures",
                        sync_s3_endpoint_url="http://127.0.0.1:1", sync_s3_region="eu-west-1")  # fmt: skip
    sync = picture_sync(settings)
    assert sync is not None and sync.status()["bucket"] == "edgechat-pictures"
    assert sync.s3.client.meta.region_name == "eu-west-1"
