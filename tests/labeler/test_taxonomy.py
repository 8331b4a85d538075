"""Pure: the taxonomy and the merge of raw model outputs into labels."""

from __future__ import annotations

import pytest

from edgechat.labeler.labels import BoundingBox, Instance, Label, labels_from_json, labels_to_json
from edgechat.labeler.merge import Detection, box_from_corners, merge
from edgechat.labeler.taxonomy import Taxonomy

IMAGENET = [f"class {i}" for i in range(1000)]
IMAGENET[281], IMAGENET[285], IMAGENET[291] = "tabby, tabby cat", "Egyptian cat", "lion, king of beasts"
IMAGENET[967] = "espresso"


@pytest.fixture(scope="module")
def taxonomy() -> Taxonomy:
    return Taxonomy.load(IMAGENET)


def test_ancestors_walk_to_the_root(taxonomy) -> None:
    assert taxonomy.ancestors("Cat") == ("Feline", "Mammal", "Animal")
    assert taxonomy.ancestors("Animal") == ()
    assert taxonomy.ancestors("Something unknown") == ()


def test_imagenet_classes_are_named_and_placed(taxonomy) -> None:
    assert taxonomy.imagenet_chain(281) == ("Cat", "Feline", "Mammal", "Animal")
    assert taxonomy.imagenet_chain(291) == ("Lion", "Big Cat", "Feline", "Mammal", "Animal")
    assert taxonomy.imagenet_chain(967) == ("Coffee", "Beverage", "Food")
    assert taxonomy.imagenet_chain(500) == ("Class 500",)  # unmapped: its own name, no parent


def test_every_coco_name_and_parent_is_a_real_name(taxonomy) -> None:
    assert taxonomy.coco[17] == "Cat" and taxonomy.coco[47] == "Cup"
    assert all(name.strip() == name and name for name in taxonomy.coco.values())


def test_a_cycle_in_the_taxonomy_is_refused() -> None:
    doc = {"coco": {}, "imagenet_names": {}, "imagenet_parents": {}, "parents": {"A": "B", "B": "A"}}
    with pytest.raises(ValueError, match="cycle"):
        Taxonomy.from_json(doc, IMAGENET)


def test_classifier_probabilities_add_up_the_tree(taxonomy) -> None:
    probs = [0.0] * 1000
    probs[281], probs[285], probs[291] = 0.3, 0.3, 0.2  # two breeds of cat and a lion
    labels = {lab.name: lab for lab in merge([], probs, taxonomy, min_confidence=50)}
    assert labels["Cat"].confidence == 60.0
    assert labels["Feline"].confidence == 80.0 and labels["Animal"].confidence == 80.0
    assert "Lion" not in labels  # 20 % is below the threshold
    assert labels["Cat"].parents == ("Feline", "Mammal", "Animal")


def test_detections_give_instances_and_the_larger_confidence_wins(taxonomy) -> None:
    probs = [0.0] * 1000
    probs[281] = 0.55
    box = BoundingBox(0.1, 0.1, 0.5, 0.5)
    dets = [
        Detection(17, 0.9, box),
        Detection(17, 0.4, box),
        Detection(17, 0.1, box),
        Detection(999, 0.99, box),
    ]
    labels = {lab.name: lab for lab in merge(dets, probs, taxonomy, min_confidence=50)}
    assert labels["Cat"].confidence == 90.0
    assert [i.confidence for i in labels["Cat"].instances] == [90.0, 40.0]  # 0.1 is below min_detection
    assert labels["Animal"].instances == ()
    assert set(labels) == {"Cat", "Feline", "Mammal", "Animal"}  # unknown COCO id 999 ignored


def test_boxes_are_clipped_to_the_picture() -> None:
    assert box_from_corners(-0.2, 0.1, 1.3, 0.6) == BoundingBox(0.0, 0.1, 1.0, 0.5)
    assert box_from_corners(0.8, 0.8, 0.2, 0.2).width == 0.0


def test_labels_round_trip_through_rekognition_json() -> None:
    label = Label("Cat", 93.5, ("Feline", "Animal"), (Instance(BoundingBox(0.1, 0.2, 0.3, 0.4), 93.5),))
    assert labels_from_json(labels_to_json([label])) == (label,)
    with pytest.raises(ValueError):
        Label("Cat", 101.0)
    with pytest.raises(ValueError):
        Label("", 50.0)
