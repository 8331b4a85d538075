"""The Labeler service's shell: MQTT in and out, labelling on a worker thread.

Subscribes to ``edgechat/pictures`` on the broker's loopback listener as the
system account: the Router names each stored message that carries pictures
there (not every room broadcast: most carry none).  For each picture, reads it
from the picture store, labels it (once: the label cache), updates the room's
tag cloud and publishes ``labels`` and ``tagcloud`` events on
``chat/pub/{room}`` (rooms.py).  The session is persistent, so notices sent
while the Labeler is down wait in the broker.  Room clouds are rebuilt at start
from the label database (which pictures each room has, and their cached
labels), so a restart relabels nothing.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass

import aiomqtt

from edgechat.core.attachments import LABELS_TOPIC, PICTURES_TOPIC, parse_picture_notice
from edgechat.core.errors import ChatError
from edgechat.labeler.cache import CachedProvider
from edgechat.labeler.intake import PictureStore
from edgechat.labeler.labels import Labels
from edgechat.labeler.rooms import (
    SITE_TOPIC,
    Clouds,
    labels_event,
    labels_update,
    tagcloud_event,
)

log = logging.getLogger(__name__)

LABELER_CLIENT_ID = "edgechat-labeler"


@dataclass(frozen=True, slots=True)
class LabelerLimits:
    min_confidence: float = 50.0
    max_tags: int = 40
    max_payload: int = 16 * 1024  # a picture notice is well under 1 KB
    reconnect_max_s: float = 5.0


class LabelerService:
    def __init__(
        self,
        provider: CachedProvider,
        pictures: PictureStore,
        *,
        host: str,
        port: int,
        username: str,
        password: str,
        limits: LabelerLimits | None = None,
    ) -> None:
        self.provider = provider
        self.pictures = pictures
        self.host, self.port, self.username, self._password = host, port, username, password
        self.limits = limits or LabelerLimits()
        self.clouds = rebuild(provider)
        self.heard = 0  # picture notices taken in
        self.labelled = 0
        self.failed = 0
        self.ready = asyncio.Event()

    async def run(self) -> None:
        """Until cancelled; reconnects with backoff."""
        delay = 0.2
        while True:
            try:
                async with aiomqtt.Client(
                    self.host, self.port, identifier=LABELER_CLIENT_ID,
                    username=self.username, password=self._password,
                    clean_session=False,  # notices sent while we are down wait in the broker
                ) as client:  # fmt: skip
                    await client.subscribe(PICTURES_TOPIC, qos=1)
                    for room in self.clouds.rooms:  # the broker may have restarted and lost them
                        await self._publish_cloud(client, room)
                    if self.clouds.rooms:
                        await self._publish_cloud(client, None)
                    self.ready.set()
                    delay = 0.2
                    async for message in client.messages:
                        await self._handle(client, message)
            except aiomqtt.MqttError as exc:
                self.ready.clear()
                log.warning("labeler: broker connection lost (%s); retrying in %.1f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(self.limits.reconnect_max_s, delay * 2)

    async def _handle(self, client: aiomqtt.Client, message: aiomqtt.Message) -> None:
        payload = message.payload
        if str(message.topic) != PICTURES_TOPIC or message.retain:
            return
        if not isinstance(payload, bytes | bytearray) or len(payload) > self.limits.max_payload:
            log.warning("labeler: ignoring an oversized picture notice")
            return
        # Only system accounts publish there (the ACL); still, bad input costs one notice.
        try:
            notice = parse_picture_notice(bytes(payload))
        except ChatError as exc:
            log.warning("labeler: ignoring a picture notice: %s", exc)
            return
        self.heard += 1
        room, message_id = notice.room, notice.message_id
        for ref in notice.pictures:
            if self.clouds.has(room, ref):
                continue
            try:
                labels = await asyncio.to_thread(self._label, room, ref)
            except (ChatError, OSError) as exc:
                self.failed += 1
                log.warning("labeler: picture %s in %s: %s", ref, room, exc)
                continue
            except Exception:  # a bug (or a broken model install) costs one picture, not the service
                self.failed += 1
                log.exception("labeler: picture %s in %s: unexpected failure", ref, room)
                continue
            self.labelled += 1
            self.clouds = self.clouds.add(room, ref, labels)
            topic = f"chat/pub/{room}"
            await client.publish(topic, json.dumps(labels_event(room, message_id, ref, labels)), qos=1)
            # The Router keeps them by picture hash, so history shows them too.
            await client.publish(LABELS_TOPIC, json.dumps(labels_update(ref, labels)), qos=1)
            await self._publish_cloud(client, room)
            await self._publish_cloud(client, None)

    async def _publish_cloud(self, client: aiomqtt.Client, room: str | None) -> None:
        """A room's cloud (``None``: the whole site's), retained: a browser that
        opens the room later gets the cloud on subscribing."""
        tally = self.clouds.rooms[room] if room is not None else self.clouds.site()
        cloud = tagcloud_event(
            room, tally, min_confidence=self.limits.min_confidence, max_tags=self.limits.max_tags
        )
        topic = f"chat/pub/{room}" if room is not None else SITE_TOPIC
        await client.publish(topic, json.dumps(cloud), qos=1, retain=True)

    def _label(self, room: str, ref: str) -> Labels:
        path = self.pictures.find(ref)
        if path is None:
            raise FileNotFoundError(f"no stored picture {ref}")
        labels = self.provider.labels_by_hash(ref, path.read_bytes())
        self.provider.cache.add_to_room(room, ref)
        return labels


def rebuild(provider: CachedProvider) -> Clouds:
    """The rooms' clouds from the database: no picture is labelled again."""
    clouds = Clouds()
    for room, ref in provider.cache.room_pictures():
        labels = provider.cache.get(ref, provider.name)
        if labels is not None:  # labelled by another model version: relabelled when next seen
            clouds = clouds.add(room, ref, labels)
    return clouds
