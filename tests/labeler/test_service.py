"""The Labeler service against a real edge (Mosquitto, Router): a picture
message the Router names on edgechat/pictures gets labels and a tag cloud on
chat/pub/{room}; a text message never reaches the Labeler."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator

import pytest

from edgechat.broker.config import SYSTEM_USER
from edgechat.core.attachments import PICTURES_TOPIC
from edgechat.labeler.cache import CachedProvider, LabelCache
from edgechat.labeler.intake import PictureStore, accept
from edgechat.labeler.service import LabelerService
from tests.support.edge import ChatClient, running_edge, system_client

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def edge(tmp_path_factory):
    # The edge's own Labeler off: these tests run theirs, with a cache of their own.
    with running_edge(tmp_path_factory.mktemp("edge") / "data", {"labeler": False}) as e:
        yield e


@pytest.fixture
def labeler(edge, offline, tmp_path) -> Iterator[LabelerService]:
    with running_labeler(edge, CachedProvider(offline, LabelCache(tmp_path / "labels.db"))) as service:
        yield service


@contextlib.contextmanager
def running_labeler(edge, provider: CachedProvider) -> Iterator[LabelerService]:
    service = LabelerService(
        provider,
        PictureStore.in_data_dir(edge.data_dir),
        host="127.0.0.1",
        port=edge.internal_port,
        username=SYSTEM_USER,
        password=edge.system_password(),
    )
    loop = asyncio.new_event_loop()
    task = loop.create_task(service.run())

    def serve() -> None:
        # RuntimeError: stopped below before the task finished
        with contextlib.suppress(asyncio.CancelledError, RuntimeError):
            loop.run_until_complete(task)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    deadline = loop.time() + 10
    while not service.ready.is_set():
        assert loop.time() < deadline, "the labeler did not connect"
        threading.Event().wait(0.05)
    try:
        yield service
    finally:
        loop.call_soon_threadsafe(task.cancel)
        thread.join(30)
        if thread.is_alive():  # aiomqtt's exit waits, unbounded, for the broker to close the connection
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
        assert not thread.is_alive(), "the labeler's loop did not stop"
        loop.close()


def test_a_picture_message_gets_labels_and_a_tag_cloud(edge, labeler, photos) -> None:
    stored = accept(photos["chelsea"], PictureStore.in_data_dir(edge.data_dir))
    ref = stored.picture.sha256
    creds = edge.credentials("watcher")
    watcher = ChatClient(edge.mqtt_port, creds["username"], creds["password"])
    assert watcher.connect() == 0
    watcher.subscribe("chat/pub/lobby")
    router = system_client(edge, "test-router-stand-in")
    try:
        message = {"id": "01PICTURE0000000000000001"}
        notice = {"room": "lobby", "messageId": message["id"], "pictures": [ref]}
        router.send(notice, PICTURES_TOPIC)
        router.send(notice, PICTURES_TOPIC)  # announced twice: labelled once
        ((_, labels),) = watcher.wait_for(lambda t, b: isinstance(b, dict) and b.get("type") == "labels", 30)
        assert labels["picture"] == ref and labels["messageId"] == message["id"]
        assert "Cat" in {label["Name"] for label in labels["labels"]}
        ((_, cloud),) = watcher.wait_for(lambda t, b: isinstance(b, dict) and b.get("type") == "tagcloud", 10)
        tags = {tag["label"]: tag for tag in cloud["tags"]}
        assert tags["Cat"]["count"] == 1 and [p["picture"] for p in tags["Cat"]["pictures"]] == [ref]
        router.send(b"not json", PICTURES_TOPIC)  # logged and dropped
        unknown = {**notice, "messageId": "01PICTURE0000000000000002", "pictures": ["f" * 64]}
        router.send(unknown, PICTURES_TOPIC)
        deadline = time.monotonic() + 10
        while labeler.failed == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert labeler.labelled == 1 and labeler.failed == 1  # the unknown picture is skipped
        assert labeler.heard == 3
        assert labeler.provider.misses == 1
    finally:
        watcher.close()
        router.close()


def test_labels_are_stored_by_the_router_and_come_back_in_history(edge, labeler, photos) -> None:
    """Through the real Router: the message is stored with its picture, the
    Labeler's labels are kept by picture hash and joined into history, and a
    client opening the room later gets the room's tag cloud (retained).  The
    text message sent first never reaches the Labeler."""
    stored = accept(photos["coffee"], PictureStore.in_data_dir(edge.data_dir))
    ref = stored.picture.sha256
    creds = edge.credentials("poster")
    poster = ChatClient(edge.mqtt_port, creds["username"], creds["password"])
    assert poster.connect() == 0
    poster.subscribe(f"chat/in/{creds['username']}", "chat/pub/kitchen")
    late = None
    try:
        heard = labeler.heard
        poster.send({"type": "message", "id": "01PLAINTEXT00000000000001", "room": "kitchen", "text": "tea?"})
        message = {"type": "message", "id": "01PICTURE0000000000000003", "room": "kitchen",
                   "attachments": [stored.picture.to_json()]}  # fmt: skip
        poster.send(message)
        ((_, ack),) = poster.wait_for(
            lambda t, b: isinstance(b, dict) and b.get("type") == "ack" and b.get("id") == message["id"], 10
        )
        assert ack["seq"] == 2
        poster.wait_for(lambda t, b: isinstance(b, dict) and b.get("type") == "tagcloud", 30)
        assert labeler.heard == heard + 1  # the picture message only (notices arrive in order)
        deadline = time.monotonic() + 10
        while True:  # the Router stores the labels a moment after the Labeler published them
            page = poster.request({"type": "history", "room": "kitchen", "requestId": "h1"}, "history")
            (picture,) = page["messages"][0]["attachments"]
            if picture.get("labels") or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert picture["sha256"] == ref and "Cup" in {label["name"] for label in picture["labels"]}
        confidences = [label["confidence"] for label in picture["labels"]]
        assert confidences == sorted(confidences, reverse=True)

        creds = edge.credentials("late")
        late = ChatClient(edge.mqtt_port, creds["username"], creds["password"])
        assert late.connect() == 0
        late.subscribe("chat/pub/kitchen")
        ((_, cloud),) = late.wait_for(lambda t, b: isinstance(b, dict) and b.get("type") == "tagcloud", 10)
        assert "Cup" in {tag["label"] for tag in cloud["tags"]}
    finally:
        poster.close()
        if late is not None:
            late.close()


def test_a_picture_posted_while_the_labeler_is_down_is_labelled_when_it_returns(
    edge, offline, photos, tmp_path
) -> None:
    """The Labeler's session is persistent: the broker keeps the Router's
    notices for it while it is away (before, such a picture was never labelled)."""
    stored = accept(photos["astronaut"], PictureStore.in_data_dir(edge.data_dir))
    provider = CachedProvider(offline, LabelCache(tmp_path / "labels.db"))
    with running_labeler(edge, provider):
        pass  # its session (and subscription) now exist in the broker
    creds = edge.credentials("while-away")
    poster = ChatClient(edge.mqtt_port, creds["username"], creds["password"])
    assert poster.connect() == 0
    poster.subscribe(f"chat/in/{creds['username']}", "chat/pub/garden")
    try:
        message = {"type": "message", "id": "01PICTURE0000000000000004", "room": "garden",
                   "attachments": [stored.picture.to_json()]}  # fmt: skip
        poster.send(message)
        poster.wait_for(lambda t, b: isinstance(b, dict) and b.get("type") == "ack", 10)
        with running_labeler(edge, provider) as service:
            ((_, labels),) = poster.wait_for(lambda t, b: b.get("type") == "labels", 30)
            assert labels["messageId"] == message["id"] and labels["picture"] == stored.picture.sha256
            assert service.heard == 1 and service.labelled == 1
    finally:
        poster.close()
        provider.cache.close()
