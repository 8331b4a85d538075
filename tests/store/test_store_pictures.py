"""The store contract for picture attachments and labels: every MessageStore
keeps a message's pictures and joins the labels known by picture hash into history."""

from dataclasses import replace

import pytest

from edgechat.core.attachments import Attachment, PictureLabel
from edgechat.store import SqliteStore
from tests.store.test_store_contract import message, store  # noqa: F401 - the shared fixture

CAT = "a" * 64
CUP = "b" * 64


def picture(sha: str, kind: str = "image/jpeg") -> Attachment:
    return Attachment(sha, kind, 48213, 451, 300, 320, 213)


def test_attachments_are_kept_and_labels_joined_by_picture(store):  # noqa: F811
    store.add([
        replace(message("m1", ts=1), attachments=(picture(CAT), picture(CUP, "image/png"))),
        message("m2", ts=2),
        replace(message("m3", ts=3), attachments=(picture(CAT),)),  # the same picture again
    ])  # fmt: skip
    page, _ = store.history("r")
    assert [len(m.attachments) for m in page] == [1, 0, 2]
    assert page[2].attachments == (picture(CAT), picture(CUP, "image/png"))  # no labels yet

    store.put_labels(CAT, [PictureLabel("Cat", 94.1), PictureLabel("Animal", 97.3)])
    page, _ = store.history("r", after=0)
    cats = [a for m in page for a in m.attachments if a.sha256 == CAT]
    assert len(cats) == 2 and all(
        a.labels == (PictureLabel("Animal", 97.3), PictureLabel("Cat", 94.1)) for a in cats
    )
    (cup,) = [a for a in page[0].attachments if a.sha256 == CUP]
    assert cup.labels == ()
    assert store.picture_labels([CAT, CUP]) == {
        CAT: (PictureLabel("Animal", 97.3), PictureLabel("Cat", 94.1))
    }  # ranked

    store.put_labels(CAT, [PictureLabel("Dog", 60.0)])  # relabelled (a new model): replaced
    assert store.history("r", limit=1)[0][0].attachments[0].labels == (PictureLabel("Dog", 60.0),)


def test_a_resent_picture_message_finds_the_first_copy(store):  # noqa: F811
    first = replace(message("p1"), attachments=(picture(CAT),))
    store.add([first])
    ((again, created),) = store.add([replace(first, attachments=(picture(CUP),))])
    assert not created and again.attachments == (picture(CAT),)


def test_sqlite_keeps_pictures_and_labels_across_reopen(tmp_path):
    s = SqliteStore(tmp_path / "m.db")
    s.add([replace(message("m1"), attachments=(picture(CAT),))])
    s.put_labels(CAT, [PictureLabel("Cat", 90.0)])
    s.close()
    s = SqliteStore(tmp_path / "m.db")
    try:
        ((m,), _) = s.history("r")
        assert m.attachments == (replace(picture(CAT), labels=(PictureLabel("Cat", 90.0),)),)
    finally:
        s.close()


@pytest.mark.parametrize("count", [1, 150])
def test_a_batch_of_picture_messages_is_stored_whole(store, count):  # noqa: F811
    if count > 20 and type(store).__name__ == "DynamoStore":
        pytest.skip("moto answers ~30 queries/s: the large batch is for the local stores")
    msgs = [
        replace(message(f"batch{i:04d}", ts=i), attachments=(picture(f"{i:064x}"),)) for i in range(count)
    ]
    out = store.add(msgs)
    assert all(created for _, created in out)
    page, _ = store.history("r", after=0, limit=200)
    assert [m.attachments[0].sha256 for m in page] == [f"{i:064x}" for i in range(count)]
