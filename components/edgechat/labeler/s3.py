"""Pictures made at the edge, to S3 when the core is connected.

Pure core, ``pictures_to_upload``: which pictures the messages going up refer
to, minus those already in S3 (the ledger), minus those this core never had
(refused uploads, or pictures that arrived from elsewhere).  Imperative shell:
``S3Pictures`` (boto3 ``put_object``, idempotent by content hash: a picture's
key is its SHA-256, so a retry or a second core writes the same object) and
``Ledger`` (which hashes are known to be in the bucket, in SQLite).

How Sync uses it (docs/labeler.md, "Pictures to S3"): before it sends a batch
of its outbox, it calls ``pictures_to_upload`` with the batch's attachments,
uploads those pictures with ``S3Pictures.upload`` and records them in the
ledger, then sends the batch.  A message therefore never reaches the cloud
before its pictures; a crash between the two re-uploads (same key, same bytes)
and nothing is lost or doubled.
"""

from __future__ import annotations

import base64
import hashlib
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from edgechat.core.attachments import SHA256_RE, Attachment
from edgechat.labeler.intake import EXT, MIME, PictureStore

PREFIX: Final = "pictures/"
_TYPE_OF_EXT: Final = {ext: MIME[fmt] for fmt, ext in EXT.items()}


# --- pure ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UploadPlan:
    upload: tuple[str, ...]  # picture hashes to put, first referred to first
    missing: tuple[str, ...]  # referred to, but not on this core (nothing to send)


def pictures_to_upload(
    attachments: Iterable[Attachment], uploaded: frozenset[str], on_core: frozenset[str]
) -> UploadPlan:
    """The pictures still to upload for these attachments, each once."""
    upload: list[str] = []
    missing: list[str] = []
    for sha in dict.fromkeys(a.sha256 for a in attachments):
        if sha in uploaded:
            continue
        (upload if sha in on_core else missing).append(sha)
    return UploadPlan(tuple(upload), tuple(missing))


def object_key(sha256: str, ext: str, *, thumbnail: bool = False) -> str:
    """``pictures/<sha>`` and ``pictures/<sha>/thumb``: the Web service's URL
    paths, so a cloud site serving the bucket under ``/pictures/`` shows the
    same thumbnails the app asks for (each object carries its Content-Type)."""
    if not SHA256_RE.fullmatch(sha256) or ext not in _TYPE_OF_EXT:
        raise ValueError("not a picture reference")
    return f"{PREFIX}{sha256}/thumb" if thumbnail else f"{PREFIX}{sha256}"


# --- shell ---------------------------------------------------------------------


class S3Pictures:
    """Puts a stored picture and its thumbnail into ``bucket``.  ``client`` is a
    boto3 S3 client (injected: moto_server in tests, the core's role on a core)."""

    def __init__(self, client: Any, bucket: str, pictures: PictureStore) -> None:
        self.client = client
        self.bucket = bucket
        self.pictures = pictures

    def upload(self, sha256: str) -> bool:
        """Put the picture and its thumbnail; False if this core has no such picture.
        Idempotent: the key is the content hash, and S3 checks the bytes against it."""
        path = self.pictures.find(sha256)
        if path is None:
            return False
        ext = path.suffix.lstrip(".")
        _, thumb = self.pictures.paths(sha256, ext)
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != sha256:
            raise ValueError(f"{path}: the file does not match its name (damaged on disk?)")
        # The thumbnail first: once the picture is there, everything is.
        self._put(object_key(sha256, ext, thumbnail=True), thumb.read_bytes(), "image/jpeg", sha256)
        self._put(object_key(sha256, ext), data, _TYPE_OF_EXT[ext], sha256)
        return True

    def _put(self, key: str, data: bytes, content_type: str, picture: str) -> None:
        self.client.put_object(
            Bucket=self.bucket, Key=key, Body=data, ContentType=content_type,
            CacheControl="public, max-age=31536000, immutable",
            ChecksumSHA256=base64.b64encode(hashlib.sha256(data).digest()).decode(),
            Metadata={"picture-sha256": picture},
        )  # fmt: skip


class Ledger:
    """Which pictures are known to be in S3 (so each is uploaded once)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("CREATE TABLE IF NOT EXISTS uploaded (sha256 TEXT PRIMARY KEY) WITHOUT ROWID")

    @classmethod
    def in_data_dir(cls, data_dir: Path) -> Ledger:
        return cls(data_dir / "pictures" / "s3.db")

    def uploaded(self, shas: Sequence[str]) -> frozenset[str]:
        found: set[str] = set()
        for i in range(0, len(shas), 500):
            chunk = list(shas[i : i + 500])
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(f"SELECT sha256 FROM uploaded WHERE sha256 IN ({marks})", chunk)
            found.update(row[0] for row in rows)
        return frozenset(found)

    def record(self, shas: Iterable[str]) -> None:
        self._db.executemany("INSERT OR IGNORE INTO uploaded (sha256) VALUES (?)", [(s,) for s in shas])

    def close(self) -> None:
        self._db.close()


def upload_pending(attachments: Iterable[Attachment], s3: S3Pictures, ledger: Ledger) -> UploadPlan:
    """What Sync calls before sending a batch: upload what is not up yet, then
    remember it.  Returns the plan it carried out."""
    attached = list(attachments)
    shas = list(dict.fromkeys(a.sha256 for a in attached))
    on_core = frozenset(s for s in shas if s3.pictures.find(s) is not None)
    plan = pictures_to_upload(attached, ledger.uploaded(shas), on_core)
    for sha in plan.upload:
        s3.upload(sha)
        ledger.record([sha])  # one by one: a failure part-way keeps what is done
    return plan
