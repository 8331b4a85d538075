"""The history checker finds each kind of anomaly, and only where it is."""

import random

import pytest

from edgechat.faults.history import by_order_key, check


def test_identical_replicas_are_ok():
    ids = ["m1", "m2", "m3"]
    report = check({"a": {"lobby": ids}, "b": {"lobby": ids}, "cloud": {"lobby": ids}}, {"lobby": ids})
    assert report.ok and report.rooms == {"lobby": 3} and str(report).startswith("ok: 1 rooms, 3")


def test_an_acked_message_missing_on_one_replica_is_lost_there():
    report = check({"a": {"lobby": ["m1", "m2"]}, "b": {"lobby": ["m1"]}}, {"lobby": ["m1", "m2"]})
    assert [(x.replica, x.kind, x.ids) for x in report.anomalies] == [("b", "lost", ("m2",))]
    assert "lobby@b: lost m2" in str(report)


def test_a_room_missing_entirely_loses_everything_acked_in_it():
    report = check({"a": {"lobby": ["m1"]}, "b": {}}, {"lobby": ["m1"]})
    assert [(x.replica, x.kind) for x in report.anomalies] == [("b", "lost")]


def test_an_unacked_message_must_still_be_everywhere_or_nowhere():
    attempted = {"lobby": ["m1", "m2"]}
    everywhere = {"a": {"lobby": ["m1", "m2"]}, "b": {"lobby": ["m1", "m2"]}}
    nowhere = {"a": {"lobby": ["m1"]}, "b": {"lobby": ["m1"]}}
    assert check(everywhere, {"lobby": ["m1"]}, attempted).ok
    assert check(nowhere, {"lobby": ["m1"]}, attempted).ok
    split = check({"a": {"lobby": ["m1", "m2"]}, "b": {"lobby": ["m1"]}}, {"lobby": ["m1"]}, attempted)
    assert [(x.replica, x.kind, x.ids) for x in split.anomalies] == [("b", "incomplete", ("m2",))]


def test_duplicates_and_strangers():
    report = check({"a": {"lobby": ["m1", "m1", "zz"]}}, {"lobby": ["m1"]})
    assert {(x.kind, x.ids) for x in report.anomalies} == {("duplicated", ("m1",)), ("unexpected", ("zz",))}


def test_replicas_that_disagree_on_order_are_reordered():
    report = check(
        {"a": {"lobby": ["m1", "m2", "m3", "m4"]}, "b": {"lobby": ["m1", "m3", "m2", "m4"]}},
        {"lobby": ["m1", "m2", "m3", "m4"]},
    )
    assert [(x.replica, x.kind, x.ids) for x in report.anomalies] == [("b", "reordered", ("m2", "m3"))]


def test_order_is_compared_on_shared_ids_only():
    # b lacks m2 (reported as lost), but what it has is in the same order
    report = check({"a": {"r": ["m1", "m2", "m3"]}, "b": {"r": ["m1", "m3"]}}, {"r": ["m1", "m2", "m3"]})
    assert [x.kind for x in report.anomalies] == ["lost"]


def test_rooms_are_checked_apart():
    histories = {"a": {"r1": ["m1"], "r2": ["m2"]}, "b": {"r1": ["m1"], "r2": []}}
    report = check(histories, {"r1": ["m1"], "r2": ["m2"]})
    assert [(x.room, x.replica, x.kind) for x in report.anomalies] == [("r2", "b", "lost")]


def test_by_order_key_sorts_as_every_replica_must():
    rows = [("c", "0002!site-b!c"), ("a", "0001!site-a!a"), ("b", "0001!site-b!b")]
    assert by_order_key(rows) == ["a", "b", "c"]
    shuffled = rows[:]
    random.Random(3).shuffle(shuffled)
    assert by_order_key(shuffled) == by_order_key(rows)


@pytest.mark.parametrize("seed", range(20))
def test_random_damage_is_always_found(seed):
    rng = random.Random(seed)
    ids = [f"m{i:03d}" for i in range(30)]
    damaged = ids[:]
    kind = rng.choice(["lost", "duplicated", "reordered", "unexpected"])
    i = rng.randrange(len(ids) - 1)
    if kind == "lost":
        del damaged[i]
    elif kind == "duplicated":
        damaged.insert(i + 1, damaged[i])  # beside itself: elsewhere it would also be an order anomaly
    elif kind == "reordered":
        damaged[i], damaged[i + 1] = damaged[i + 1], damaged[i]
    else:
        damaged.insert(i, "stranger")
    report = check({"a": {"r": ids}, "b": {"r": ids}, "c": {"r": damaged}}, {"r": ids})
    assert {x.kind for x in report.anomalies} == {kind} and {x.replica for x in report.anomalies} == {"c"}


def test_no_replicas_is_an_error():
    with pytest.raises(ValueError):
        check({}, {})
