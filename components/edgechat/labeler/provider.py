"""The one interface every label source implements."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from edgechat.labeler.labels import Labels


@runtime_checkable
class LabelProvider(Protocol):
    """Picture bytes (JPEG/PNG/WebP) in, labels out, most confident first.

    ``name`` identifies the provider *and its model version* in the cache, so
    a new model relabels instead of serving another model's answers."""

    name: str

    def detect_labels(self, picture: bytes) -> Labels: ...
