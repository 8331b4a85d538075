"""The Rekognition provider against botocore's Stubber (no network, real request shapes)."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from edgechat.labeler.errors import LabelerCode, PictureError, ProviderError
from edgechat.labeler.rekognition import MAX_BYTES, RekognitionProvider

RESPONSE = {
    "Labels": [
        {"Name": "Animal", "Confidence": 97.1, "Parents": [], "Instances": []},
        {
            "Name": "Cat",
            "Confidence": 98.5,
            "Parents": [{"Name": "Feline"}, {"Name": "Mammal"}, {"Name": "Animal"}],
            "Instances": [
                {"BoundingBox": {"Width": 0.8, "Height": 0.9, "Left": 0.1, "Top": 0.05}, "Confidence": 98.5}
            ],
            "Aliases": [],
            "Categories": [{"Name": "Animals and Pets"}],
        },
    ],
    "LabelModelVersion": "3.0",
}


@pytest.fixture
def client():
    rekognition = boto3.client(
        "rekognition", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    with Stubber(rekognition) as stub:
        yield rekognition, stub
        stub.assert_no_pending_responses()


def test_detect_labels_maps_rekognition_labels(client) -> None:
    rekognition, stub = client
    stub.add_response(
        "detect_labels",
        RESPONSE,
        {"Image": {"Bytes": b"jpeg"}, "MaxLabels": 25, "MinConfidence": 50.0},
    )
    labels = RekognitionProvider(rekognition).detect_labels(b"jpeg")
    assert [lab.name for lab in labels] == ["Cat", "Animal"]  # most confident first
    assert labels[0].parents == ("Feline", "Mammal", "Animal")
    assert labels[0].instances[0].box.width == 0.8


def test_a_refused_picture_is_the_uploaders_fault(client) -> None:
    rekognition, stub = client
    stub.add_client_error("detect_labels", "InvalidImageFormatException", "bad image")
    with pytest.raises(PictureError) as err:
        RekognitionProvider(rekognition).detect_labels(b"junk")
    assert err.value.code == LabelerCode.PICTURE_CORRUPT


def test_throttling_is_ours_and_retryable(client) -> None:
    rekognition, stub = client
    stub.add_client_error("detect_labels", "ThrottlingException", "slow down")
    with pytest.raises(ProviderError) as err:
        RekognitionProvider(rekognition).detect_labels(b"jpeg")
    assert err.value.retryable


def test_over_five_megabytes_is_refused_before_calling(client) -> None:
    rekognition, _ = client
    with pytest.raises(PictureError):
        RekognitionProvider(rekognition).detect_labels(b"x" * (MAX_BYTES + 1))
