"""Picture intake: untrusted upload bytes in, a clean stored picture out.

Pure core, ``clean``: size cap; type from the content's magic bytes (JPEG,
PNG, WebP only; the file name is never consulted); a pixel cap checked from
the header before decoding (decompression bombs), with Pillow's own
MAX_IMAGE_PIXELS guard turned into an error too; a full decode (truncated
files fail); polyglots (a second file's bytes after the picture, or markup
inside it) refused; then a re-encode from pixels only, which drops EXIF (GPS
location included), XMP, ICC and comments; the SHA-256 of the cleaned bytes
names it; a thumbnail.

Thin shell, ``PictureStore``: writes both files atomically (temp + rename) only
after ``clean`` succeeded, so a refused upload leaves nothing on disk.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from edgechat.labeler.errors import LabelerCode, PictureError

if TYPE_CHECKING:  # Pillow is in the optional `labeler` extra
    from PIL.Image import Image

MIME = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
EXT = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}
# Markup a browser or a server would run, hidden in a comment or metadata.  Long
# enough that compressed pixel data matches by chance about once in 10^4 photos.
_MARKUP = re.compile(rb"<(?:script|iframe|!doctype|html[\s>]|svg[\s>]|\?php)", re.IGNORECASE)
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True, slots=True)
class IntakeLimits:
    max_bytes: int = 10 * 1024 * 1024
    max_pixels: int = 24_000_000  # a 24 MP photo decodes to ~72 MB of RGB: fine on a Pi 4
    thumbnail_px: int = 320  # longest side
    quality: int = 90


@dataclass(frozen=True, slots=True)
class CleanPicture:
    sha256: str  # of ``data``, the cleaned bytes
    format: str  # JPEG, PNG or WEBP
    width: int
    height: int
    data: bytes
    thumbnail: bytes  # JPEG
    thumbnail_size: tuple[int, int] = (0, 0)

    @property
    def mime(self) -> str:
        return MIME[self.format]

    @property
    def ext(self) -> str:
        return EXT[self.format]

    def to_json(self) -> dict[str, object]:
        """The attachment reference a chat message carries (edgechat.core.attachments)."""
        thumb_w, thumb_h = self.thumbnail_size
        return {"kind": "picture", "sha256": self.sha256, "type": self.mime, "bytes": len(self.data),
                "width": self.width, "height": self.height,
                "thumbnail": {"type": "image/jpeg", "width": thumb_w, "height": thumb_h}}  # fmt: skip


def sniff(data: bytes) -> str | None:
    """The format from the first bytes, or None."""
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def _png_end(data: bytes) -> int:
    """Offset just past the IEND chunk (or len(data) if the chunks don't parse)."""
    pos = 8
    while pos + 12 <= len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        pos += 12 + length
        if kind == b"IEND":
            return pos
    return len(data)


def trailing_bytes(fmt: str, data: bytes) -> int:
    """How many bytes follow the picture's own end marker: a polyglot's hiding place."""
    if fmt == "PNG":
        return len(data) - _png_end(data)
    if fmt == "WEBP":
        return len(data) - (8 + int.from_bytes(data[4:8], "little"))
    body = data.rstrip(b"\x00")  # some encoders pad after EOI
    return 0 if body.endswith(b"\xff\xd9") else len(data) - (body.rfind(b"\xff\xd9") + 2)


def _refuse(code: LabelerCode, message: str) -> PictureError:
    return PictureError(code, message)


def clean(data: bytes, limits: IntakeLimits = IntakeLimits()) -> CleanPicture:
    """Validates and cleans an upload; raises PictureError with a stable code."""
    from PIL import Image as PILImage
    from PIL import ImageOps

    if len(data) > limits.max_bytes:
        raise _refuse(LabelerCode.PICTURE_TOO_LARGE, f"the picture is over {limits.max_bytes} bytes")
    fmt = sniff(data)
    if fmt is None:
        raise _refuse(LabelerCode.PICTURE_TYPE, "only JPEG, PNG and WebP pictures are accepted")
    try:
        with warnings.catch_warnings():
            # Pillow warns past MAX_IMAGE_PIXELS and raises past twice that:
            # both are bombs here, whatever our own cap says.
            warnings.simplefilter("error", PILImage.DecompressionBombWarning)
            with PILImage.open(io.BytesIO(data), formats=[fmt]) as im:
                width, height = im.size
                if width * height > limits.max_pixels:
                    raise _refuse(
                        LabelerCode.PICTURE_TOO_MANY_PIXELS,
                        f"{width}x{height} is over {limits.max_pixels} pixels",
                    )
                im.load()  # the full decode: truncated data fails here
                upright = ImageOps.exif_transpose(im)
    except PictureError:
        raise
    except (PILImage.DecompressionBombError, PILImage.DecompressionBombWarning) as exc:
        raise _refuse(LabelerCode.PICTURE_TOO_MANY_PIXELS, "the picture has too many pixels") from exc
    except Exception as exc:  # Pillow raises OSError, SyntaxError, ValueError, struct.error...
        raise _refuse(
            LabelerCode.PICTURE_CORRUPT, "the picture cannot be decoded (truncated or damaged)"
        ) from exc
    # After the decode, so a truncated file is reported as truncated.
    if trailing_bytes(fmt, data) > 0 or _MARKUP.search(data):
        raise _refuse(LabelerCode.PICTURE_POLYGLOT, "the file holds something besides the picture")
    cleaned = _reencode(upright, fmt, limits.quality)
    thumbnail, thumbnail_size = _thumbnail(upright, limits)
    return CleanPicture(
        sha256=hashlib.sha256(cleaned).hexdigest(),
        format=fmt,
        width=upright.width,
        height=upright.height,
        data=cleaned,
        thumbnail=thumbnail,
        thumbnail_size=thumbnail_size,
    )


def _pixels_only(im: Image) -> Image:
    """A new image with the same pixels and no metadata at all."""
    from PIL import Image as PILImage

    alpha = "A" in im.getbands() or "transparency" in im.info  # palette PNGs keep transparency in info
    keep = im.mode if im.mode in ("RGB", "RGBA", "L", "LA") else ("RGBA" if alpha else "RGB")
    src = im.convert(keep)
    return PILImage.frombytes(keep, src.size, src.tobytes())


def _reencode(im: Image, fmt: str, quality: int) -> bytes:
    clean = _pixels_only(im)
    if fmt == "JPEG" and clean.mode not in ("RGB", "L"):
        clean = clean.convert("RGB")
    out = io.BytesIO()
    options = {"JPEG": {"quality": quality}, "PNG": {}, "WEBP": {"quality": quality}}[fmt]
    clean.save(out, fmt, **options)
    return out.getvalue()


def _thumbnail(im: Image, limits: IntakeLimits) -> tuple[bytes, tuple[int, int]]:
    small = _pixels_only(im).convert("RGB")
    small.thumbnail((limits.thumbnail_px, limits.thumbnail_px))
    out = io.BytesIO()
    small.save(out, "JPEG", quality=80)
    return out.getvalue(), small.size


@dataclass(frozen=True, slots=True)
class StoredPicture:
    picture: CleanPicture
    path: Path
    thumbnail_path: Path
    new: bool  # False when the same cleaned bytes were already stored


class PictureStore:
    """Content-addressed files: ``<root>/<sha[:2]>/<sha>.<ext>`` and ``<sha>.thumb.jpg``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    def in_data_dir(cls, data_dir: Path) -> PictureStore:
        return cls(data_dir / "pictures")

    def paths(self, sha256: str, ext: str) -> tuple[Path, Path]:
        if not _SHA256.fullmatch(sha256) or ext not in EXT.values():
            raise ValueError("not a picture reference")
        folder = self.root / sha256[:2]
        return folder / f"{sha256}.{ext}", folder / f"{sha256}.thumb.jpg"

    def find(self, sha256: str) -> Path | None:
        """The stored picture for a reference (validated: no path tricks), or None."""
        for ext in EXT.values():
            path, _ = self.paths(sha256, ext)
            if path.is_file():
                return path
        return None

    def put(self, picture: CleanPicture) -> StoredPicture:
        path, thumb = self.paths(picture.sha256, picture.ext)
        new = not path.exists()
        if new:
            path.parent.mkdir(parents=True, exist_ok=True)
            _write_atomically(thumb, picture.thumbnail)
            try:
                _write_atomically(path, picture.data)  # last: its presence means complete
            except BaseException:
                thumb.unlink(missing_ok=True)
                raise
        return StoredPicture(picture, path, thumb, new)


def _write_atomically(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".incoming-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def accept(data: bytes, store: PictureStore, limits: IntakeLimits = IntakeLimits()) -> StoredPicture:
    """What the web service calls for an upload: validate and clean, then store."""
    return store.put(clean(data, limits))
