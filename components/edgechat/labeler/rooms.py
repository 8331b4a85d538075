"""Pure core of the Labeler service: picture messages in, label and tag-cloud events out.

Event shapes (docs/labeler.md).  The Router names each stored message that
carries pictures on ``edgechat/pictures`` (core/attachments.py, picture_notice):

    {"room": "lobby", "messageId": "...", "pictures": ["<64 hex>", ...]}

The Labeler answers on ``chat/pub/{room}`` with one ``labels`` event per
picture and the room's updated ``tagcloud`` (data, not HTML: clients render it
as text).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from edgechat.core.attachments import PictureLabel, ranked
from edgechat.core.attachments import labels_update as core_labels_update
from edgechat.labeler.labels import Labels, labels_to_json
from edgechat.labeler.pipeline import Labelled, Tally, count, top

# The whole site's cloud.  "_site" can never be a room (rooms start with a
# letter or digit), and clients may read it like any chat/pub topic.
SITE_TOPIC = "chat/pub/_site"


@dataclass(frozen=True, slots=True)
class Clouds:
    """Each room's tally.  Immutable: ``add`` returns a new Clouds."""

    rooms: Mapping[str, Tally] = field(default_factory=lambda: MappingProxyType({}))

    def has(self, room: str, picture: str) -> bool:
        return picture in self.rooms.get(room, Tally()).pictures

    def add(self, room: str, picture: str, labels: Labels) -> Clouds:
        tally = self.rooms.get(room, Tally()) + count([Labelled(picture, labels)])
        return Clouds(MappingProxyType({**self.rooms, room: tally}))

    def site(self) -> Tally:
        """Every room's pictures together (a picture shared in two rooms counts once)."""
        return sum(self.rooms.values(), Tally())


def labels_event(room: str, message_id: str, picture: str, labels: Labels) -> dict[str, Any]:
    return {"type": "labels", "room": room, "messageId": message_id, "picture": picture,
            "labels": labels_to_json(labels)}  # fmt: skip


def tagcloud_event(
    room: str | None, tally: Tally, *, min_confidence: float, max_tags: int = 40, max_pictures: int = 24
) -> dict[str, Any]:
    """The room's cloud as data: label, count, and which pictures with what
    confidence (for click-through, and for a client-side threshold above ours).
    Each tag lists at most ``max_pictures``, the most confident: the event must
    stay one MQTT packet however many pictures a room has (40 x 24 x ~95 bytes)."""

    def pictures(name: str) -> list[dict[str, Any]]:
        occurrences = [(p, c) for p, c in tally.occurrences.get(name, ()) if c >= min_confidence]
        best = sorted(occurrences, key=lambda pc: -pc[1])[:max_pictures]
        return [{"picture": p, "confidence": c} for p, c in best]

    where: dict[str, Any] = {"scope": "room", "room": room} if room is not None else {"scope": "site"}
    return {
        "type": "tagcloud",
        **where,
        "minConfidence": min_confidence,
        "pictures": len(tally.pictures),
        "tags": [
            {"label": name, "count": n, "pictures": pictures(name)}
            for name, n in top(max_tags, tally.counts(min_confidence))
        ],
    }


def labels_update(picture: str, labels: Labels) -> dict[str, Any]:
    """What the Router stores by picture hash (``edgechat/labels``): names and
    confidences only, most confident first (history carries them to clients)."""
    compact = (PictureLabel(label.name, round(label.confidence, 2)) for label in labels)
    return core_labels_update(picture, ranked(compact))
