"""Who may have a new session: bans by address and live sessions per address
(core/admission.py, pure)."""

from __future__ import annotations

from edgechat.core.admission import (
    AddressBan,
    admit,
    banned_until,
    live_sessions,
    with_ban,
    without_client,
)

NOW = 1_700_000_000_000
HOUR = 3_600_000


def test_a_ban_holds_its_address_until_it_runs_out():
    bans = [AddressBan("10.0.0.7", "bob", NOW + HOUR)]
    assert banned_until(bans, "10.0.0.7", NOW) == NOW + HOUR
    assert banned_until(bans, "10.0.0.8", NOW) is None  # a neighbour is not banned
    assert banned_until(bans, "10.0.0.7", NOW + HOUR) is None  # over


def test_two_bans_on_one_address_and_lifting_one():
    bans = with_ban([], AddressBan("10.0.0.7", "bob", NOW + HOUR), NOW)
    bans = with_ban(bans, AddressBan("10.0.0.7", "eve", NOW + 2 * HOUR), NOW)
    assert banned_until(bans, "10.0.0.7", NOW) == NOW + 2 * HOUR  # the later end wins
    only_bob = without_client(bans, "eve", NOW)
    assert banned_until(only_bob, "10.0.0.7", NOW) == NOW + HOUR  # bob's ban still holds
    assert banned_until(without_client(only_bob, "bob", NOW), "10.0.0.7", NOW) is None


def test_banning_again_replaces_and_run_out_bans_are_dropped():
    bans = [AddressBan("10.0.0.1", "old", NOW - 1), AddressBan("10.0.0.7", "bob", NOW + HOUR)]
    after = with_ban(bans, AddressBan("10.0.0.7", "bob", NOW + 5 * HOUR, "again"), NOW)
    assert after == [AddressBan("10.0.0.7", "bob", NOW + 5 * HOUR, "again")]


def test_bans_from_a_hand_edited_file_are_checked():
    good = AddressBan("10.0.0.7", "bob", NOW, "spam")
    assert AddressBan.from_json(good.to_json()) == good
    bad: list[object] = [None, [], {"address": "x"}, {"address": 1, "clientId": "y", "untilTs": 5}]
    bad += [{"address": "x", "clientId": "y", "untilTs": v} for v in ("soon", True, None)]
    for raw in bad:
        assert AddressBan.from_json(raw) is None


def test_only_live_sessions_count():
    issued = {"a": "10.0.0.7", "b": "10.0.0.7", "c": "10.0.0.7", "d": "10.0.0.9"}
    live = {"a", "b", "d"}  # c expired or was revoked
    assert live_sessions(issued, live, "10.0.0.7") == 2
    assert live_sessions(issued, live, "10.0.0.9") == 1
    assert live_sessions(issued, live, "10.0.0.1") == 0


def _admit(address, *, bans=(), issued=None, live=frozenset(), most=3):
    return admit(address, NOW, bans=bans, issued=issued or {}, live=live, max_sessions=most)


def test_admit_refuses_a_banned_address_with_when_it_ends():
    refused = _admit("10.0.0.7", bans=[AddressBan("10.0.0.7", "bob", NOW + HOUR)])
    assert refused is not None and refused.code == "banned" and refused.until_ms == NOW + HOUR
    assert _admit("10.0.0.8", bans=[AddressBan("10.0.0.7", "bob", NOW + HOUR)]) is None


def test_admit_bounds_live_sessions_per_address():
    issued = {"a": "10.0.0.7", "b": "10.0.0.7", "c": "10.0.0.7"}
    assert _admit("10.0.0.7", issued=issued, live={"a", "b"}) is None  # 2 of 3
    refused = _admit("10.0.0.7", issued=issued, live={"a", "b", "c"})
    assert refused is not None and refused.code == "too_many_sessions" and refused.retry_after_ms
    assert _admit("10.0.0.7", issued=issued, live={"a", "c"}) is None  # b no longer live
    assert _admit("10.0.0.8", issued=issued, live={"a", "b", "c"}, most=1) is None
