"""Pure: per-room clouds; the events published (which messages the Labeler
hears about: tests/core/test_attachments.py)."""

from __future__ import annotations

from edgechat.labeler.labels import Label
from edgechat.labeler.rooms import Clouds, labels_event, tagcloud_event

A, B = "a" * 64, "b" * 64


def test_clouds_are_per_room_and_immutable() -> None:
    empty = Clouds()
    one = empty.add("lobby", A, (Label("Cat", 90.0),))
    two = one.add("lobby", B, (Label("Cat", 80.0), Label("Cup", 40.0))).add("dev", A, (Label("Cat", 90.0),))
    assert empty.rooms == {} and dict(one.rooms["lobby"].counts()) == {"Cat": 1}
    assert dict(two.rooms["lobby"].counts()) == {"Cat": 2, "Cup": 1} and two.has("dev", A)
    assert not two.has("dev", B)


def test_events_are_data_with_the_threshold_applied() -> None:
    clouds = (
        Clouds()
        .add("lobby", A, (Label("Cat", 90.0),))
        .add("lobby", B, (Label("Cat", 80.0), Label("Cup", 40.0)))
    )
    cloud = tagcloud_event("lobby", clouds.rooms["lobby"], min_confidence=50)
    assert cloud == {
        "type": "tagcloud",
        "scope": "room",
        "room": "lobby",
        "minConfidence": 50,
        "pictures": 2,
        "tags": [
            {
                "label": "Cat",
                "count": 2,
                "pictures": [{"picture": A, "confidence": 90.0}, {"picture": B, "confidence": 80.0}],
            }
        ],
    }
    event = labels_event("lobby", "m1", A, (Label("Cat", 90.0),))
    assert event["type"] == "labels" and event["labels"][0]["Name"] == "Cat"


def test_the_service_rebuilds_room_clouds_from_its_database(tmp_path) -> None:
    from edgechat.labeler.cache import CachedProvider, LabelCache
    from edgechat.labeler.intake import PictureStore
    from edgechat.labeler.service import LabelerService

    class Never:
        name = "fake:v1"

        def detect_labels(self, picture: bytes):
            raise AssertionError("nothing is relabelled on restart")

    cache = LabelCache(tmp_path / "labels.db")
    cache.put(A, "fake:v1", (Label("Cat", 90.0),))
    cache.put(B, "fake:v0", (Label("Dog", 90.0),))  # an older model's answer: not used
    for room, ref in (("lobby", A), ("dev", A), ("dev", B)):
        cache.add_to_room(room, ref)
    service = LabelerService(
        CachedProvider(Never(), cache),
        PictureStore(tmp_path),
        host="127.0.0.1",
        port=1,
        username="u",
        password="p",
    )
    assert dict(service.clouds.rooms["lobby"].counts()) == {"Cat": 1}
    assert dict(service.clouds.rooms["dev"].counts()) == {"Cat": 1} and not service.clouds.has("dev", B)


def test_the_site_cloud_counts_each_picture_once_across_rooms() -> None:
    clouds = (
        Clouds()
        .add("lobby", A, (Label("Cat", 90.0),))
        .add("dev", A, (Label("Cat", 90.0),))  # the same picture shared in a second room
        .add("dev", B, (Label("Cup", 70.0),))
    )
    site = tagcloud_event(None, clouds.site(), min_confidence=50)
    assert site["scope"] == "site" and "room" not in site and site["pictures"] == 2
    assert {t["label"]: t["count"] for t in site["tags"]} == {"Cat": 1, "Cup": 1}
    assert Clouds().site().pictures == frozenset()


def test_a_tag_lists_its_most_confident_pictures_only() -> None:
    clouds = Clouds()
    for i in range(30):
        clouds = clouds.add("lobby", f"{i:064x}", (Label("Cat", 50.0 + i),))
    (tag,) = tagcloud_event("lobby", clouds.rooms["lobby"], min_confidence=50, max_pictures=24)["tags"]
    assert tag["count"] == 30 and len(tag["pictures"]) == 24
    assert [p["confidence"] for p in tag["pictures"]] == [79.0 - i for i in range(24)]
