"""Each picture is labelled once: by hash, per provider, across restarts."""

from __future__ import annotations

from edgechat.labeler.cache import CachedProvider, LabelCache, picture_hash
from edgechat.labeler.labels import Label, Labels


class Counting:
    name = "fake:v1"

    def __init__(self) -> None:
        self.calls = 0

    def detect_labels(self, picture: bytes) -> Labels:
        self.calls += 1
        return (Label(f"len{len(picture)}", 90.0, ("Thing",)),)


def test_a_picture_is_labelled_once(tmp_path) -> None:
    inner = Counting()
    cached = CachedProvider(inner, LabelCache(tmp_path / "labels.db"))
    first = cached.detect_labels(b"abc")
    assert cached.detect_labels(b"abc") == first
    cached.detect_labels(b"abcd")
    assert inner.calls == 2 and (cached.hits, cached.misses) == (1, 2)


def test_the_cache_survives_a_restart(tmp_path) -> None:
    path = tmp_path / "labeler" / "labels.db"
    CachedProvider(Counting(), LabelCache(path)).detect_labels(b"abc")
    again = Counting()
    labels = CachedProvider(again, LabelCache(path)).detect_labels(b"abc")
    assert again.calls == 0 and labels == (Label("len3", 90.0, ("Thing",)),)


def test_another_provider_or_model_version_relabels(tmp_path) -> None:
    cache = LabelCache(tmp_path / "labels.db")
    CachedProvider(Counting(), cache).detect_labels(b"abc")
    newer = Counting()
    newer.name = "fake:v2"
    CachedProvider(newer, cache).detect_labels(b"abc")
    assert newer.calls == 1 and len(cache) == 2
    assert cache.get(picture_hash(b"abc"), "fake:v1") is not None
