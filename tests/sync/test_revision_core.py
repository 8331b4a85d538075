"""Edits and deletes in Sync's decisions (issue 9): up in batches beside
messages, retired only by the cloud's ack; down live and in pages, kept until
the Router has stored them."""

from edgechat.core.clock import Hlc, order_key
from edgechat.core.lifecycle import DELETE, EDIT, Revision
from edgechat.sync.core import InjectMessages, RetireOutbox, SyncConfig
from tests.sync.test_core import CFG, connected, msg, sends


def rev(i: int, target: str, kind: str = EDIT, text: str = "better") -> Revision:
    rid = f"rev{i:05d}"
    return Revision(rid, target, "lobby", kind, text if kind == EDIT else "", "c1", 2000 + i,
                    order_key(Hlc(2000 + i, 0), "sitea", rid), "sitea")  # fmt: skip


def cloud_edit(i: int, target: str) -> dict:
    return {**rev(i, target).to_event(), "site": "cloud"}


def test_revisions_go_up_beside_messages_in_outbox_order_and_count_toward_a_batch():
    core = connected()
    rows = [(1, msg(1)), (2, rev(1, "msg00001")), (3, rev(2, "msg00001", DELETE)), (4, msg(2))]
    first, second = sends(core.outbox_read(rows, 0), "sync")
    assert [m["id"] for m in first["messages"]] == ["msg00001"]
    assert [(r["type"], r["id"], r.get("text")) for r in first["revisions"]] == [
        ("messageEdited", "rev00001", "better"), ("messageRemoved", "rev00002", None),
    ]  # fmt: skip
    assert [m["id"] for m in second["messages"]] == ["msg00002"] and "revisions" not in second
    assert core.in_flight == 4


def test_only_the_cloud_s_ack_retires_a_revision_and_a_refused_one_is_not_resent_forever():
    core = connected()
    (batch,) = sends(core.outbox_read([(1, rev(1, "msg00001")), (2, rev(2, "msg00002"))], 0), "sync")
    ack = {"type": "synced", "batchId": batch["batchId"], "accepted": [],
           "revisions": {"accepted": [{"id": "rev00001", "duplicate": False}],
                         "rejected": [{"id": "rev00002", "error": "revision: room"}]}}  # fmt: skip
    assert core.on_cloud(ack, 5) == [RetireOutbox([], ["rev00001", "rev00002"])]
    # an answer without its revisions retires none of them
    (again,) = sends(core.outbox_read([(3, rev(3, "msg00001"))], 6), "sync")
    assert core.on_cloud({"type": "synced", "batchId": again["batchId"], "accepted": []}, 7) == []


def test_a_live_revision_goes_to_the_router_and_again_if_it_was_not_stored():
    core = connected()
    assert core.on_cloud(cloud_edit(1, "cloud0001"), 10) == [] and core.buffered == 1
    assert not core.caught_up()
    (inject,) = core.flush(10)
    assert isinstance(inject, InjectMessages) and inject.messages == []
    assert [r["id"] for r in inject.revisions] == ["rev00001"]
    assert core.on_router({"type": "storeFailed", "requestId": inject.request_id, "error": "disk"}, 20) == []
    (retry,) = core.flush(21)  # not lost: handed over again
    assert [r["id"] for r in retry.revisions] == ["rev00001"] and retry.request_id != inject.request_id
    core.on_router({"type": "stored", "requestId": retry.request_id}, 22)
    assert core.flush(23) == [] and core.caught_up()


def test_an_unanswered_revision_is_handed_over_again():
    core = connected()
    core.on_cloud(cloud_edit(1, "cloud0001"), 0)
    assert len(core.flush(0)) == 1
    core.tick(CFG.inject_timeout_ms + 1)
    (retry,) = [e for e in core.flush(CFG.inject_timeout_ms + 2) if isinstance(e, InjectMessages)]
    assert [r["id"] for r in retry.revisions] == ["rev00001"]


def test_a_page_carries_each_message_s_revisions_in_the_same_request_as_the_message():
    core = connected(cfg=SyncConfig(max_inject_bytes=600))
    gap = core.on_cloud({"type": "message", "id": "cloud0003", "room": "lobby", "seq": 3, "text": "x"}, 0)
    (ask,) = sends(gap, "backfill")
    page = {
        "type": "page",
        "requestId": ask["requestId"],
        "room": "lobby",
        "hasMore": False,
        "messages": [
            {"type": "message", "id": f"cloud000{s}", "room": "lobby", "seq": s, "text": "t" * 150}
            for s in (1, 2, 3)
        ],
        "revisions": [cloud_edit(1, "cloud0003"), cloud_edit(2, "cloud0001"), cloud_edit(3, "elsewhere")],
    }
    injects = [e for e in core.on_cloud(page, 1) if isinstance(e, InjectMessages)]
    assert len(injects) > 1  # cut to fit a packet...
    for inject in injects:  # ...each message with its own revisions, none for a message not in the page
        ids = {m["id"] for m in inject.messages}
        assert all(r["target"] in ids for r in inject.revisions)
    assert sorted(r["id"] for i in injects for r in i.revisions) == ["rev00001", "rev00002"]
