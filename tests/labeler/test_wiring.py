"""How the Labeler is put together: models loaded on the first picture, and
`edgechat up` leaving it out when it is turned off."""

from __future__ import annotations

import pytest

from edgechat.labeler.labels import Label
from edgechat.labeler.offline import OfflineProvider
from edgechat.labeler.wiring import LazyProvider, extra_installed, offline_provider
from edgechat.settings import Settings
from edgechat.up import _labeler


class Counting:
    name = "counting:v1"

    def detect_labels(self, picture: bytes) -> tuple[Label, ...]:
        return (Label("Thing", 60.0),)


def test_the_provider_is_built_on_the_first_picture_only() -> None:
    made: list[Counting] = []

    def make() -> Counting:
        made.append(Counting())
        return made[-1]

    lazy = LazyProvider(make, "counting:v1")
    assert lazy.name == "counting:v1" and not lazy.loaded and made == []
    assert lazy.detect_labels(b"x") == (Label("Thing", 60.0),)
    lazy.detect_labels(b"y")
    assert len(made) == 1 and lazy.loaded


def test_a_provider_that_is_not_the_one_named_is_refused() -> None:
    lazy = LazyProvider(Counting, "counting:v2")  # the cache key would lie
    with pytest.raises(RuntimeError, match="expected counting:v2"):
        lazy.detect_labels(b"x")


def test_the_offline_cache_key_is_known_without_loading_the_models() -> None:
    assert offline_provider(60).name == OfflineProvider.name_for(60) == f"{OfflineProvider.MODEL}:min60"


def test_up_leaves_the_labeler_out_when_turned_off(tmp_path) -> None:
    assert _labeler(Settings(data_dir=tmp_path, labeler=False)) is None
    assert extra_installed()  # this machine has the extra: the tests above and test_service use it


def test_a_failing_provider_costs_one_picture_not_the_service(tmp_path, photos) -> None:
    """A broken model install (say an ImportError on first use) is logged per
    picture; the service keeps reading its notices."""
    import asyncio
    import json
    from types import SimpleNamespace

    from edgechat.core.attachments import PICTURES_TOPIC
    from edgechat.labeler.cache import CachedProvider, LabelCache
    from edgechat.labeler.intake import PictureStore, accept
    from edgechat.labeler.service import LabelerService

    def broken() -> Counting:
        raise ImportError("libGL.so.1: cannot open shared object file")

    store = PictureStore.in_data_dir(tmp_path)
    ref = accept(photos["chelsea"], store).picture.to_json()
    cache = LabelCache(tmp_path / "labels.db")
    service = LabelerService(CachedProvider(LazyProvider(broken, "broken:v1"), cache), store,
                             host="127.0.0.1", port=1, username="u", password="p")  # fmt: skip
    published: list[str] = []

    class Client:
        async def publish(self, topic: str, payload: str, **kwargs: object) -> None:
            published.append(topic)

    notice = {"room": "lobby", "messageId": "01PICTURE0000000000000009", "pictures": [ref["sha256"]]}
    event = SimpleNamespace(topic=PICTURES_TOPIC, payload=json.dumps(notice).encode(), retain=False)
    try:
        asyncio.run(service._handle(Client(), event))
        asyncio.run(service._handle(Client(), event))  # still alive, tries again
    finally:
        cache.close()
    assert service.failed == 2 and service.labelled == 0 and published == []
