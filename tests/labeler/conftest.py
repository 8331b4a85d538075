"""Shared fixtures: the offline models load once per test session (~1.5 s)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from skimage import data

from edgechat.labeler.offline import OfflineProvider


def encode(rgb: np.ndarray, fmt: str = "JPEG", **kwargs: object) -> bytes:
    out = io.BytesIO()
    Image.fromarray(rgb).save(out, fmt, **kwargs)
    return out.getvalue()


@pytest.fixture(scope="session")
def offline() -> OfflineProvider:
    return OfflineProvider()


@pytest.fixture(scope="session")
def photos() -> dict[str, bytes]:
    """Real photographs as JPEG bytes, plus a blank picture."""
    pictures = {name: encode(getattr(data, name)()) for name in ("chelsea", "coffee", "astronaut", "rocket")}
    pictures["blank"] = encode(np.full((240, 320, 3), 255, np.uint8))
    return pictures
