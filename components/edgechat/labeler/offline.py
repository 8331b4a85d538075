"""The offline provider: SSD-MobileNetV2 (COCO boxes) + EfficientNet-Lite3 (ImageNet).

The imperative shell around ``merge``: decode, run two models, hand their raw
outputs to the pure merge.  Models load once per provider (about 1.5 s) and
are verified by hash first.  Not thread-safe: one provider per worker.
"""

from __future__ import annotations

from pathlib import Path

from edgechat.labeler.errors import LabelerCode, PictureError
from edgechat.labeler.labels import Labels
from edgechat.labeler.merge import Detection, box_from_corners, merge
from edgechat.labeler.models import ModelFiles, package_dir, verified
from edgechat.labeler.taxonomy import Taxonomy

DETECTOR_SIZE = 300  # SSD-MobileNetV2's input
CLASSIFIER_SIZE = 280  # EfficientNet-Lite3's input


class OfflineProvider:
    MODEL = "offline:ssd-mobilenet-v2+efficientnet-lite3:openpibo-0.4.4"

    @classmethod
    def name_for(cls, min_confidence: float = 50.0) -> str:
        """The cache key, known without loading anything."""
        return f"{cls.MODEL}:min{min_confidence:g}"

    def __init__(
        self,
        folder: Path | None = None,
        *,
        min_confidence: float = 50.0,
        threads: int = 2,
        max_pixels: int = 50_000_000,
        expected_sha256: dict[str, str] | None = None,
    ) -> None:
        import cv2
        from ai_edge_litert.interpreter import Interpreter

        from edgechat.labeler.models import SHA256

        files = verified(ModelFiles.in_dir(folder or package_dir()), expected_sha256 or SHA256)
        self.min_confidence = min_confidence
        self.max_pixels = max_pixels
        # The cache key: model version and threshold both change the answer.
        self.name = self.name_for(min_confidence)
        self._cv2 = cv2
        cv2.setNumThreads(threads)
        self._detector = cv2.dnn.readNetFromTensorflow(str(files.detector_graph), str(files.detector_config))
        self._classifier = Interpreter(str(files.classifier), num_threads=threads)
        self._classifier.allocate_tensors()
        self._input = self._classifier.get_input_details()[0]["index"]
        output = self._classifier.get_output_details()[0]
        self._output = output["index"]
        self._out_scale, self._out_zero = output["quantization"]
        labels = files.classifier_labels.read_text("utf-8").splitlines()
        self.taxonomy = Taxonomy.load(labels)

    def _decode(self, picture: bytes):
        import io

        import numpy as np
        from PIL import Image, UnidentifiedImageError

        # Read the size from the header first: OpenCV would allocate a
        # decompression bomb's pixels (its own cap is 2^30).
        try:
            with Image.open(io.BytesIO(picture)) as header:
                width, height = header.size
        except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
            raise PictureError(LabelerCode.PICTURE_CORRUPT, "the picture cannot be decoded") from exc
        if width * height > self.max_pixels:
            raise PictureError(LabelerCode.PICTURE_TOO_MANY_PIXELS, f"{width}x{height} is too many pixels")
        rgb = None
        try:
            bgr = self._cv2.imdecode(np.frombuffer(picture, np.uint8), self._cv2.IMREAD_COLOR)
            if bgr is not None:
                rgb = self._cv2.cvtColor(bgr, self._cv2.COLOR_BGR2RGB)
        except self._cv2.error:
            rgb = None
        if rgb is None:
            raise PictureError(LabelerCode.PICTURE_CORRUPT, "the picture cannot be decoded")
        return rgb

    def detect_labels(self, picture: bytes) -> Labels:
        return self.labels_for_rgb(self._decode(picture))

    def labels_for_rgb(self, rgb) -> Labels:  # noqa: ANN001 (an HxWx3 uint8 numpy array)
        """Labels for an RGB array (the tests feed skimage's pictures directly)."""
        import numpy as np

        cv2 = self._cv2
        blob = cv2.dnn.blobFromImage(rgb, size=(DETECTOR_SIZE, DETECTOR_SIZE), swapRB=False)
        self._detector.setInput(blob)
        raw = self._detector.forward()[0, 0]
        detections = [
            Detection(int(row[1]), float(row[2]), box_from_corners(*map(float, row[3:7])))
            for row in raw
            if row[2] > 0.0
        ]
        small = cv2.resize(rgb, (CLASSIFIER_SIZE, CLASSIFIER_SIZE), interpolation=cv2.INTER_AREA)
        self._classifier.set_tensor(self._input, np.ascontiguousarray(small, np.uint8)[None])
        self._classifier.invoke()
        quantised = self._classifier.get_tensor(self._output)[0].astype(np.float64)
        probabilities = (quantised - self._out_zero) * self._out_scale
        return merge(detections, probabilities.tolist(), self.taxonomy, min_confidence=self.min_confidence)
