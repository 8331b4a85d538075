"""The small taxonomy that names model classes the way Rekognition would.

Data, not code: ``data/taxonomy.json`` (documented in docs/labeler.md).  Pure:
``Taxonomy.load`` reads the file once; everything else is lookups.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from types import MappingProxyType
from typing import Any


def _expand(ranges: Mapping[str, str]) -> dict[int, str]:
    out: dict[int, str] = {}
    for key, value in ranges.items():
        lo, _, hi = key.partition("-")
        for i in range(int(lo), int(hi or lo) + 1):
            out[i] = value
    return out


def _title(imagenet_label: str) -> str:
    first = imagenet_label.split(",", maxsplit=1)[0].strip()
    # Keep proper nouns' capitals (Egyptian, Komodo); capitalise the rest.
    return " ".join(w[:1].upper() + w[1:] for w in first.split())


@dataclass(frozen=True, slots=True)
class Taxonomy:
    coco: Mapping[int, str]
    imagenet: tuple[str, ...]  # ImageNet index -> the label it counts towards
    parents: Mapping[str, str]

    @classmethod
    def from_json(cls, doc: Mapping[str, Any], imagenet_labels: Sequence[str]) -> Taxonomy:
        names = _expand(doc["imagenet_names"])
        under = _expand(doc["imagenet_parents"])
        imagenet = tuple(names.get(i) or _title(label) for i, label in enumerate(imagenet_labels))
        parents = dict(doc["parents"])
        for i, parent in under.items():
            parents.setdefault(imagenet[i], parent)  # Lion -> Big Cat
        for child in parents:
            _ancestors(parents, child)  # raises on a cycle
        return cls(
            coco=MappingProxyType({int(k): v for k, v in doc["coco"].items()}),
            imagenet=imagenet,
            parents=MappingProxyType(parents),
        )

    @classmethod
    def load(cls, imagenet_labels: Sequence[str]) -> Taxonomy:
        text = resources.files("edgechat.labeler").joinpath("data/taxonomy.json").read_text("utf-8")
        return cls.from_json(json.loads(text), imagenet_labels)

    def ancestors(self, name: str) -> tuple[str, ...]:
        """Nearest first: ``ancestors("Cat") == ("Feline", "Mammal", "Animal")``."""
        return _ancestors(self.parents, name)

    def imagenet_chain(self, index: int) -> tuple[str, ...]:
        """The label an ImageNet class counts towards, then its ancestors."""
        name = self.imagenet[index]
        return (name, *self.ancestors(name))


def _ancestors(parents: Mapping[str, str], name: str) -> tuple[str, ...]:
    chain: list[str] = []
    while name in parents:
        name = parents[name]
        if name in chain or len(chain) > 32:
            raise ValueError(f"taxonomy: cycle through {name!r}")
        chain.append(name)
    return tuple(chain)
