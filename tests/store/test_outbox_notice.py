"""The Router's notice to Sync after a commit (core/remote.py ``outbox_notice``):
sent exactly when the commit queued something in the outbox, and counting what
it queued, for both edge stores."""

from __future__ import annotations

from edgechat.core.lifecycle import DELETE
from edgechat.core.remote import outbox_notice
from tests.store.test_lifecycle_contract import revision
from tests.store.test_store_contract import edge_store, message  # noqa: F401  (fixture)


def _grew(store, step) -> tuple[dict | None, int]:
    before = store.outbox_stats()[0]
    notice = step()
    return notice, store.outbox_stats()[0] - before


def test_new_messages_are_announced_and_counted(edge_store):  # noqa: F811
    notice, grew = _grew(edge_store, lambda: outbox_notice(edge_store.add([message("m1"), message("m2")])))
    assert notice == {"type": "outbox", "messages": 2, "revisions": 0} and grew == 2


def test_a_batch_of_resends_says_nothing(edge_store):  # noqa: F811
    edge_store.add([message("m1")])
    notice, grew = _grew(edge_store, lambda: outbox_notice(edge_store.add([message("m1"), message("m1")])))
    assert notice is None and grew == 0
    # one new among resends is announced alone
    notice, grew = _grew(edge_store, lambda: outbox_notice(edge_store.add([message("m1"), message("m3")])))
    assert notice == {"type": "outbox", "messages": 1, "revisions": 0} and grew == 1


def test_edits_and_deletes_made_here_are_announced_once(edge_store):  # noqa: F811
    edge_store.add([message("m1"), message("m2")])
    edge_store.outbox_done(["m1"])  # m1 went up; m2 still waits

    def revise(rev):
        return lambda: outbox_notice(revisions=edge_store.revise([rev]))

    notice, grew = _grew(edge_store, revise(revision("e1", "m1", text="better")))
    assert notice == {"type": "outbox", "messages": 0, "revisions": 1} and grew == 1
    notice, grew = _grew(edge_store, revise(revision("e1", "m1", text="better")))  # a resend
    assert notice is None and grew == 0
    # m2 deleted before it went up: it leaves the outbox, its delete goes in
    notice, grew = _grew(edge_store, revise(revision("d2", "m2", DELETE)))
    assert notice == {"type": "outbox", "messages": 0, "revisions": 1} and grew == 0
    assert [item.id for _, item in edge_store.outbox()] == ["e1", "d2"]
