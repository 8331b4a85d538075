"""Edits and deletes made elsewhere: strict validation (core/remote.py) and the
merge of those that came before their message (core/lifecycle.py)."""

import itertools
import json

import pytest

from edgechat.core.clock import Hlc, order_key
from edgechat.core.lifecycle import DELETE, EDIT, Revision, early_winners, supersedes
from edgechat.core.remote import BadRemoteMessage, parse_inject, parse_revision


def rev(rid: str, target: str, kind: str = EDIT, wall: int = 2000, site: str = "site-b") -> Revision:
    return Revision(rid, target, "lobby", kind, f"text of {rid}" if kind == EDIT else "", "bob", wall,
                    order_key(Hlc(wall, 0), site, rid), site)  # fmt: skip


def test_a_revision_event_round_trips_and_an_edit_of_a_deleted_message_may_be_empty():
    for r in (rev("e0000001", "m0000001"), rev("d0000001", "m0000001", DELETE)):
        assert parse_revision(json.loads(json.dumps(r.to_event())), 100) == r
    blank = {**rev("e0000002", "m0000001").to_event(), "text": ""}
    assert parse_revision(blank, 100).text == ""


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"type": "message"}, "type"),
        ({"orderKey": "0000000000000001!site-b!other001"}, "orderKey"),
        ({"site": "Bad Site"}, "site"),
        ({"target": "x"}, "target"),
        ({"room": ""}, "room"),
        ({"clientId": "no spaces allowed"}, "clientId"),
        ({"ts": True}, "ts"),
        ({"text": "x" * 101}, "text"),
        ({"text": 7}, "text"),
    ],
)
def test_a_bad_revision_is_refused_with_the_reason(change, field):
    with pytest.raises(BadRemoteMessage, match=field):
        parse_revision({**rev("e0000001", "m0000001").to_event(), **change}, 100)


def test_an_inject_carries_revisions_and_names_the_bad_ones():
    good = rev("e0000001", "m0000001", wall=9000).to_event()
    body = {"type": "inject", "requestId": "r1", "messages": [], "revisions": [good, {"id": "bad00001"}]}
    inject = parse_inject(json.dumps(body).encode(), 100)
    assert [r.id for r in inject.revisions] == ["e0000001"]
    assert [r["id"] for r in inject.rejected] == ["bad00001"]
    assert inject.latest == Hlc(9000, 0)  # the site's clock observes revisions too
    with pytest.raises(BadRemoteMessage, match="revisions"):
        parse_inject(json.dumps({**body, "revisions": {}}).encode(), 100)


def one_by_one(revisions: list[Revision]) -> tuple[str | None, bool]:
    """What applying them in this order with ``supersedes`` leaves: (edit key, deleted)."""
    edited, deleted = None, False
    for r in revisions:
        if supersedes(r.kind, r.order_key, edited, deleted):
            if r.kind == DELETE:
                deleted = True
            else:
                edited = r.order_key
    return edited, deleted


def test_early_revisions_end_as_if_applied_one_by_one_in_any_order():
    revs = [rev("e0000001", "m1", wall=3000), rev("e0000002", "m1", wall=5000, site="site-a"),
            rev("e0000003", "m1", wall=4000), rev("d0000001", "m2", DELETE, 1000),
            rev("e0000004", "m2", wall=9000)]  # fmt: skip
    winners = early_winners(revs)
    assert winners["m1"].id == "e0000002" and winners["m2"].id == "d0000001"
    for order in itertools.permutations(revs):
        for target in ("m1", "m2"):
            edited, deleted = one_by_one([r for r in order if r.target == target])
            assert deleted == (winners[target].kind == DELETE)
            assert deleted or edited == winners[target].order_key
