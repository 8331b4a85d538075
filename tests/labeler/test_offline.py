"""Real pictures through the offline provider (the models are the real ones)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from edgechat.labeler.errors import LabelerCode, ModelError, PictureError
from edgechat.labeler.labels import Labels
from edgechat.labeler.models import SHA256, ModelFiles, package_dir, verified


def names(labels: Labels, at_least: float = 50.0) -> set[str]:
    return {lab.name for lab in labels if lab.confidence >= at_least}


def test_the_cat_is_a_cat_and_an_animal(offline, photos) -> None:
    labels = offline.detect_labels(photos["chelsea"])
    assert {"Cat", "Animal"} <= names(labels)
    cat = next(lab for lab in labels if lab.name == "Cat")
    assert cat.parents == ("Feline", "Mammal", "Animal")
    assert cat.confidence > 80
    (box,) = (i.box for i in cat.instances)  # the detector found one cat, with a box
    assert 0 <= box.left < box.left + box.width <= 1 and box.width > 0.5


def test_the_coffee_is_a_cup_or_coffee(offline, photos) -> None:
    assert names(offline.detect_labels(photos["coffee"])) & {"Cup", "Coffee"}


def test_the_astronaut_is_a_person(offline, photos) -> None:
    assert "Person" in names(offline.detect_labels(photos["astronaut"]))


def test_a_blank_picture_gets_no_confident_label(offline, photos) -> None:
    assert names(offline.detect_labels(photos["blank"])) == set()


def test_labels_are_sorted_and_rekognition_shaped(offline, photos) -> None:
    labels = offline.detect_labels(photos["chelsea"])
    assert [lab.confidence for lab in labels] == sorted((lab.confidence for lab in labels), reverse=True)
    first = labels[0].to_json()
    assert set(first) == {"Name", "Confidence", "Parents", "Instances"}


def test_undecodable_bytes_are_a_picture_error(offline) -> None:
    with pytest.raises(PictureError) as err:
        offline.detect_labels(b"\x89PNG\r\n\x1a\n not really")
    assert err.value.code == LabelerCode.PICTURE_CORRUPT


def test_the_installed_models_match_the_pinned_hashes() -> None:
    verified(ModelFiles.in_dir(package_dir()))


def _copy_of_models(tmp_path: Path) -> Path:
    """Symlinks to the big files; a real copy of the small labels file."""
    src = package_dir()
    for name in SHA256:
        if name == "efficientnet_labels.txt":
            (tmp_path / name).write_bytes((src / name).read_bytes())
        else:
            os.symlink(src / name, tmp_path / name)
    return tmp_path


def test_a_tampered_model_file_is_refused(tmp_path) -> None:
    folder = _copy_of_models(tmp_path)
    with (folder / "efficientnet_labels.txt").open("a") as f:
        f.write("one more class\n")
    with pytest.raises(ModelError) as err:
        verified(ModelFiles.in_dir(folder))
    assert err.value.code == LabelerCode.MODEL_TAMPERED
    assert "efficientnet_labels.txt" in err.value.message


def test_a_missing_model_file_is_refused(tmp_path) -> None:
    folder = _copy_of_models(tmp_path)
    (folder / "frozen_inference_graph.pb").unlink()
    from edgechat.labeler.offline import OfflineProvider

    with pytest.raises(ModelError) as err:
        OfflineProvider(folder)
    assert err.value.code == LabelerCode.MODEL_MISSING
    assert err.value.to_event()["code"] == "model_missing"


def test_a_decompression_bomb_is_refused_before_decoding(offline) -> None:
    from .test_intake import png_bomb

    with pytest.raises(PictureError) as err:
        offline.detect_labels(png_bomb(10_000, 6_000, real=False))
    assert err.value.code == LabelerCode.PICTURE_TOO_MANY_PIXELS
