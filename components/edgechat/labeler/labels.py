"""Labels in Amazon Rekognition's DetectLabels shape, as frozen values.

Both providers (offline models, Rekognition) produce these, so everything
downstream (cache, pipeline, tag cloud, messages) sees one shape.  JSON keys
are Rekognition's (``Name``, ``Confidence`` 0-100, ``Parents``, ``Instances``
with a ``BoundingBox`` in fractions of the picture).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class BoundingBox:
    """Fractions of the picture's width and height, as Rekognition gives them."""

    left: float
    top: float
    width: float
    height: float

    def to_json(self) -> dict[str, float]:
        return {"Left": self.left, "Top": self.top, "Width": self.width, "Height": self.height}

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> BoundingBox:
        return cls(float(obj["Left"]), float(obj["Top"]), float(obj["Width"]), float(obj["Height"]))


@dataclass(frozen=True, slots=True)
class Instance:
    box: BoundingBox
    confidence: float

    def to_json(self) -> dict[str, Any]:
        return {"BoundingBox": self.box.to_json(), "Confidence": self.confidence}

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Instance:
        return cls(BoundingBox.from_json(obj["BoundingBox"]), float(obj["Confidence"]))


@dataclass(frozen=True, slots=True)
class Label:
    name: str
    confidence: float  # 0-100, like Rekognition
    parents: tuple[str, ...] = ()  # nearest first: Cat -> ("Feline", "Mammal", "Animal")
    instances: tuple[Instance, ...] = ()

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("a label needs a name")
        if not 0.0 <= self.confidence <= 100.0:
            raise ValueError(f"confidence {self.confidence} is not in 0..100")

    def to_json(self) -> dict[str, Any]:
        return {
            "Name": self.name,
            "Confidence": round(self.confidence, 2),
            "Parents": [{"Name": p} for p in self.parents],
            "Instances": [i.to_json() for i in self.instances],
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Label:
        return cls(
            name=str(obj["Name"]),
            confidence=float(obj["Confidence"]),
            parents=tuple(str(p["Name"]) for p in obj.get("Parents", ())),
            instances=tuple(Instance.from_json(i) for i in obj.get("Instances", ())),
        )


Labels = tuple[Label, ...]


def labels_to_json(labels: Iterable[Label]) -> list[dict[str, Any]]:
    return [label.to_json() for label in labels]


def labels_from_json(items: Iterable[Mapping[str, Any]]) -> Labels:
    return tuple(Label.from_json(item) for item in items)


def sorted_labels(labels: Iterable[Label]) -> Labels:
    """Most confident first, then by name: a stable order for output and tests."""
    return tuple(sorted(labels, key=lambda lab: (-lab.confidence, lab.name)))
