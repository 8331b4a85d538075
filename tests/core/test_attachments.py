"""Picture attachments on messages: parsed once, limits enforced, typed errors."""

import json

import pytest

from edgechat.core.attachments import (
    MAX_ATTACHMENTS,
    MAX_LABELS,
    Attachment,
    PictureLabel,
    PictureNotice,
    labels_update,
    parse_labels_update,
    parse_picture_notice,
    picture_notice,
)
from edgechat.core.errors import ClientError
from edgechat.core.protocol import Limits, SendMessage, parse_request
from edgechat.core.router import Broadcast, Router, RouterConfig, StoreMessage

SHA = "0123456789abcdef" * 4


def picture(**over):
    thumb = {"type": "image/jpeg", "width": 320, "height": 213}
    ref = {"kind": "picture", "sha256": SHA, "type": "image/jpeg", "bytes": 48213,
           "width": 451, "height": 300, "thumbnail": thumb}  # fmt: skip
    return {**ref, **over}


def send(**fields) -> bytes:
    message = {"type": "message", "id": "01PICTURE000000000000000A", "room": "lobby", **fields}
    return json.dumps(message).encode()


def test_a_message_carries_pictures_to_its_event():
    req = parse_request(send(text="my cat", attachments=[picture()]), Limits())
    assert isinstance(req, SendMessage)
    assert req.attachments == (Attachment(SHA, "image/jpeg", 48213, 451, 300, 320, 213),)
    (effect,) = Router(RouterConfig()).receive("alice", send(text="my cat", attachments=[picture()]), 1000)
    assert isinstance(effect, StoreMessage)
    event = effect.message.to_event()
    assert event["attachments"] == [picture()]  # labels only once known


def test_a_picture_needs_no_words_but_a_message_without_one_does():
    for fields in ({"attachments": [picture()]}, {"text": "", "attachments": [picture()]}):
        assert parse_request(send(**fields), Limits()).text == ""
    with pytest.raises(ClientError) as err:
        parse_request(send(text=""), Limits())
    assert err.value.field == "text"
    assert parse_request(send(text="hi"), Limits()).attachments == ()


@pytest.mark.parametrize(
    ("attachments", "code", "field"),
    [
        ("nope", "invalid_field", "attachments"),
        ([picture()] * 2, "invalid_field", "attachments"),
        ([picture(sha256=f"{i:064x}") for i in range(MAX_ATTACHMENTS + 1)], "too_large", "attachments"),
        ([picture(kind="file")], "invalid_field", "attachments[0].kind"),
        ([picture(sha256="../../etc/passwd")], "invalid_field", "attachments[0].sha256"),
        ([picture(sha256=SHA.upper())], "invalid_field", "attachments[0].sha256"),
        ([picture(type="image/svg+xml")], "invalid_field", "attachments[0].type"),
        ([picture(type="text/html")], "invalid_field", "attachments[0].type"),
        ([picture(bytes=0)], "invalid_field", "attachments[0].bytes"),
        ([picture(bytes=11 * 1024 * 1024)], "invalid_field", "attachments[0].bytes"),
        ([picture(width=True)], "invalid_field", "attachments[0].width"),
        ([picture(height=70_000)], "invalid_field", "attachments[0].height"),
        ([picture(thumbnail="x.jpg")], "invalid_field", "attachments[0].thumbnail"),
        ([picture(thumbnail={"type": "text/html", "width": 1, "height": 1})], "invalid_field",
         "attachments[0].thumbnail"),
        ([picture(thumbnail={"width": 999, "height": 2})], "invalid_field",
         "attachments[0].thumbnail.width"),
        ([picture(), "x"], "invalid_field", "attachments[1]"),
    ],
)  # fmt: skip
def test_bad_attachments_get_a_typed_error_naming_the_field(attachments, code, field):
    router = Router(RouterConfig())
    (reply,) = router.receive("alice", send(text="x", attachments=attachments), 1000)
    assert reply.event["type"] == "error"
    assert (reply.event["code"], reply.event["field"]) == (code, field)
    assert reply.event["ref"] == "01PICTURE000000000000000A"


def test_labels_updates_are_validated_and_ranked():
    many = [{"name": f"L{i}", "confidence": i} for i in range(MAX_LABELS + 5)]
    sha, labels = parse_labels_update(json.dumps({"picture": SHA, "labels": many}).encode())
    assert sha == SHA and len(labels) == MAX_LABELS
    assert labels[0] == PictureLabel(f"L{MAX_LABELS + 4}", float(MAX_LABELS + 4))
    again = parse_labels_update(json.dumps(labels_update(SHA, labels)).encode())
    assert again == (SHA, labels)
    bad_labels = [{"name": "", "confidence": 5}], [{"name": "Cat", "confidence": 101}], [{"name": "a\nb"}]
    for bad in (b"{", b"[]", json.dumps({"picture": "x", "labels": []}).encode(),
                *(json.dumps({"picture": SHA, "labels": b}).encode() for b in bad_labels)):  # fmt: skip
        with pytest.raises(ClientError):
            parse_labels_update(bad)


def test_only_stored_messages_with_pictures_reach_the_labeler():
    """The Router's rule for edgechat/pictures: the stored message's event as
    announced, reduced to room, id and distinct valid picture hashes."""
    router = Router(RouterConfig())
    (store,) = router.receive("alice", send(text="my cat", attachments=[picture()]), 1000)
    broadcast = router.stored(store.message, store.message, True)[0]
    assert isinstance(broadcast, Broadcast)
    notice = picture_notice(broadcast.event)
    assert notice == PictureNotice("lobby", "01PICTURE000000000000000A", (SHA,))
    assert parse_picture_notice(json.dumps(notice.to_json()).encode()) == notice

    (plain,) = router.receive("alice", send(id="01PLAINTEXT0000000000000A", text="hi"), 1000)
    assert picture_notice(plain.message.to_event()) is None  # most messages: nothing for the Labeler
    other = "f" * 64
    odd = {"type": "message", "id": "m1234567", "room": "lobby", "attachments": [
        picture(), picture(), {"kind": "picture", "sha256": "../../etc/passwd"},
        {"kind": "file", "sha256": other}, "junk"]}  # fmt: skip
    assert picture_notice(odd) == PictureNotice("lobby", "m1234567", (SHA,))
    for event in (
        {**odd, "type": "messageEdited"}, {**odd, "type": "presence"}, {**odd, "attachments": "nope"},
        {"type": "labels", "room": "lobby", "picture": SHA},  # the Labeler's own events
        {**odd, "attachments": [{"kind": "file", "sha256": other}]},
    ):  # fmt: skip
        assert picture_notice(event) is None, event


@pytest.mark.parametrize("payload", [
    b"{", b"[]", b'{"room": "lobby", "messageId": "m1234567"}',
    b'{"room": "lobby", "messageId": "m1234567", "pictures": []}',
    b'{"room": "lobby", "messageId": "m1234567", "pictures": ["x"]}',
    b'{"room": "a/b", "messageId": "m1234567", "pictures": ["' + SHA.encode() + b'"]}',
    b'{"room": "lobby", "messageId": "#", "pictures": ["' + SHA.encode() + b'"]}',
    json.dumps({"room": "lobby", "messageId": "m1234567", "pictures": [SHA] * 5}).encode(),
])  # fmt: skip
def test_a_bad_picture_notice_is_a_typed_error(payload):
    with pytest.raises(ClientError):
        parse_picture_notice(payload)
