"""The history checker: did every replica end with the same list of messages per
room, in the same order, none lost, none doubled?  In the style of Jepsen's
Elle list-append checker, and pure: lists in, a report out.

A *replica* is one copy of the chat (a site's store, DynamoDB); its history of a
room is the list of message ids in that replica's order, i.e. sorted by order key
(``by_order_key``): the ordering invariant is that every replica sorts a room
identically.  ``acked`` is what a sender was told is stored; ``attempted`` is
everything sent (acked or not: an unacknowledged send may or may not have been
stored, like Elle's indeterminate operations).

Per room and replica the report lists:

* ``lost``: acknowledged, but absent from this replica;
* ``incomplete``: not acknowledged, present on another replica, absent here
  (the replicas disagree on whether it exists);
* ``duplicated``: present more than once;
* ``unexpected``: present, but nobody sent it;
* ``reordered``: two ids this replica holds in the opposite order to the
  reference replica (the first one named), as the first such pair.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

Histories = Mapping[str, Mapping[str, Sequence[str]]]  # replica -> room -> ids in order


def by_order_key(rows: Iterable[tuple[str, str]]) -> list[str]:
    """Ids of ``(id, order_key)`` rows in replica order (order key, then id)."""
    return [mid for mid, _ in sorted(rows, key=lambda r: (r[1], r[0]))]


@dataclass(frozen=True, slots=True)
class Anomaly:
    room: str
    replica: str
    kind: str  # lost | incomplete | duplicated | unexpected | reordered
    ids: tuple[str, ...]

    def __str__(self) -> str:
        shown = ", ".join(self.ids[:5]) + (f", … ({len(self.ids)})" if len(self.ids) > 5 else "")
        return f"{self.room}@{self.replica}: {self.kind} {shown}"


@dataclass(frozen=True, slots=True)
class Report:
    anomalies: list[Anomaly] = field(default_factory=list)
    rooms: dict[str, int] = field(default_factory=dict)  # room -> ids on the reference replica

    @property
    def ok(self) -> bool:
        return not self.anomalies

    def of(self, kind: str) -> list[Anomaly]:
        return [a for a in self.anomalies if a.kind == kind]

    def __str__(self) -> str:
        if self.ok:
            total = sum(self.rooms.values())
            return f"ok: {len(self.rooms)} rooms, {total} messages, identical on every replica"
        return "\n".join(str(a) for a in self.anomalies)


def _first_inversion(reference: Sequence[str], other: Sequence[str]) -> tuple[str, str] | None:
    """The first pair of shared ids that ``other`` holds in the opposite order."""
    shared = set(reference) & set(other)
    ref = [i for i in dict.fromkeys(reference) if i in shared]
    oth = [i for i in dict.fromkeys(other) if i in shared]
    for a, b in zip(ref, oth, strict=True):
        if a != b:
            return (a, b)  # the reference has a where other has b: b precedes a there
    return None


def check(
    histories: Histories,
    acked: Mapping[str, Iterable[str]],
    attempted: Mapping[str, Iterable[str]] | None = None,
) -> Report:
    """``acked`` and ``attempted``: room -> ids (``attempted`` defaults to ``acked``;
    acked ids count as attempted).  The first replica is the order's reference."""
    if not histories:
        raise ValueError("no replicas to check")
    replicas = list(histories)
    acked_sets = {room: set(ids) for room, ids in acked.items()}
    sent = {room: set(ids) for room, ids in (attempted or {}).items()}
    for room, ids in acked_sets.items():
        sent.setdefault(room, set()).update(ids)
    rooms = sorted(set(acked_sets) | set(sent) | {r for h in histories.values() for r in h})
    anomalies: list[Anomaly] = []
    counts: dict[str, int] = {}
    for room in rooms:
        lists = {rep: list(histories[rep].get(room, ())) for rep in replicas}
        anywhere = set().union(*(set(ids) for ids in lists.values()))
        must = acked_sets.get(room, set())
        counts[room] = len(lists[replicas[0]])
        for rep, ids in lists.items():
            held = set(ids)
            found = {
                "lost": sorted(must - held),
                "incomplete": sorted((anywhere & sent.get(room, set())) - held - must),
                "duplicated": sorted(i for i, n in Counter(ids).items() if n > 1),
                "unexpected": sorted(held - sent.get(room, set())),
            }
            if rep != replicas[0] and (pair := _first_inversion(lists[replicas[0]], ids)) is not None:
                found["reordered"] = list(pair)
            anomalies += [Anomaly(room, rep, kind, tuple(ids)) for kind, ids in found.items() if ids]
    return Report(anomalies, counts)
