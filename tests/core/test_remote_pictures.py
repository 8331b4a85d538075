"""Picture messages made at another site (or in the cloud) keep their pictures
when they enter a store, and may be wordless, as from a client."""

import pytest

from edgechat.core.remote import BadRemoteMessage, parse_message
from edgechat.store import MemoryStore
from tests.core.test_remote import event

SHA = "9f" * 32
PICTURE = {"kind": "picture", "sha256": SHA, "type": "image/webp", "bytes": 1234, "width": 640, "height": 480,
           "thumbnail": {"type": "image/jpeg", "width": 320, "height": 240},
           "labels": [{"name": "Cat", "confidence": 91.5}]}  # fmt: skip


def test_a_remote_picture_message_keeps_its_pictures_across_a_store():
    message = parse_message(event(text="", attachments=[PICTURE]), 4000)
    assert message.text == "" and [a.sha256 for a in message.attachments] == [SHA]
    assert message.attachments[0].labels == ()  # labels are each site's own
    store = MemoryStore()
    ((stored, created),) = store.add_remote([message])
    assert created
    again = parse_message(stored.to_event(), 4000)  # what this site would pass on
    assert again.attachments == message.attachments


@pytest.mark.parametrize(
    "over",
    [
        {"text": ""},  # no words and no picture
        {"attachments": [{**PICTURE, "sha256": "../x"}]},
        {"attachments": [PICTURE] * 5},
        {"attachments": "nope"},
    ],
)
def test_bad_remote_pictures_are_refused_with_a_reason(over):
    with pytest.raises(BadRemoteMessage, match="message: "):
        parse_message(event(**over), 4000)
