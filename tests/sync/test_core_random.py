"""Sync's cursor logic under a hostile schedule, pure: the cloud's live messages
dropped, answers lost or late, the Router failing or going quiet, the link
dropping.  Safety: a saved cursor never passes a message that is not stored.
Liveness: once the chaos stops, every room ends stored in full and the cursor
at the cloud's last seq.  The same for the outbox: only what the cloud has is
retired, and after the chaos the outbox is empty and the cloud has it all."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import pytest

from edgechat.core.clock import Hlc, order_key
from edgechat.core.protocol import Message
from edgechat.sync.core import InjectMessages, RetireOutbox, SaveCursors, SendUp, SyncConfig, SyncCore

CFG = SyncConfig(backfill_limit=5, backfill_timeout_ms=1_000, inject_timeout_ms=1_000, rooms_every_ms=5_000,
                 max_inject_bytes=400)  # fmt: skip
ROOMS = ("a", "b", "c")


def event(room: str, seq: int) -> dict:
    return {"type": "message", "id": f"m-{room}-{seq:05d}", "room": room, "seq": seq, "text": "x"}


@dataclass
class World:
    rng: random.Random
    core: SyncCore = field(default_factory=lambda: SyncCore(CFG, {}, "t"))
    cloud: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ROOMS, 0))
    stored: dict[str, set[int]] = field(default_factory=lambda: {r: set() for r in ROOMS})
    to_cloud: list[dict] = field(default_factory=list)  # requests sent up, not yet answered
    to_edge: list[dict] = field(default_factory=list)  # what the cloud sent, in flight
    to_router: list[InjectMessages] = field(default_factory=list)
    now: int = 0
    saved: dict[str, int] = field(default_factory=dict)

    def run(self, effects: list) -> None:
        for e in effects:
            if isinstance(e, SendUp):
                self.to_cloud.append(e.body)
            elif isinstance(e, InjectMessages):
                self.to_router.append(e)
            elif isinstance(e, SaveCursors):
                for room, cursor in e.cursors.items():
                    missing = set(range(1, cursor + 1)) - self.stored[room]
                    assert not missing, f"cursor {room}={cursor} passes unstored {sorted(missing)[:5]}"
                    self.saved[room] = max(self.saved.get(room, 0), cursor)

    def say(self, room: str, chaos: bool) -> None:
        self.cloud[room] += 1
        if not chaos or self.rng.random() > 0.3:  # live fan-out is lossy
            self.to_edge.append(event(room, self.cloud[room]))

    def answer(self, request: dict) -> dict | None:
        if request["type"] == "rooms":
            rooms = [{"room": r, "lastSeq": n} for r, n in self.cloud.items() if n]
            return {"type": "roomsState", "requestId": request["requestId"], "rooms": rooms}
        if request["type"] == "backfill":
            room, after = request["room"], request["after"]
            seqs = list(range(after + 1, self.cloud[room] + 1))
            page = seqs[: request["limit"]]
            return {"type": "page", "requestId": request["requestId"], "room": room,
                    "messages": [event(room, s) for s in page], "hasMore": len(seqs) > len(page)}  # fmt: skip
        return None

    def step(self, chaos: bool) -> None:
        """One thing happens.  Calm (``chaos`` off): nothing new is said, nothing lost."""
        rng = self.rng
        roll = rng.random()
        if roll < 0.25 and chaos:
            self.say(rng.choice(ROOMS), chaos)
        elif roll < 0.45 and self.to_edge:  # deliver one (out of order under chaos)
            body = self.to_edge.pop(rng.randrange(len(self.to_edge)) if chaos else 0)
            self.run(self.core.on_cloud(body, self.now) if self.core.connected else [])
        elif roll < 0.6 and self.to_cloud:
            request = self.to_cloud.pop(0)
            reply = self.answer(request)
            if reply is not None and (not chaos or rng.random() > 0.2):  # answers get lost too
                self.to_edge.append(reply)
        elif roll < 0.8 and self.to_router:
            inject = self.to_router.pop(0)
            fate = rng.random() if chaos else 0.0
            if fate < 0.8 or fate >= 0.9:  # stored (its answer may be lost)
                for m in inject.messages:
                    self.stored[m["room"]].add(m["seq"])
            if fate < 0.8:
                self.run(self.core.on_router({"type": "stored", "requestId": inject.request_id}, self.now))
            elif fate < 0.9:
                self.run(
                    self.core.on_router({"type": "storeFailed", "requestId": inject.request_id}, self.now)
                )
        elif roll < 0.83 and chaos:  # the link drops and comes back
            self.core.on_disconnected()
            self.to_cloud.clear()
            self.to_edge.clear()
            self.run(self.core.on_connected(self.now))
        else:
            self.now += rng.choice((50, 200, 700))
            self.run(self.core.tick(self.now))
        self.run(self.core.flush(self.now))


@pytest.mark.parametrize("seed", range(40))
def test_cursors_are_safe_under_chaos_and_complete_after_it(seed: int) -> None:
    world = World(random.Random(seed))
    world.run(world.core.on_connected(0))
    for _ in range(1500):
        world.step(chaos=True)
    said = sum(world.cloud.values())
    for _ in range(20_000):
        if all(world.saved.get(r, 0) == n for r, n in world.cloud.items()) and world.core.caught_up():
            break
        world.step(chaos=False)
    assert said > 100
    for room, last in world.cloud.items():
        assert world.stored[room] >= set(range(1, last + 1)), room
        assert world.saved.get(room, 0) == last, (room, world.saved, world.cloud)


# --- up: the outbox under the same kind of chaos --------------------------------


def outbox_message(n: int) -> Message:
    mid = f"out{n:06d}"
    return Message(id=mid, room="a", text="x" * 50, client_id="c", nick="N", ts=n,
                   order_key=order_key(Hlc(n, 0), "site", mid), site="site", seq=n)  # fmt: skip


@pytest.mark.parametrize("seed", range(40))
def test_the_outbox_retires_only_what_the_cloud_has_and_empties_after_the_chaos(seed: int) -> None:
    rng = random.Random(seed)
    cfg = SyncConfig(
        batch_size=7, max_in_flight=3, ack_timeout_ms=1_000, backoff_min_ms=100, backoff_max_ms=800
    )
    core = SyncCore(cfg, {}, "t")
    outbox: dict[int, str] = {}  # position -> id, as the store keeps it
    cloud: set[str] = set()
    up: list[dict] = []
    down: list[dict] = []
    made, now = 0, 0

    def run(effects: list) -> None:
        for e in effects:
            if isinstance(e, SendUp) and e.body["type"] == "sync":
                up.append(e.body)
            elif isinstance(e, RetireOutbox):
                assert set(e.ids) <= cloud, "retired before the cloud had it"
                for n in [n for n, mid in outbox.items() if mid in e.ids]:
                    del outbox[n]

    def step(chaos: bool) -> None:
        nonlocal made, now
        roll = rng.random()
        if roll < 0.2 and chaos:
            made += 1
            outbox[made] = outbox_message(made).id
        elif roll < 0.45 and up:
            batch = up.pop(rng.randrange(len(up)) if chaos else 0)
            cloud.update(m["id"] for m in batch["messages"])  # idempotent by id
            if not chaos or rng.random() > 0.25:
                accepted = [{"id": m["id"], "cloudSeq": 0, "duplicate": False} for m in batch["messages"]]
                down.append({"type": "synced", "batchId": batch["batchId"], "accepted": accepted})
        elif roll < 0.65 and down:
            run(core.on_cloud(down.pop(rng.randrange(len(down)) if chaos else 0), now))
        elif roll < 0.68 and chaos:
            core.on_disconnected()
            up.clear()
            down.clear()
            core.on_connected(now)
        else:
            now += rng.choice((50, 300, 900))
            core.tick(now)
        wanted = core.outbox_wanted(now)
        if wanted is not None:
            after, limit = wanted
            rows = [(n, outbox_message(n)) for n in sorted(outbox) if n > after][:limit]
            run(core.outbox_read(rows, now))

    core.on_connected(0)
    for _ in range(1500):
        step(chaos=True)
    for _ in range(20_000):
        if not outbox:
            break
        step(chaos=False)
    assert made > 100 and not outbox
    assert cloud == {outbox_message(n).id for n in range(1, made + 1)}
