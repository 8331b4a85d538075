"""The Rekognition provider: boto3 DetectLabels, for the cloud or when configured.

The client is injected (tests use botocore's Stubber; the cloud passes its own
session's client), so this module never reads credentials or the region.
"""

from __future__ import annotations

from typing import Any

from edgechat.labeler.errors import LabelerCode, PictureError, ProviderError
from edgechat.labeler.labels import Labels, labels_from_json, sorted_labels

# Rekognition refuses pictures over 5 MB sent as bytes (S3 objects may be 15 MB).
MAX_BYTES = 5 * 1024 * 1024
_PICTURE_FAULTS = {"InvalidImageFormatException", "ImageTooLargeException", "InvalidParameterException"}


class RekognitionProvider:
    MODEL = "rekognition:detect-labels"

    def __init__(self, client: Any, *, max_labels: int = 25, min_confidence: float = 50.0) -> None:
        self._client = client
        self.max_labels = max_labels
        self.min_confidence = min_confidence
        self.name = f"{self.MODEL}:max{max_labels}:min{min_confidence:g}"

    def detect_labels(self, picture: bytes) -> Labels:
        if len(picture) > MAX_BYTES:
            raise PictureError(LabelerCode.PICTURE_TOO_LARGE, "Rekognition takes at most 5 MB as bytes")
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            response = self._client.detect_labels(
                Image={"Bytes": picture}, MaxLabels=self.max_labels, MinConfidence=self.min_confidence
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in _PICTURE_FAULTS:
                raise PictureError(
                    LabelerCode.PICTURE_CORRUPT, f"Rekognition refused the picture: {code}"
                ) from exc
            raise ProviderError(f"Rekognition DetectLabels failed: {code or exc}") from exc
        except BotoCoreError as exc:
            raise ProviderError(f"Rekognition unreachable: {exc}") from exc
        return sorted_labels(labels_from_json(response.get("Labels", ())))
