"""Sync's decisions without a broker: batching, acks, timeouts, cursors and gaps."""

from edgechat.core.clock import Hlc, order_key
from edgechat.core.protocol import Message
from edgechat.sync.core import (
    InjectMessages,
    RetireOutbox,
    SaveCursors,
    SendUp,
    SyncConfig,
    SyncCore,
    state_event,
)

CFG = SyncConfig(batch_size=3, max_in_flight=2, ack_timeout_ms=1000, backoff_min_ms=100, backoff_max_ms=400)


def msg(i: int, room: str = "lobby", text: str = "hi") -> Message:
    mid = f"msg{i:05d}"
    return Message(id=mid, room=room, text=text, client_id="c1", nick="Ann", ts=1000 + i,
                   order_key=order_key(Hlc(1000 + i, 0), "sitea", mid), site="sitea", seq=i)  # fmt: skip


def live(seq: int, room: str = "lobby") -> dict:
    return {"type": "message", "id": f"cloud{seq:04d}", "room": room, "seq": seq, "text": "x"}


def connected(cursors: dict[str, int] | None = None, cfg: SyncConfig = CFG) -> SyncCore:
    core = SyncCore(cfg, cursors or {}, "t")
    (ask,) = core.on_connected(0)
    assert isinstance(ask, SendUp) and ask.body["type"] == "rooms"
    return core


def sends(effects, kind: str) -> list[dict]:
    return [e.body for e in effects if isinstance(e, SendUp) and e.body["type"] == kind]


# --- up ---------------------------------------------------------------------------


def test_nothing_goes_up_while_disconnected():
    core = SyncCore(CFG, {}, "t")
    assert core.outbox_wanted(0) is None


def test_outbox_goes_up_in_batches_within_the_in_flight_window():
    core = connected()
    assert core.outbox_wanted(0) == (0, 6)
    effects = core.outbox_read([(n, msg(n)) for n in range(1, 7)], 0)
    batches = sends(effects, "sync")
    assert [[m["id"] for m in b["messages"]] for b in batches] == [
        ["msg00001", "msg00002", "msg00003"], ["msg00004", "msg00005", "msg00006"],
    ]  # fmt: skip
    assert all("seq" not in m for b in batches for m in b["messages"])  # our seq means nothing up there
    assert batches[0]["messages"][0]["orderKey"].endswith("!sitea!msg00001")
    assert core.outbox_wanted(0) is None  # window full
    (retire,) = core.on_cloud({"type": "synced", "batchId": batches[0]["batchId"],
                               "accepted": [{"id": m["id"], "cloudSeq": 1, "duplicate": False}
                                            for m in batches[0]["messages"]]}, 10)  # fmt: skip
    assert retire == RetireOutbox(["msg00001", "msg00002", "msg00003"])
    assert core.outbox_wanted(10) == (6, 3)  # past what is in flight


def test_a_batch_never_exceeds_the_payload_budget():
    core = connected(cfg=SyncConfig(batch_size=100, max_batch_bytes=3000))
    big = [(n, msg(n, text="y" * 1000)) for n in range(1, 6)]
    batches = sends(core.outbox_read(big, 0), "sync")
    assert [len(b["messages"]) for b in batches] == [2, 2, 1]


def test_refused_messages_leave_the_outbox_too():
    core = connected()
    (batch,) = sends(core.outbox_read([(1, msg(1)), (2, msg(2))], 0), "sync")
    body = {"type": "synced", "batchId": batch["batchId"], "accepted": [{"id": "msg00001"}],
            "rejected": [{"id": "msg00002", "error": "text: too long"}]}  # fmt: skip
    assert core.on_cloud(body, 5) == [RetireOutbox(["msg00001", "msg00002"])]
    assert core.counters.rejected == 1


def test_an_unanswered_batch_is_resent_from_the_start_after_a_growing_backoff():
    core = connected()
    core.outbox_read([(1, msg(1))], 0)
    assert core.tick(999) == [] and core.outbox_wanted(999) == (1, 3)  # one slot free, past batch 1
    core.tick(1000)  # timed out: backoff 100 ms, and one batch at a time
    assert core.outbox_wanted(1050) is None
    assert core.outbox_wanted(1100) == (0, 3)  # from the start: nothing was acknowledged
    (again,) = sends(core.outbox_read([(1, msg(1))], 1100), "sync")
    core.tick(2100)  # again: backoff 200 ms
    assert core.outbox_wanted(2250) is None and core.outbox_wanted(2300) == (0, 3)
    for t in (3300, 4400, 5500):  # capped at 400 ms
        (again,) = sends(core.outbox_read([(1, msg(1))], t - 1000), "sync")
        core.tick(t)
    assert core.outbox_wanted(5899) is None and core.outbox_wanted(5900) == (0, 3)
    (again,) = sends(core.outbox_read([(1, msg(1))], 5900), "sync")
    core.on_cloud({"type": "synced", "batchId": again["batchId"], "accepted": [{"id": "msg00001"}]}, 6000)
    assert core.outbox_wanted(6000) == (1, 6)  # answers open the window again


def test_an_ack_for_an_old_batch_still_retires_its_messages():
    core = connected()
    assert core.on_cloud({"type": "synced", "batchId": "from-before-a-restart",
                          "accepted": [{"id": "msg00009"}]}, 0) == [RetireOutbox(["msg00009"])]  # fmt: skip


def test_reconnecting_resends_what_was_in_flight():
    core = connected()
    core.outbox_read([(1, msg(1)), (2, msg(2))], 0)
    core.on_disconnected()
    assert core.outbox_wanted(1) is None
    core.on_connected(2)
    assert core.outbox_wanted(2) == (0, 6)


# --- down -------------------------------------------------------------------------


def test_live_messages_in_order_are_injected_and_the_cursor_moves_after_the_router_commits():
    core = connected({"lobby": 4})
    assert core.on_cloud(live(5), 0) == []  # gathered: a burst goes to the Router as one request
    (inject,) = core.flush(0)
    assert isinstance(inject, InjectMessages) and [m["seq"] for m in inject.messages] == [5]
    core.on_cloud(live(6), 0)
    assert core.on_cloud(live(6), 0) == [] and core.on_cloud(live(3), 0) == []  # old news
    (inject6,) = core.flush(0)
    assert [m["seq"] for m in inject6.messages] == [6]
    # the Router answers the second first: the cursor waits for the first
    assert core.on_router({"type": "stored", "requestId": inject6.request_id}, 1) == []
    assert core.on_router({"type": "stored", "requestId": inject.request_id}, 2) == [
        SaveCursors({"lobby": 6})
    ]


def test_a_gap_asks_for_a_backfill_after_what_was_handed_over():
    core = connected({"lobby": 4})
    (backfill,) = sends(core.on_cloud(live(7), 0), "backfill")
    assert (backfill["room"], backfill["after"]) == ("lobby", 4)
    assert core.on_cloud(live(8), 0) == []  # left to the backfill
    page = {"type": "page", "requestId": backfill["requestId"], "room": "lobby",
            "messages": [live(6), live(5), live(7)], "hasMore": False}  # fmt: skip
    inject, again = core.on_cloud(page, 1)
    assert [m["seq"] for m in inject.messages] == [5, 6, 7]  # sorted by cloud seq
    assert again.body["type"] == "backfill" and again.body["after"] == 7  # 8 was seen meanwhile


def test_backfill_pages_on_while_the_cloud_has_more():
    core = connected({"lobby": 0})
    rooms = [{"room": "lobby", "lastSeq": 3}, {"room": "quiet", "lastSeq": 0}]
    state = {"type": "roomsState", "requestId": "rooms-t-1", "rooms": rooms}
    (first,) = sends(core.on_cloud(state, 0), "backfill")
    assert first["after"] == 0
    page = {"type": "page", "requestId": first["requestId"], "room": "lobby", "messages": [live(1), live(2)],
            "hasMore": True}  # fmt: skip
    effects = core.on_cloud(page, 1)
    (nxt,) = sends(effects, "backfill")
    assert nxt["after"] == 2
    last = {
        "type": "page",
        "requestId": nxt["requestId"],
        "room": "lobby",
        "messages": [live(3)],
        "hasMore": False,
    }
    (inject,) = core.on_cloud(last, 2)
    assert not core.caught_up()
    for request_id in [e.request_id for e in effects if isinstance(e, InjectMessages)] + [inject.request_id]:
        out = core.on_router({"type": "stored", "requestId": request_id}, 3)
    assert out == [SaveCursors({"lobby": 3})] and core.caught_up()


def test_a_page_may_skip_seqs_the_cloud_does_not_have():
    core = connected({"lobby": 0})
    (bf,) = sends(core.on_cloud(live(3), 0), "backfill")
    (inject,) = core.on_cloud({"type": "page", "requestId": bf["requestId"], "room": "lobby",
                               "messages": [live(3)], "hasMore": False}, 1)  # fmt: skip
    assert core.on_router({"type": "stored", "requestId": inject.request_id}, 2) == [
        SaveCursors({"lobby": 3})
    ]


def test_a_stale_page_is_ignored():
    core = connected({"lobby": 0})
    core.on_cloud(live(3), 0)
    assert core.on_cloud({"type": "page", "requestId": "f-old-1", "room": "lobby",
                          "messages": [live(1)], "hasMore": False}, 1) == []  # fmt: skip


def test_a_failed_store_rewinds_to_the_cursor_and_backfills():
    core = connected({"lobby": 2})
    core.on_cloud(live(3), 0)
    (a,) = core.flush(0)
    core.on_cloud(live(4), 0)
    (b,) = core.flush(0)
    (bf,) = sends(core.on_router({"type": "storeFailed", "requestId": a.request_id}, 1), "backfill")
    assert bf["after"] == 2
    assert (
        core.on_router({"type": "stored", "requestId": b.request_id}, 2) == []
    )  # given up on: no cursor move
    assert core.rooms["lobby"].cursor == 2


def test_an_unanswered_injection_rewinds_too():
    core = connected({"lobby": 2}, SyncConfig(inject_timeout_ms=500))
    core.on_cloud(live(3), 0)
    assert isinstance(core.tick(0)[0], InjectMessages)  # a tick hands over what was gathered
    (bf,) = sends(core.tick(500), "backfill")
    assert bf["after"] == 2


def test_an_unanswered_backfill_is_asked_again_and_rooms_are_checked_now_and_then():
    core = connected({"lobby": 0}, SyncConfig(backfill_timeout_ms=100, rooms_every_ms=1000))
    core.on_cloud(live(5), 0)
    assert [b["type"] for b in sends(core.tick(100), "backfill")] == ["backfill"]
    assert sends(core.tick(1000), "rooms")


def test_garbage_from_the_cloud_changes_nothing():
    core = connected({"lobby": 1})
    for body in (None, [], {"type": "message"}, {"type": "message", "room": "lobby", "seq": "2"},
                 {"type": "message", "room": "lobby", "seq": True}, {"type": "page"},
                 {"type": "roomsState", "requestId": "x", "rooms": 5}, {"type": "synced"}):  # fmt: skip
        assert core.on_cloud(body, 0) == []
    assert core.on_router({"type": "stored", "requestId": "nope"}, 0) == []
    assert core.rooms["lobby"].high == 1


def test_state_says_synced_only_when_nothing_waits():
    core = connected()
    assert state_event(core, 0, None, 10)["synced"] is True
    waiting = state_event(core, 3, 4, 10)
    assert (waiting["synced"], waiting["backlog"], waiting["lagMs"]) == (False, 3, 6)
    core.on_disconnected()
    assert state_event(core, 0, None, 10)["synced"] is False


def test_a_long_page_is_injected_in_pieces_that_fit_a_packet():
    core = connected({"lobby": 0}, SyncConfig(max_inject_bytes=1000))
    (bf,) = sends(core.on_cloud(live(3), 0), "backfill")
    events = [{**live(i), "text": "z" * 300} for i in range(1, 8)]
    page = {
        "type": "page",
        "requestId": bf["requestId"],
        "room": "lobby",
        "messages": events,
        "hasMore": False,
    }
    injects = core.on_cloud(page, 1)
    assert [[m["seq"] for m in i.messages] for i in injects] == [[1, 2], [3, 4], [5, 6], [7]]
    for i in reversed(injects):
        out = core.on_router({"type": "stored", "requestId": i.request_id}, 2)
    assert out == [SaveCursors({"lobby": 7})]


def test_the_first_answer_after_a_silence_rechecks_every_room():
    core = connected()
    core.outbox_read([(1, msg(1))], 0)
    core.tick(1000)  # no ack: the cloud went quiet
    effects = core.on_cloud({"type": "synced", "batchId": "late", "accepted": [{"id": "msg00001"}]}, 1500)
    assert sends(effects, "rooms") and RetireOutbox(["msg00001"]) in effects
    assert not sends(core.on_cloud({"type": "synced", "batchId": "x", "accepted": []}, 1600), "rooms")


def test_a_burst_of_live_messages_is_one_request_and_a_gap_hands_over_what_came_before():
    core = connected({"lobby": 0, "other": 0})
    for seq in (1, 2, 3):
        core.on_cloud(live(seq), 0)
    core.on_cloud(live(1, "other"), 0)
    assert core.buffered == 4 and not core.caught_up()
    effects = core.on_cloud(live(6), 0)  # a gap in lobby: 1-3 first, then the backfill after 3
    inject, backfill = effects
    assert [m["seq"] for m in inject.messages] == [1, 2, 3] and backfill.body["after"] == 3
    (other,) = core.flush(0)
    assert [m["room"] for m in other.messages] == ["other"] and core.buffered == 0


def test_a_failed_store_during_a_backfill_starts_it_again_from_the_cursor():
    core = connected({"lobby": 2})
    core.on_cloud(live(3), 0)
    (a,) = core.flush(0)
    (bf,) = sends(core.on_cloud(live(6), 0), "backfill")  # gap: fetching after 3
    assert bf["after"] == 3
    (again,) = sends(core.on_router({"type": "storeFailed", "requestId": a.request_id}, 1), "backfill")
    assert again["after"] == 2  # 3 was never stored: fetch it too
    stale = {
        "type": "page",
        "requestId": bf["requestId"],
        "room": "lobby",
        "messages": [live(4)],
        "hasMore": False,
    }
    assert core.on_cloud(stale, 2) == []  # the answer after 3 would skip 3
    page = {"type": "page", "requestId": again["requestId"], "room": "lobby",
            "messages": [live(3), live(4)], "hasMore": False}  # fmt: skip
    (inject, more) = core.on_cloud(page, 3)
    assert [m["seq"] for m in inject.messages] == [3, 4] and more.body["after"] == 4  # 6 was seen
    assert core.on_router({"type": "stored", "requestId": inject.request_id}, 4) == [
        SaveCursors({"lobby": 4})
    ]


def test_a_late_page_still_counts_and_a_slow_cloud_is_asked_ever_more_slowly():
    core = connected({"lobby": 0}, SyncConfig(backfill_timeout_ms=100))
    (first,) = sends(core.on_cloud(live(3), 0), "backfill")
    (second,) = sends(core.tick(100), "backfill")  # unanswered for 100 ms: asked again
    assert second["after"] == 0
    assert sends(core.tick(250), "backfill") == []  # now it waits 200 ms
    (third,) = sends(core.tick(300), "backfill")
    assert third["after"] == 0
    page = {"type": "page", "requestId": first["requestId"], "room": "lobby",
            "messages": [live(1), live(2), live(3)], "hasMore": False}  # fmt: skip
    (inject,) = core.on_cloud(page, 350)  # the first answer, late: it covers everything after 0
    assert [m["seq"] for m in inject.messages] == [1, 2, 3]
    late = {**page, "requestId": third["requestId"]}
    assert core.on_cloud(late, 360) == []  # the same again: nothing new
