"""SyncFunction and edits/deletes made at sites (issue 9), on DynamoDB (moto)."""

import json

from edgechat.core.clock import Hlc, order_key
from tests.cloud.test_other_handlers import site_message
from tests.cloud.test_sync_handler import _up


def site_revision(
    rid: str, target: str, wall: int, text: str | None = "edited", site: str = "site-a"
) -> dict:
    event = {"type": "messageEdited" if text is not None else "messageRemoved", "id": rid, "target": target,
             "room": "lobby", "ts": wall, "orderKey": order_key(Hlc(wall, 0), site, rid), "site": site,
             "clientId": "ann"}  # fmt: skip
    if text is not None:
        event["text"] = text
    return event


def announced(cloud, kind: str) -> list[str]:
    return [e["id"] for e in cloud.on("chat/pub/lobby") if e["type"] == kind]


def test_edits_and_deletes_are_stored_once_merged_announced_and_acked(cloud):
    secret = "the words that must go"
    m1, m2 = {**site_message("m0000001", 100), "text": secret}, site_message("m0000002", 101)
    batch = {"type": "sync", "batchId": "b1", "messages": [m1, m2],
             "revisions": [site_revision("e0000002", "m0000002", 300, "newest"),
                           site_revision("e0000001", "m0000002", 200, "older"),  # later, older: loses
                           site_revision("d0000001", "m0000001", 150, None)]}  # fmt: skip
    (ack,) = _up(cloud, batch)
    ids = ["e0000002", "e0000001", "d0000001"]
    assert ack["revisions"] == {"accepted": [{"id": i, "duplicate": False} for i in ids], "rejected": []}
    store = cloud.deps.store
    assert store.get("m0000002").text == "newest"
    gone = store.get("m0000001")
    assert gone.deleted and gone.text == ""
    assert secret not in str(cloud.db.scan(TableName=cloud.table)["Items"])  # nowhere in DynamoDB
    assert announced(cloud, "messageEdited") == ["e0000002", "e0000001"]
    assert announced(cloud, "messageRemoved") == ["d0000001"]
    (again,) = _up(cloud, batch)  # a resend: acked as duplicates, nothing changes, announced again
    assert [a["duplicate"] for a in again["revisions"]["accepted"]] == [True, True, True]
    assert store.get("m0000002").text == "newest"


def test_a_revision_that_comes_before_its_message_is_merged_when_the_message_comes(cloud):
    early = site_revision("e0000001", "m0000001", 300, "later words")
    (ack,) = _up(cloud, {"type": "sync", "batchId": "b1", "messages": [], "revisions": [early]})
    assert ack["revisions"]["accepted"] == [{"id": "e0000001", "duplicate": False}]
    assert cloud.deps.store.get("m0000001") is None
    _up(cloud, {"type": "sync", "batchId": "b2", "messages": [site_message("m0000001", 100)]})
    assert cloud.deps.store.get("m0000001").text == "later words"
    # a backfill page carries the message with its revisions
    (page,) = _up(cloud, {"type": "backfill", "requestId": "r1", "room": "lobby", "after": 0})
    assert [m["text"] for m in page["messages"]] == ["later words"]
    assert [r["id"] for r in page["revisions"]] == ["e0000001"]


def test_a_bad_revision_is_rejected_by_its_id_and_the_rest_of_the_batch_taken(cloud):
    bad = {**site_revision("e0000002", "m0000001", 201), "orderKey": "nonsense"}
    batch = {"type": "sync", "batchId": "b1", "messages": [site_message("m0000001", 100)],
             "revisions": [site_revision("e0000001", "m0000001", 200), bad]}  # fmt: skip
    (ack,) = _up(cloud, batch)
    assert [a["id"] for a in ack["accepted"]] == ["m0000001"]
    assert [a["id"] for a in ack["revisions"]["accepted"]] == ["e0000001"]
    assert [r["id"] for r in ack["revisions"]["rejected"]] == ["e0000002"]
    # more than a batch in all, or a revision without a readable id: dropped whole, unanswered
    many = {"type": "sync", "batchId": "b2", "messages": [site_message("m0000003", 1)] * 60,
            "revisions": [site_revision("e0000003", "m0000001", 1)] * 41}  # fmt: skip
    assert _up(cloud, many) == []
    assert _up(cloud, {"type": "sync", "batchId": "b3", "messages": [], "revisions": [{"id": 7}]}) == []


def test_revisions_are_numbered_per_room_once_per_id_and_paged_by_that_number(cloud):
    """A site that missed a revision's announcement finds it by revSeq (gap or rooms check)."""
    _up(cloud, {"type": "sync", "batchId": "b1", "messages": [site_message("m0000001", 100)]})
    revs = [site_revision(f"e000000{i}", "m0000001", 200 + i, f"edit {i}") for i in range(1, 4)]
    _up(cloud, {"type": "sync", "batchId": "b2", "messages": [], "revisions": revs[:2]})
    early = site_revision("e0000009", "m0000009", 300, "before its message")  # numbered too
    _up(cloud, {"type": "sync", "batchId": "b3", "messages": [], "revisions": [revs[1], revs[2], early]})
    edits = [e for e in cloud.on("chat/pub/lobby") if e["type"] == "messageEdited"]
    numbered = [(e["id"], e.get("revSeq")) for e in edits]
    # each announcement carries its number; the resent e0000002 keeps its own
    assert numbered == [("e0000001", 1), ("e0000002", 2), ("e0000002", 2), ("e0000003", 3), ("e0000009", 4)]
    (state,) = _up(cloud, {"type": "rooms", "requestId": "q1"})
    assert state["rooms"] == [{"room": "lobby", "lastSeq": 1, "lastRevSeq": 4}]
    (p1,) = _up(cloud, {"type": "revisions", "requestId": "r1", "room": "lobby", "after": 1, "limit": 2})
    assert p1["type"] == "revisionPage" and p1["hasMore"] is True
    assert [(r["id"], r["revSeq"], r["text"]) for r in p1["revisions"]] == [
        ("e0000002", 2, "edit 2"),
        ("e0000003", 3, "edit 3"),
    ]
    (p2,) = _up(cloud, {"type": "revisions", "requestId": "r2", "room": "lobby", "after": 3, "limit": 2})
    assert [r["id"] for r in p2["revisions"]] == ["e0000009"] and p2["hasMore"] is False
    (p3,) = _up(cloud, {"type": "revisions", "requestId": "r3", "room": "lobby", "after": 4})
    assert p3["revisions"] == [] and p3["hasMore"] is False
    # a delete is numbered and erases the words of the edits a page returns
    _up(cloud, {"type": "sync", "batchId": "b4", "messages": [],
                "revisions": [site_revision("d0000001", "m0000001", 400, None)]})  # fmt: skip
    (p4,) = _up(cloud, {"type": "revisions", "requestId": "r4", "room": "lobby", "after": 0})
    assert [(r["id"], r["revSeq"]) for r in p4["revisions"]][-1] == ("d0000001", 5)
    assert all(r.get("text", "") == "" for r in p4["revisions"] if r["target"] == "m0000001")
    assert _up(cloud, {"type": "revisions", "requestId": "r5", "room": "lobby", "after": -1}) == []


def test_a_revision_page_is_cut_to_fit_an_iot_core_payload(cloud):
    _up(cloud, {"type": "sync", "batchId": "b1", "messages": [site_message("m0000001", 100)]})
    words = "w" * 3900  # 40 of them are more than 128 KB
    revs = [site_revision(f"e{i:07d}", "m0000001", 200 + i, words) for i in range(40)]
    _up(cloud, {"type": "sync", "batchId": "b2", "messages": [], "revisions": revs})
    (page,) = _up(cloud, {"type": "revisions", "requestId": "r1", "room": "lobby", "after": 0, "limit": 500})
    assert len(json.dumps(page)) <= 128 * 1024 and page["hasMore"] is True
    got = [r["revSeq"] for r in page["revisions"]]
    assert got == list(range(1, len(got) + 1)) and 20 < len(got) < 40
