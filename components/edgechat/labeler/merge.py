"""Pure: raw model outputs -> Rekognition-shaped labels.

The detector gives boxes for COCO classes; the classifier gives a softmax over
ImageNet classes.  The classifier's probabilities are summed up the taxonomy
(all cat breeds count towards Cat, everything living towards Animal: softmax
classes are exclusive, so a sum is a probability).  The two models are merged
by taking the larger confidence per name; boxes come from the detector.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from edgechat.labeler.labels import BoundingBox, Instance, Label, Labels, sorted_labels
from edgechat.labeler.taxonomy import Taxonomy


@dataclass(frozen=True, slots=True)
class Detection:
    coco_id: int
    score: float  # 0..1
    box: BoundingBox


def _clip(x: float) -> float:
    return min(1.0, max(0.0, x))


def box_from_corners(x1: float, y1: float, x2: float, y2: float) -> BoundingBox:
    """SSD's normalised corners -> Rekognition's left/top/width/height, clipped to the picture."""
    left, top, right, bottom = _clip(x1), _clip(y1), _clip(x2), _clip(y2)
    return BoundingBox(left, top, max(0.0, right - left), max(0.0, bottom - top))


def merge(
    detections: Iterable[Detection],
    probabilities: Sequence[float],
    taxonomy: Taxonomy,
    *,
    min_confidence: float,
    min_detection: float = 0.3,
) -> Labels:
    """Labels with confidence >= ``min_confidence`` (0-100), most confident first."""
    confidence: dict[str, float] = defaultdict(float)
    instances: dict[str, list[Instance]] = defaultdict(list)

    classified: dict[str, float] = defaultdict(float)
    for index, p in enumerate(probabilities):
        if p > 0.0:
            for name in taxonomy.imagenet_chain(index):
                classified[name] += p
    for name, p in classified.items():
        confidence[name] = min(100.0, 100.0 * p)

    for det in detections:
        name = taxonomy.coco.get(det.coco_id)
        if name is None or det.score < min_detection:
            continue
        instances[name].append(Instance(det.box, round(100.0 * det.score, 2)))
        for label in (name, *taxonomy.ancestors(name)):
            confidence[label] = max(confidence[label], 100.0 * det.score)

    return sorted_labels(
        Label(
            name=name,
            confidence=round(c, 2),
            parents=taxonomy.ancestors(name),
            instances=tuple(sorted(instances.get(name, ()), key=lambda i: -i.confidence)),
        )
        for name, c in confidence.items()
        if c >= min_confidence
    )
