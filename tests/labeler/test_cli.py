"""``edgechat labels``: JSON per picture, cached, errors per picture."""

from __future__ import annotations

import json

import pytest

from edgechat.cli import main
from edgechat.labeler import cli as labels_cli
from edgechat.labeler.cli import cache_path


@pytest.fixture
def provider(offline, monkeypatch):
    """The session's offline provider (models load once), counting its calls."""
    calls: list[int] = []

    def make(name: str, min_confidence: float):
        assert name == "offline" and min_confidence == 50.0
        return offline

    real = offline.detect_labels
    monkeypatch.setattr(labels_cli, "make_provider", make)
    monkeypatch.setattr(offline, "detect_labels", lambda data: calls.append(1) or real(data), raising=False)
    yield calls


def test_labels_prints_json_per_picture_and_caches(provider, photos, tmp_path, capsys) -> None:
    cat, cup = tmp_path / "cat.jpg", tmp_path / "my cup.png"
    cat.write_bytes(photos["chelsea"])
    cup.write_bytes(photos["coffee"])
    data_dir = tmp_path / "data"
    assert main(["labels", str(cat), str(cup), "--data-dir", str(data_dir)]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["picture"] for line in lines] == [str(cat), str(cup)]
    assert "Cat" in {label["Name"] for label in lines[0]["Labels"]}
    assert len(lines[0]["sha256"]) == 64 and cache_path(data_dir).exists()
    assert len(provider) == 2

    assert main(["labels", str(cat), "--data-dir", str(data_dir)]) == 0
    assert len(provider) == 2  # from the cache
    assert json.loads(capsys.readouterr().out)["Labels"] == lines[0]["Labels"]


def test_unreadable_and_corrupt_pictures_are_reported_and_the_rest_labelled(
    provider, photos, tmp_path, capsys
):
    junk, cat = tmp_path / "junk.jpg", tmp_path / "cat.jpg"
    junk.write_bytes(b"\xff\xd8\xff not a jpeg")
    cat.write_bytes(photos["chelsea"])
    code = main(["labels", str(tmp_path / "missing.jpg"), str(junk), str(cat), "--no-cache"])
    out, err = capsys.readouterr()
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 1
    assert [line.get("error", {}).get("code") for line in lines] == ["unreadable", "picture_corrupt", None]
    assert "missing.jpg" in err and lines[2]["Labels"]
