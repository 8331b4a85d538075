"""Picture intake: clean uploads are stored; every abuse gets a clear error and leaves nothing."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from edgechat.labeler.errors import LabelerCode, PictureError
from edgechat.labeler.intake import IntakeLimits, PictureStore, accept, clean, sniff

from .conftest import encode

RGB = np.random.default_rng(7).integers(0, 255, (60, 80, 3), dtype=np.uint8)


def files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_bomb(width: int, height: int, *, real: bool) -> bytes:
    """A grey PNG whose header claims width x height; with ``real``, the zeros are really there."""
    raw = zlib.compress(b"\x00" * ((width + 1) * height), 9) if real else zlib.compress(b"\x00" * 64)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", raw) + png_chunk(b"IEND", b"")


def jpeg_with_gps(orientation: int = 1) -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    exif[0x0112] = orientation
    exif[0x8825] = {1: "N", 2: (52.0, 13.0, 30.0), 3: "E", 4: (4.0, 53.0, 10.0)}  # GPS: Amsterdam
    out = io.BytesIO()
    Image.fromarray(RGB).save(out, "JPEG", exif=exif, comment=b"taken at home")
    return out.getvalue()


@pytest.fixture
def store(tmp_path) -> PictureStore:
    return PictureStore.in_data_dir(tmp_path)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_accepted_formats_are_stored_by_hash_with_a_thumbnail(store, fmt) -> None:
    stored = accept(encode(RGB, fmt), store)
    pic = stored.picture
    assert pic.format == fmt and (pic.width, pic.height) == (80, 60)
    assert stored.path.read_bytes() == pic.data and stored.path.name == f"{pic.sha256}.{pic.ext}"
    assert sniff(pic.data) == fmt
    with Image.open(stored.thumbnail_path) as thumb:
        assert thumb.format == "JPEG" and max(thumb.size) <= 320
    assert store.find(pic.sha256) == stored.path
    again = accept(encode(RGB, fmt), store)
    assert not again.new and len(files_under(store.root)) == 2


def _in_mode(mode: str, fmt: str) -> bytes:
    im = Image.fromarray(RGB)
    if mode == "P+transparency":
        im = im.convert("P")
        im.info["transparency"] = 0
    elif mode == "I;16":
        im = im.convert("L").convert("I;16")
    else:
        im = im.convert(mode)
    if "A" in mode:
        im.putalpha(128)  # see-through, so no encoder drops the channel as unused
    out = io.BytesIO()
    im.save(out, fmt)
    return out.getvalue()


@pytest.mark.parametrize(
    ("mode", "fmt", "cleaned"),
    [("L", "PNG", "L"), ("LA", "PNG", "LA"), ("RGBA", "PNG", "RGBA"), ("P+transparency", "PNG", "RGBA"),
     ("I;16", "PNG", "RGB"), ("CMYK", "JPEG", "RGB"), ("L", "JPEG", "L"), ("RGBA", "WEBP", "RGBA")],
)  # fmt: skip
def test_every_pixel_mode_is_cleaned(mode, fmt, cleaned) -> None:
    pic = clean(_in_mode(mode, fmt))
    with Image.open(io.BytesIO(pic.data)) as after:
        assert after.format == fmt and after.mode == cleaned and after.size == (80, 60)


def test_exif_and_location_are_stripped_and_orientation_applied() -> None:
    original = jpeg_with_gps(orientation=6)  # "rotate 90°": a portrait photo held sideways
    with Image.open(io.BytesIO(original)) as before:
        assert before.getexif().get_ifd(0x8825)  # the GPS block is really there
    pic = clean(original)
    with Image.open(io.BytesIO(pic.data)) as after:
        assert dict(after.getexif()) == {} and "exif" not in after.info and "comment" not in after.info
    assert b"PhoneMaker" not in pic.data and b"taken at home" not in pic.data
    assert (pic.width, pic.height) == (60, 80)
    assert pic.to_json()["type"] == "image/jpeg"


def test_the_type_comes_from_the_content_not_the_name(store) -> None:
    png = encode(RGB, "PNG")
    assert accept(png, store).picture.format == "PNG"  # whatever the upload was called


ABUSE = {
    "oversize": (lambda: encode(RGB, "PNG"), IntakeLimits(max_bytes=1000), LabelerCode.PICTURE_TOO_LARGE),
    "gif": (lambda: encode(RGB, "GIF"), IntakeLimits(), LabelerCode.PICTURE_TYPE),
    "bmp": (lambda: encode(RGB, "BMP"), IntakeLimits(), LabelerCode.PICTURE_TYPE),
    "html named .jpg": (lambda: b"<html><script>alert(1)</script>", IntakeLimits(), LabelerCode.PICTURE_TYPE),
    "svg": (lambda: b'<svg xmlns="http://www.w3.org/2000/svg"/>', IntakeLimits(), LabelerCode.PICTURE_TYPE),
    "empty": (lambda: b"", IntakeLimits(), LabelerCode.PICTURE_TYPE),
    "truncated jpeg": (lambda: encode(RGB, "JPEG")[:600], IntakeLimits(), LabelerCode.PICTURE_CORRUPT),
    "truncated png": (lambda: encode(RGB, "PNG")[:-200], IntakeLimits(), LabelerCode.PICTURE_CORRUPT),
    "truncated webp": (lambda: encode(RGB, "WEBP")[:100], IntakeLimits(), LabelerCode.PICTURE_CORRUPT),
    "magic only": (lambda: b"\xff\xd8\xff\xe0" + b"\x00" * 50, IntakeLimits(), LabelerCode.PICTURE_CORRUPT),
    "bomb over our cap": (
        lambda: png_bomb(6000, 5000, real=True),  # 30 MP of zeros in ~30 KB
        IntakeLimits(),
        LabelerCode.PICTURE_TOO_MANY_PIXELS,
    ),
    "bomb over pillow's guard": (
        lambda: png_bomb(30000, 30000, real=False),
        IntakeLimits(max_pixels=10**10),  # even with our cap off, Pillow's MAX_IMAGE_PIXELS holds
        LabelerCode.PICTURE_TOO_MANY_PIXELS,
    ),
    "jpeg + zip": (lambda: encode(RGB, "JPEG") + _zip(), IntakeLimits(), LabelerCode.PICTURE_POLYGLOT),
    "png + html": (
        lambda: encode(RGB, "PNG") + b"<html><script>alert(1)</script></html>",
        IntakeLimits(),
        LabelerCode.PICTURE_POLYGLOT,
    ),
    "script in a jpeg comment": (
        lambda: encode(RGB, "JPEG", comment=b"<script>alert(1)</script>"),
        IntakeLimits(),
        LabelerCode.PICTURE_POLYGLOT,
    ),
    "webp + trailer": (
        lambda: encode(RGB, "WEBP") + b"PK\x03\x04junk",
        IntakeLimits(),
        LabelerCode.PICTURE_POLYGLOT,
    ),
}


def _zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("payload.html", "<b>hi</b>")
    return out.getvalue()


@pytest.mark.parametrize("case", list(ABUSE))
def test_abuse_gets_a_clear_error_and_leaves_nothing(store, case) -> None:
    make, limits, code = ABUSE[case]
    with pytest.raises(PictureError) as err:
        accept(make(), store, limits)
    assert err.value.code == code
    event = err.value.to_event()
    assert event["code"] == str(code) and event["message"] and not event["retryable"]
    assert files_under(store.root) == []


def test_a_failed_write_leaves_no_partial_file(store, monkeypatch) -> None:
    from edgechat.labeler import intake

    real_fsync, calls = intake.os.fsync, []

    def broken(fd: int) -> None:  # the thumbnail is written, the picture isn't
        calls.append(fd)
        if len(calls) == 2:
            raise OSError("disk full")
        real_fsync(fd)

    monkeypatch.setattr(intake.os, "fsync", broken)
    with pytest.raises(OSError, match="disk full"):
        accept(encode(RGB, "PNG"), store)
    assert files_under(store.root) == []


@pytest.mark.parametrize("ref", ["../../etc/passwd", "A" * 64, "", "ab" * 31])
def test_references_are_validated(store, ref) -> None:
    with pytest.raises(ValueError):
        store.find(ref)
