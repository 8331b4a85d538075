"""The sync guarantee, end to end: two edge sites and the local cloud; site A is
cut off (the fault harness's proxy) while people on A, on B and in the cloud
keep chatting in the same rooms; then the link heals, and processes are killed
-9 during the drain.  Within a bounded time every replica (A's SQLite, B's
SQLite, DynamoDB) holds the identical id list per room in identical order:
the history checker finds nothing lost, doubled, reordered or unexpected."""

import random
import signal
import time
from collections.abc import Iterator

import pytest

from edgechat.faults import kill9, wait_gone
from tests.sync.sites import Sites, two_sites

pytestmark = pytest.mark.integration

CONVERGE_S = 60


@pytest.fixture(scope="module")
def shared(tmp_path_factory, moto_url) -> Iterator[Sites]:
    """One cloud and two sites for the module (starting them is most of the time)."""
    with two_sites(tmp_path_factory.mktemp("sync"), moto_url, ()) as sites:
        yield sites


@pytest.fixture
def sites(shared: Sites) -> Iterator[Sites]:
    """The shared sites, healed, with this test's own people (and rooms: set them)."""
    shared.proxy.delay(0)
    shared.proxy.restore()
    yield shared
    for c in shared.chatters:
        c.close()
    shared.chatters.clear()


def chat(chatters, rooms, each: int) -> None:
    for _ in range(each):
        for c in chatters:
            for room in rooms:
                c.say(room)


@pytest.mark.parametrize("partition", ["cut", "blackhole"])  # links reset, or silent and held
def test_a_partitioned_site_converges_with_nothing_lost_or_doubled(sites, partition):
    rooms = sites.rooms = (f"lobby-{partition}", f"kitchen-{partition}")
    ann, bob, cat = sites.people()
    everyone = (ann, bob, cat)

    chat(everyone, rooms, 2)  # linked
    for c in everyone:
        c.wait_acked()
    linked = {c.name: list(c.attempted.items()) for c in everyone}  # (id, room), in the order said

    getattr(sites.proxy, partition)()
    during = {c.name: [c.say(r) for _ in range(4) for r in rooms] for c in everyone}
    # edits and deletes made on A while it is cut off go up through its outbox
    (a_edited, room_1), (a_deleted, room_2) = linked["ann"][:2]
    ann.revise(room_1, a_edited, "ann changed her mind")
    ann.revise(room_2, a_deleted)
    for c in everyone:
        c.wait_acked()  # A's people are answered by A alone: a site chats on its own
    time.sleep(1.0)
    on_a = {mid for room in rooms for mid, _ in sites.a.ordered(room)}
    assert on_a.isdisjoint(during["bob"] + during["cat"]), "site A was not cut off"

    sites.proxy.restore()
    chat(everyone, rooms, 1)  # and the chat goes on while it heals
    for c in everyone:
        c.wait_acked()
    report, took = sites.converged(CONVERGE_S)
    assert report.ok, f"not converged after {took:.0f} s:\n{report}"
    acked, _ = sites.sent()
    assert all(len(acked[r]) == 3 * 7 for r in rooms)  # every send acked, and counted in the check
    assert report.rooms == {r: 21 for r in rooms}
    # and once linked, a site's edit and a cloud browser's delete reach every replica live
    sites.wait_connected(sites.a)
    (b_edited, room_3), (c_deleted, room_4) = linked["bob"][0], linked["cat"][0]
    bob.revise(room_3, b_edited, "bob changed his mind")
    cat.revise(room_4, c_deleted)
    for c in everyone:
        c.wait_acked()
    texts = sites.same_texts(CONVERGE_S)
    assert texts["site-a"] == texts["site-b"] == texts["cloud"], "merged texts differ"
    merged = texts["cloud"]
    assert (merged[a_edited], merged[b_edited]) == ("ann changed her mind", "bob changed his mind")
    assert merged[a_deleted] is None and merged[c_deleted] is None


def test_kill_9_during_the_drain_loses_and_doubles_nothing(sites):
    rng = random.Random(6)
    rooms = sites.rooms = ("lobby-kill", "garden-kill")
    ann, bob, cat = sites.people()
    sites.proxy.cut()
    chat((ann,), rooms, 12)  # a backlog at A: 24 messages
    chat((bob, cat), rooms, 3)
    for c in (ann, bob, cat):
        c.wait_acked()

    sites.proxy.delay(0.3)  # a slow link: the drain takes a few round trips
    sites.proxy.restore()
    deadline = time.monotonic() + 30
    while sites.proxy.connections == 0:  # A's Sync is back on the link: the drain begins
        assert time.monotonic() < deadline, "site A did not reconnect"
        time.sleep(0.05)
    kills = [
        ("A's Sync", lambda: kill9(sites.sync_status(sites.a).get("pid", 0) or 0)),
        ("the cloud's broker", lambda: kill9(sites.cloud.broker_pid)),
        ("A's Router and store", lambda: restart_a(sites)),
        ("B's Sync", lambda: kill9(sites.sync_status(sites.b).get("pid", 0) or 0)),
    ]
    backlogs = []
    for what, kill in kills:
        time.sleep(rng.uniform(0.1, 0.8))
        backlogs.append(sites.outbox(sites.a))
        kill()
        chat((ann, bob, cat), rooms[:1], 1)  # people keep talking through the crashes
        print(f"killed {what} with {backlogs[-1]} of A's messages not yet acknowledged by the cloud")
    assert all(backlogs), f"a kill came after the drain: A's outbox at each kill was {backlogs}"
    for c in (ann, bob, cat):
        c.wait_acked(60)
    report, took = sites.converged(CONVERGE_S)
    assert report.ok, f"not converged after {took:.0f} s:\n{report}"
    assert report.rooms == {rooms[0]: 12 + 6 + 12, rooms[1]: 12 + 6}


def restart_a(sites) -> None:
    sites.a.stop(signal.SIGKILL)  # the Router, its store and, with them, its broker and Sync
    assert sites.a.process is None or wait_gone(sites.a.process.pid)
    sites.a = sites.a.restart()
