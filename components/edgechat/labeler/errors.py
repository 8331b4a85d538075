"""The Labeler's errors, in the chat core's family (a stable code, a message).

Picture errors are the uploader's fault (``ClientError``: the web service turns
them into a 4xx with ``to_event()``); model errors are ours (``ServerError``).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, cast

from edgechat.core.errors import ClientError, ErrorCode, ServerError


class LabelerCode(StrEnum):
    PICTURE_TOO_LARGE = "picture_too_large"
    PICTURE_TYPE = "picture_type"  # not JPEG, PNG or WebP by its content
    PICTURE_CORRUPT = "picture_corrupt"  # truncated or undecodable
    PICTURE_TOO_MANY_PIXELS = "picture_too_many_pixels"  # decompression bomb
    PICTURE_POLYGLOT = "picture_polyglot"  # another file hidden in or after the picture
    MODEL_MISSING = "model_missing"
    MODEL_TAMPERED = "model_tampered"
    PROVIDER_FAILED = "provider_failed"


class PictureError(ClientError):
    """The picture is refused; sending the same bytes again gives the same error."""

    def __init__(self, code: LabelerCode, message: str) -> None:
        # The core's ErrorCode is closed; LabelerCode is a StrEnum too, so
        # to_event() renders it the same way.
        super().__init__(cast(ErrorCode, code), message, field="picture")


class ModelError(ServerError):
    """A model file is missing or is not the file we verified: fix the install."""

    retryable = False

    def __init__(self, code: LabelerCode, message: str, **extra: Any) -> None:
        super().__init__(cast(ErrorCode, code), message)
        self.extra = extra


class ProviderError(ServerError):
    """The label provider failed (Rekognition down, throttled...); retry later."""

    def __init__(self, message: str) -> None:
        super().__init__(cast(ErrorCode, LabelerCode.PROVIDER_FAILED), message)
