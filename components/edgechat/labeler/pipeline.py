"""The tag cloud as one expression of pure, composable steps.

    render_html(count(map(get_labels, images)), params)

``map`` is Python's own: lazy, so nothing is labelled until ``count`` pulls.
Data is immutable: a ``Tally`` is never changed, ``a + b`` makes a new one.
Incremental: ``tally + count(map(get_labels, unseen(tally, images)))`` labels
only the new pictures (and the label cache makes each picture cost one
labelling across restarts too).  ``render_html`` escapes everything: label
names and picture names are user-influenced data.
"""

from __future__ import annotations

import html
import math
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypeVar

from edgechat.labeler.labels import Labels, labels_from_json, labels_to_json

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)

Occurrence = tuple[str, float]  # (picture, confidence 0-100)


@dataclass(frozen=True, slots=True)
class Labelled:
    """One picture's labels.  ``picture`` is its reference (a hash or a name)."""

    picture: str
    labels: Labels

    def to_json(self) -> dict[str, Any]:
        return {"picture": self.picture, "Labels": labels_to_json(self.labels)}

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Labelled:
        return cls(str(obj["picture"]), labels_from_json(obj.get("Labels", ())))


def _frozen(table: Mapping[str, tuple[Occurrence, ...]]) -> Mapping[str, tuple[Occurrence, ...]]:
    return MappingProxyType(dict(table))


@dataclass(frozen=True, slots=True)
class Tally:
    """Which pictures carry which label, with what confidence.  Immutable; ``+`` merges."""

    occurrences: Mapping[str, tuple[Occurrence, ...]] = field(default_factory=lambda: _frozen({}))
    pictures: frozenset[str] = frozenset()

    def __add__(self, other: Tally) -> Tally:
        table: dict[str, tuple[Occurrence, ...]] = dict(self.occurrences)
        for name, occ in other.occurrences.items():
            seen = {p for p, _ in table.get(name, ())}
            table[name] = table.get(name, ()) + tuple(o for o in occ if o[0] not in seen)
        return Tally(_frozen(table), self.pictures | other.pictures)

    def counts(self, min_confidence: float = 0.0) -> Mapping[str, int]:
        """Pictures per label, counting only labels at or above ``min_confidence``."""
        out = {name: sum(1 for _, c in occ if c >= min_confidence) for name, occ in self.occurrences.items()}
        return MappingProxyType({k: v for k, v in out.items() if v})

    def pictures_of(self, name: str, min_confidence: float = 0.0) -> tuple[str, ...]:
        return tuple(p for p, c in self.occurrences.get(name, ()) if c >= min_confidence)

    def to_json(self) -> dict[str, Any]:
        return {
            "labels": {name: [list(o) for o in occ] for name, occ in sorted(self.occurrences.items())},
            "pictures": sorted(self.pictures),
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Tally:
        table = {str(k): tuple((str(p), float(c)) for p, c in v) for k, v in obj.get("labels", {}).items()}
        return cls(_frozen(table), frozenset(str(p) for p in obj.get("pictures", ())))


# --- the steps -----------------------------------------------------------------


def count(labelled: Iterable[Labelled]) -> Tally:
    """The fold: every picture's labels into one Tally (a picture counts once)."""
    table: dict[str, list[Occurrence]] = defaultdict(list)
    pictures: set[str] = set()
    for item in labelled:
        if item.picture in pictures:
            continue
        pictures.add(item.picture)
        for label in item.labels:
            table[label.name].append((item.picture, label.confidence))
    return Tally(_frozen({k: tuple(v) for k, v in table.items()}), frozenset(pictures))


def unseen(tally: Tally, images: Iterable[T], key: Callable[[T], str]) -> Iterator[T]:
    """Lazily, the images the tally doesn't hold yet (by ``key``, their reference)."""
    return (image for image in images if key(image) not in tally.pictures)


def confident(min_confidence: float) -> Callable[[Labelled], Labelled]:
    """A step that drops labels below a confidence (0-100)."""

    def step(item: Labelled) -> Labelled:
        return Labelled(item.picture, tuple(lab for lab in item.labels if lab.confidence >= min_confidence))

    return step


def group_by(key: Callable[[T], K], items: Iterable[T]) -> Mapping[K, tuple[T, ...]]:
    """Items by key, in first-seen order (e.g. pictures by room, for per-room clouds)."""
    groups: dict[K, list[T]] = defaultdict(list)
    for item in items:
        groups[key(item)].append(item)
    return MappingProxyType({k: tuple(v) for k, v in groups.items()})


def top(n: int, counts: Mapping[str, int]) -> tuple[tuple[str, int], ...]:
    """The ``n`` biggest counts, ties by name."""
    return tuple(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[: max(0, n)])


def compose(*steps: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``compose(f, g)(x) == g(f(x))``: steps in reading order."""

    def run(value: Any) -> Any:
        for step in steps:
            value = step(value)
        return value

    return run


# --- rendering ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HtmlParams:
    min_confidence: float = 50.0  # a label below this doesn't count
    max_tags: int = 40
    min_em: float = 0.8
    max_em: float = 2.4

    def __post_init__(self) -> None:
        if not (0 < self.min_em <= self.max_em <= 10):
            raise ValueError("need 0 < min_em <= max_em <= 10")
        if not 0 <= self.min_confidence <= 100:
            raise ValueError("min_confidence is 0..100")
        if not isinstance(self.max_tags, int) or not 0 <= self.max_tags <= 1000:
            raise ValueError("max_tags is 0..1000")

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> HtmlParams:
        known = {
            "minConfidence": "min_confidence",
            "maxTags": "max_tags",
            "minEm": "min_em",
            "maxEm": "max_em",
        }
        return cls(**{attr: obj[k] for k, attr in known.items() if k in obj})

    def to_json(self) -> dict[str, Any]:
        return {"minConfidence": self.min_confidence, "maxTags": self.max_tags,
                "minEm": self.min_em, "maxEm": self.max_em}  # fmt: skip


def font_size(n: int, biggest: int, params: HtmlParams) -> float:
    """Log scale: a label in 100 pictures isn't drawn 100 times bigger than one in 1."""
    if biggest <= 1:
        return params.max_em
    share = math.log(n) / math.log(biggest)
    return round(params.min_em + (params.max_em - params.min_em) * share, 2)


def render_html(tally: Tally, params: HtmlParams = HtmlParams()) -> str:
    """A tag cloud fragment: the ``max_tags`` commonest labels, alphabetically,
    sized by count.  Every piece of data is escaped; sizes are computed numbers."""
    tags = top(params.max_tags, tally.counts(params.min_confidence))
    if not tags:
        return '<ul class="tag-cloud" data-empty="true"></ul>'
    biggest = tags[0][1]
    items = []
    for name, n in sorted(tags, key=lambda kv: kv[0].casefold()):
        pictures = tally.pictures_of(name, params.min_confidence)
        title = f"{n} picture{'s' if n != 1 else ''}: " + ", ".join(pictures[:10])
        items.append(
            f'<li class="tag" style="font-size:{font_size(n, biggest, params)}em"'
            f' data-label="{html.escape(name, quote=True)}" data-count="{n}"'
            f' title="{html.escape(title, quote=True)}">{html.escape(name)}</li>'
        )
    return '<ul class="tag-cloud">' + "".join(items) + "</ul>"


def tag_cloud(get_labels: Callable[[T], Labelled], images: Iterable[T], params: HtmlParams) -> str:
    """The seed's expression, literally."""
    return render_html(count(map(get_labels, images)), params)
