"""The Router tells the Labeler about stored messages with pictures on
``edgechat/pictures`` (system accounts only), not about the rest: a text
message costs the Labeler nothing.  Messages from Sync count too, as they did
when the Labeler read every room broadcast."""

from __future__ import annotations

import time

import pytest

from edgechat.core.attachments import PICTURES_TOPIC
from edgechat.core.clock import Hlc, order_key
from tests.support.edge import ChatClient, running_edge, system_client

pytestmark = pytest.mark.integration

SHA_LOCAL, SHA_REMOTE = "1" * 64, "2" * 64


def picture(sha: str) -> dict[str, object]:
    thumb = {"type": "image/jpeg", "width": 40, "height": 30}
    return {"kind": "picture", "sha256": sha, "type": "image/jpeg", "bytes": 1000, "width": 40, "height": 30,
            "thumbnail": thumb}  # fmt: skip


def post(client: ChatClient, message_id: str, text: str, *pictures: str) -> None:
    """Send a message and wait for its ack (acks name the message, not the request)."""
    extra = {"attachments": [picture(p) for p in pictures]} if pictures else {}
    before = sum(1 for t, b in client.received if isinstance(b, dict) and b.get("id") == message_id)
    client.send({"type": "message", "id": message_id, "room": "lobby", "text": text, **extra})
    client.wait_for(lambda t, b: b.get("type") == "ack" and b.get("id") == message_id, count=before + 1)


def remote(message_id: str, text: str, **extra: object) -> dict[str, object]:
    ts = int(time.time() * 1000)
    return {"type": "message", "id": message_id, "room": "lobby", "text": text, "clientId": "bob",
            "nick": "Bob", "site": "site-b", "ts": ts,
            "orderKey": order_key(Hlc(ts, 0), "site-b", message_id), **extra}  # fmt: skip


def test_only_messages_with_pictures_are_announced_to_the_labeler(tmp_path) -> None:
    with running_edge(tmp_path / "data", {"labeler": False}) as edge:
        listener = system_client(edge, "test-labeler-stand-in")
        creds = edge.credentials("alice")
        alice = ChatClient(edge.mqtt_port, creds["username"], creds["password"])
        assert alice.connect() == 0
        try:
            listener.subscribe(PICTURES_TOPIC, "edgechat/sync/stored")
            alice.subscribe(f"chat/in/{alice.client_id}")
            post(alice, "01LOCAL000000000000000000", "local words")
            post(alice, "01LOCAL000000000000000001", "my cat", SHA_LOCAL)
            post(alice, "01LOCAL000000000000000002", "more local words")
            injected = [remote("remoteplain01", "remote words"),
                        remote("remotepicture1", "", attachments=[picture(SHA_REMOTE)]),
                        remote("remoteplain02", "more remote words")]  # fmt: skip
            listener.send({"type": "inject", "requestId": "in1", "messages": injected}, "edgechat/sync/in")
            listener.wait_for(lambda t, b: t == "edgechat/sync/stored" and b.get("requestId") == "in1")
            # Notices leave in order on one connection: once the remote one is
            # here, any for the text messages sent before it would be too.
            listener.wait_for(lambda t, b: t == PICTURES_TOPIC and b.get("messageId") == "remotepicture1")
            notices = [body for topic, body in listener.received if topic == PICTURES_TOPIC]
            assert notices == [
                {"room": "lobby", "messageId": "01LOCAL000000000000000001", "pictures": [SHA_LOCAL]},
                {"room": "lobby", "messageId": "remotepicture1", "pictures": [SHA_REMOTE]},
            ]
            # A resend is a duplicate: stored once, announced once.
            post(alice, "01LOCAL000000000000000001", "my cat", SHA_LOCAL)
            post(alice, "01LOCAL000000000000000009", "the same picture again", SHA_REMOTE)
            last = "01LOCAL000000000000000009"
            listener.wait_for(lambda t, b: t == PICTURES_TOPIC and b.get("messageId") == last)
            assert [b["messageId"] for t, b in listener.received if t == PICTURES_TOPIC] == [
                "01LOCAL000000000000000001",
                "remotepicture1",
                "01LOCAL000000000000000009",
            ]
        finally:
            alice.close()
            listener.close()
