"""Picture attachments on chat messages, and the labels known for a picture.

An attachment is a reference to a picture the Web service already accepted
(docs/protocol.md, "Attachments"): its content hash names the stored file, the
rest describes it so the app can lay out a thumbnail before it loads.  Parsed
once at the boundary into frozen values; every miss is a ``ClientError`` with
the field's path (``attachments[1].sha256``).

Labels are not part of what a client sends: the Labeler finds them and the
Router stores them by picture hash (``edgechat/labels``); a store fills them in
when it reads history.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Final

from edgechat.core import names
from edgechat.core.errors import ClientError, ErrorCode

SHA256_RE: Final = re.compile(r"[0-9a-f]{64}")
PICTURE_TYPES: Final = frozenset({"image/jpeg", "image/png", "image/webp"})
THUMBNAIL_TYPE: Final = "image/jpeg"
MAX_ATTACHMENTS: Final = 4
MAX_PICTURE_BYTES: Final = 10 * 1024 * 1024
MAX_SIDE: Final = 65_535  # JPEG's own limit; WebP's is 16,383, PNG's larger
MAX_LABELS: Final = 20  # per picture, most confident first
MAX_LABEL_CHARS: Final = 64
LABELS_TOPIC: Final = "edgechat/labels"  # Labeler -> Router, system accounts only
PICTURES_TOPIC: Final = "edgechat/pictures"  # Router -> Labeler, system accounts only


@dataclass(frozen=True, slots=True)
class PictureLabel:
    name: str
    confidence: float  # 0-100, like Rekognition

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "confidence": self.confidence}


@dataclass(frozen=True, slots=True)
class Attachment:
    """One picture.  Its thumbnail (always JPEG) has the same hash as its name:
    ``pictures/{sha256}/thumb``; ``thumb_width``/``thumb_height`` are its size."""

    sha256: str
    type: str
    bytes: int
    width: int
    height: int
    thumb_width: int
    thumb_height: int
    labels: tuple[PictureLabel, ...] = ()

    def to_json(self, *, with_labels: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": "picture", "sha256": self.sha256, "type": self.type, "bytes": self.bytes,
            "width": self.width, "height": self.height,
            "thumbnail": {"type": THUMBNAIL_TYPE, "width": self.thumb_width, "height": self.thumb_height},
        }  # fmt: skip
        if with_labels and self.labels:
            out["labels"] = [label.to_json() for label in self.labels]
        return out


def _invalid(field: str, why: str) -> ClientError:
    return ClientError(ErrorCode.INVALID_FIELD, f"{field}: {why}", field=field)


def _int(obj: Mapping[str, Any], name: str, path: str, lo: int, hi: int) -> int:
    value = obj.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise _invalid(f"{path}.{name}", f"an integer from {lo} to {hi}")
    return value


def sha256_ref(value: object, field: str = "sha256") -> str:
    if not isinstance(value, str) or not SHA256_RE.fullmatch(value):
        raise _invalid(field, "64 lower-case hex digits (a SHA-256)")
    return value


def attachment(value: object, path: str = "attachments[0]") -> Attachment:
    if not isinstance(value, dict):
        raise _invalid(path, "must be an object")
    if value.get("kind") != "picture":
        raise _invalid(f"{path}.kind", 'must be "picture"')
    kind = value.get("type")
    if kind not in PICTURE_TYPES:
        raise _invalid(f"{path}.type", "one of " + ", ".join(sorted(PICTURE_TYPES)))
    thumb = value.get("thumbnail")
    if not isinstance(thumb, dict) or thumb.get("type", THUMBNAIL_TYPE) != THUMBNAIL_TYPE:
        raise _invalid(f"{path}.thumbnail", 'an object {"type": "image/jpeg", "width", "height"}')
    width = _int(value, "width", path, 1, MAX_SIDE)
    height = _int(value, "height", path, 1, MAX_SIDE)
    return Attachment(
        sha256=sha256_ref(value.get("sha256"), f"{path}.sha256"),
        type=kind,
        bytes=_int(value, "bytes", path, 1, MAX_PICTURE_BYTES),
        width=width,
        height=height,
        # A thumbnail is never larger than its picture.
        thumb_width=_int(thumb, "width", f"{path}.thumbnail", 1, width),
        thumb_height=_int(thumb, "height", f"{path}.thumbnail", 1, height),
    )


def attachments(value: object, field: str = "attachments") -> tuple[Attachment, ...]:
    """A message's attachments: a list of at most MAX_ATTACHMENTS distinct pictures."""
    if not isinstance(value, list):
        raise _invalid(field, "must be a list")
    if len(value) > MAX_ATTACHMENTS:
        raise ClientError(ErrorCode.TOO_LARGE, f"{field}: at most {MAX_ATTACHMENTS} pictures", field=field)
    parsed = tuple(attachment(v, f"{field}[{i}]") for i, v in enumerate(value))
    if len({a.sha256 for a in parsed}) != len(parsed):
        raise _invalid(field, "the same picture twice")
    return parsed


# --- labels ------------------------------------------------------------------


def picture_labels(value: object, field: str = "labels") -> tuple[PictureLabel, ...]:
    """Labels as the Labeler sends them: [{"name", "confidence"}], cut to the
    MAX_LABELS most confident."""
    if not isinstance(value, list):
        raise _invalid(field, "must be a list")
    out: list[PictureLabel] = []
    for i, item in enumerate(value):
        name = item.get("name") if isinstance(item, dict) else None
        conf = item.get("confidence") if isinstance(item, dict) else None
        if not isinstance(name, str) or not 0 < len(name) <= MAX_LABEL_CHARS or not name.isprintable():
            raise _invalid(f"{field}[{i}].name", f"1-{MAX_LABEL_CHARS} printable characters")
        if isinstance(conf, bool) or not isinstance(conf, int | float) or not 0 <= conf <= 100:
            raise _invalid(f"{field}[{i}].confidence", "a number from 0 to 100")
        if not math.isfinite(conf):  # pragma: no cover - JSON has no NaN here; belt and braces
            raise _invalid(f"{field}[{i}].confidence", "a number from 0 to 100")
        out.append(PictureLabel(name, round(float(conf), 2)))
    return ranked(out)


def ranked(labels: Iterable[PictureLabel]) -> tuple[PictureLabel, ...]:
    """Most confident first (then by name), at most MAX_LABELS: how every store keeps them."""
    return tuple(sorted(labels, key=lambda label: (-label.confidence, label.name))[:MAX_LABELS])


def _json_object(payload: bytes, what: str) -> dict[str, Any]:
    """A service-to-service payload: a JSON object, or a typed error naming it."""
    try:
        obj = json.loads(payload)
    except (ValueError, RecursionError):
        raise ClientError(ErrorCode.BAD_JSON, f"{what} is not JSON") from None
    if not isinstance(obj, dict):
        raise ClientError(ErrorCode.NOT_AN_OBJECT, f"{what} must be a JSON object")
    return obj


def parse_labels_update(payload: bytes) -> tuple[str, tuple[PictureLabel, ...]]:
    """``{"picture": sha256, "labels": [...]}`` from ``edgechat/labels``."""
    obj = _json_object(payload, "labels update")
    return sha256_ref(obj.get("picture"), "picture"), picture_labels(obj.get("labels"))


def labels_update(picture: str, labels: Iterable[PictureLabel]) -> dict[str, Any]:
    return {"picture": picture, "labels": [label.to_json() for label in labels]}


# --- what the Labeler hears (edgechat/pictures) --------------------------------


@dataclass(frozen=True, slots=True)
class PictureNotice:
    """A stored message's pictures, for the Labeler."""

    room: str
    message_id: str
    pictures: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"room": self.room, "messageId": self.message_id, "pictures": list(self.pictures)}


def picture_notice(event: Mapping[str, Any]) -> PictureNotice | None:
    """Which room events the Labeler must hear about: a stored ``message`` with
    pictures (its room, id and distinct picture hashes).  None for everything
    else, text-only messages included: the Labeler only adds pictures to the
    tag clouds (edits, deletes, presence and its own events change nothing)."""
    if event.get("type") != "message" or not isinstance(attached := event.get("attachments"), list):
        return None
    refs = (a.get("sha256") for a in attached if isinstance(a, dict) and a.get("kind") == "picture")
    found = tuple(dict.fromkeys(r for r in refs if isinstance(r, str) and SHA256_RE.fullmatch(r)))
    room, message_id = event.get("room"), event.get("id")
    if not found or not isinstance(room, str) or not isinstance(message_id, str):
        return None
    return PictureNotice(room, message_id, found)


def parse_picture_notice(payload: bytes) -> PictureNotice:
    """``{"room", "messageId", "pictures": [sha256, ...]}`` from ``edgechat/pictures``."""
    obj = _json_object(payload, "picture notice")
    refs = obj.get("pictures")
    if not isinstance(refs, list) or not 0 < len(refs) <= MAX_ATTACHMENTS:
        raise _invalid("pictures", f"a list of 1 to {MAX_ATTACHMENTS} picture hashes")
    pictures = tuple(dict.fromkeys(sha256_ref(r, f"pictures[{i}]") for i, r in enumerate(refs)))
    message_id = names.message_id(obj.get("messageId"), "messageId")
    return PictureNotice(names.room(obj.get("room")), message_id, pictures)


# --- storage form (the same JSON in SQLite and DynamoDB) ---------------------


def dump_attachments(items: tuple[Attachment, ...]) -> str | None:
    """Stored without labels (those are kept by picture hash); None for none."""
    if not items:
        return None
    return json.dumps([a.to_json(with_labels=False) for a in items], separators=(",", ":"))


def load_attachments(text: str | None) -> tuple[Attachment, ...]:
    return attachments(json.loads(text)) if text else ()


def dump_labels(labels: Iterable[PictureLabel]) -> str:
    return json.dumps([label.to_json() for label in labels], separators=(",", ":"))


def load_labels(text: str) -> tuple[PictureLabel, ...]:
    return picture_labels(json.loads(text))


def with_labels(
    items: tuple[Attachment, ...], known: Mapping[str, tuple[PictureLabel, ...]]
) -> tuple[Attachment, ...]:
    """``items`` with the labels known for each picture (the history join)."""
    return tuple(replace(a, labels=known.get(a.sha256, a.labels)) for a in items)
