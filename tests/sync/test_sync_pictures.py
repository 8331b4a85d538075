"""A picture shared at an edge site reaches S3 (moto) before its message reaches
DynamoDB, byte for byte, once: one site, the local cloud, the link and S3 cut
off while the picture is shared (docs/sync.md, "Pictures")."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from PIL import Image

from edgechat.cloud.dynamo import DynamoStore
from edgechat.cloud.local.child import LocalCloud
from edgechat.faults import LinkProxy
from edgechat.faults.process import kill9, wait_gone
from edgechat.labeler.intake import PictureStore
from tests.support.edge import ChatClient, Edge, start_edge
from tests.support.moto import FAKE_ENV, client
from tests.sync.test_sync_local_cloud import ROOM, signed_in, sync_state, wait_until

pytestmark = pytest.mark.integration


@dataclass
class World:
    edge: Edge
    cloud: LocalCloud
    link: LinkProxy  # the edge's MQTT link to the cloud
    s3_link: LinkProxy  # the edge's way to S3
    s3: Any
    table: DynamoStore
    ann: ChatClient
    creds: dict[str, Any]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, moto_url: str) -> Iterator[World]:
    root = tmp_path_factory.mktemp("sync-pictures")
    with ExitStack() as stack:
        cloud = stack.enter_context(LocalCloud(root / "cloud", moto_url=moto_url))
        s3 = client(moto_url, "s3")
        # Every PutObject leaves a version: the test counts them.
        s3.put_bucket_versioning(Bucket=cloud.info["pictures"], VersioningConfiguration={"Status": "Enabled"})
        link = stack.enter_context(LinkProxy(cloud.mqtts))
        host, port = moto_url.removeprefix("http://").rsplit(":", 1)
        s3_link = stack.enter_context(LinkProxy((host, int(port))))
        link.cut()
        s3_link.cut()
        settings = {
            "site_id": "site-p", "rate": {"per_second": 0, "burst": 1},
            **cloud.sync_settings("site-p", f"mqtts://127.0.0.1:{link.port}", f"http://127.0.0.1:{s3_link.port}"),
        }  # fmt: skip
        with pytest.MonkeyPatch.context() as env:  # the edge's boto3 finds these (moto takes any)
            for name, value in FAKE_ENV.items():
                env.setenv(name, value)
            edge = start_edge(root / "edge", settings)
        stack.callback(edge.stop)
        creds = edge.credentials("Ann")
        ann = signed_in(edge.mqtt_port, creds["username"], creds["password"])
        stack.callback(ann.close)
        table = DynamoStore(client(moto_url, "dynamodb"), cloud.info["table"])
        yield World(edge, cloud, link, s3_link, s3, table, ann, creds)


def post_picture(w: World, data: bytes) -> dict[str, Any]:
    origin = f"http://127.0.0.1:{w.edge.http_port}"
    token = base64.b64encode(f"{w.creds['username']}:{w.creds['password']}".encode()).decode()
    req = urllib.request.Request(f"{origin}/api/pictures", data, headers={
        "Authorization": f"Basic {token}", "Content-Type": "image/png", "Origin": origin,
    })  # fmt: skip
    with urllib.request.urlopen(req, timeout=20) as r:
        body = json.loads(r.read())
    return {k: v for k, v in body.items() if k not in ("url", "thumbnailUrl")}


def say(w: World, mid: str, text: str, attachments: list[dict[str, Any]] | None = None) -> None:
    w.ann.send({"type": "message", "id": mid, "room": ROOM, "text": text,
                **({"attachments": attachments} if attachments else {})})  # fmt: skip
    w.ann.wait_for(lambda t, b: b.get("type") == "ack" and b.get("id") == mid, timeout_s=10)


def in_cloud(w: World) -> dict[str, Any]:
    page, _ = w.table.history(ROOM, after=0, limit=500)
    return {m.id: m for m in page}


def versions(w: World, key: str) -> list[dict[str, Any]]:
    listed = w.s3.list_object_versions(Bucket=w.cloud.info["pictures"], Prefix=key)
    return [v for v in listed.get("Versions", []) if v["Key"] == key]


def pictures_state(w: World) -> dict[str, Any]:
    return sync_state(w.edge).get("pictures") or {}


def test_a_picture_made_while_the_cloud_was_away_reaches_s3_before_its_message_and_only_once(world):
    w = world
    rgb = np.add.outer(np.arange(48), np.arange(64)).astype(np.uint8)[..., None].repeat(3, axis=2) * 2
    out = io.BytesIO()
    Image.fromarray(rgb).save(out, "PNG")
    ref = post_picture(w, out.getvalue())
    sha = ref["sha256"]
    say(w, "pic00001", "my picture, said offline", [ref])
    say(w, "txt00001", "and some text after it")
    wait_until(lambda: sync_state(w.edge).get("backlog") == 2, what="backlog of 2")
    assert pictures_state(w)["enabled"] is True and pictures_state(w)["bucket"] == w.cloud.info["pictures"]

    # The link is back, S3 still away: the text goes up, the picture's message waits for it.
    w.link.restore()
    wait_until(lambda: "txt00001" in in_cloud(w), 60, "the text in DynamoDB", w.edge)
    wait_until(lambda: pictures_state(w).get("failures", 0) >= 1, 30, "a failed upload", w.edge)
    state = pictures_state(w)
    assert (state["waitingMessages"], state["waitingPictures"], state["uploaded"]) == (1, 1, 0)
    assert state["lastError"]
    assert "pic00001" not in in_cloud(w)  # no cloud browser sees it without its picture
    wait_until(lambda: sync_state(w.edge).get("backlog") == 1, 10, "the text retired", w.edge)

    w.s3_link.restore()
    stored = wait_until(lambda: in_cloud(w).get("pic00001"), 60, "the picture's message in DynamoDB", w.edge)
    assert [a.sha256 for a in stored.attachments] == [sha]
    bucket = w.cloud.info["pictures"]
    local_picture = PictureStore.in_data_dir(w.edge.data_dir).find(sha)
    assert local_picture is not None
    _, local_thumb = PictureStore.in_data_dir(w.edge.data_dir).paths(sha, local_picture.suffix.lstrip("."))
    picture = w.s3.get_object(Bucket=bucket, Key=f"pictures/{sha}")
    thumb = w.s3.get_object(Bucket=bucket, Key=f"pictures/{sha}/thumb")
    assert hashlib.sha256(picture["Body"].read()).hexdigest() == sha
    assert hashlib.sha256(thumb["Body"].read()).digest() == hashlib.sha256(local_thumb.read_bytes()).digest()
    assert (picture["ContentType"], thumb["ContentType"]) == ("image/png", "image/jpeg")
    wait_until(lambda: sync_state(w.edge).get("synced"), 30, "synced", w.edge)
    state = pictures_state(w)
    assert (state["uploaded"], state["waitingMessages"], state["failing"]) == (1, 0, 0)
    shown = w.edge.cli("status").stdout
    assert f"pictures to s3://{bucket}: 0 messages waiting for 0 pictures; uploaded 1," in shown, shown

    # Sync killed and restarted; the same picture shared again: the ledger knows it is up.
    old = sync_state(w.edge)["pid"]
    kill9(old)
    wait_gone(old)
    back = lambda: sync_state(w.edge).get("pid") not in (None, old) and sync_state(w.edge).get("connected")  # noqa: E731
    wait_until(back, 60, "Sync back", w.edge)
    say(w, "pic00002", "the same picture again", [ref])
    wait_until(lambda: "pic00002" in in_cloud(w), 60, "the second picture message in DynamoDB", w.edge)
    wait_until(lambda: pictures_state(w).get("alreadyUp", 0) >= 1, 10, "the ledger's answer", w.edge)
    assert pictures_state(w)["uploaded"] == 0
    assert len(versions(w, f"pictures/{sha}")) == 1 and len(versions(w, f"pictures/{sha}/thumb")) == 1
