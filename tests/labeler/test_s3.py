"""Pictures to S3: the pure plan, and the adapter against moto_server's S3."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import pytest

from edgechat.core.attachments import Attachment, attachment
from edgechat.labeler.intake import PictureStore, accept
from edgechat.labeler.s3 import Ledger, S3Pictures, UploadPlan, object_key, pictures_to_upload, upload_pending
from tests.support.moto import client


def ref(sha: str) -> Attachment:
    return Attachment(sha, "image/jpeg", 10, 4, 3, 4, 3)


def test_the_plan_uploads_each_missing_picture_once_in_order() -> None:
    a, b, c, d = ("a" * 64, "b" * 64, "c" * 64, "d" * 64)
    plan = pictures_to_upload([ref(b), ref(a), ref(b), ref(c), ref(d)], frozenset({a}), frozenset({a, b, d}))
    assert plan == UploadPlan(upload=(b, d), missing=(c,))
    assert pictures_to_upload([], frozenset(), frozenset()) == UploadPlan((), ())
    assert object_key(a, "png") == f"pictures/{a}"  # the app's URL paths
    assert object_key(a, "png", thumbnail=True) == f"pictures/{a}/thumb"
    for bad in (("../x", "jpg"), (a, "html")):
        with pytest.raises(ValueError):
            object_key(*bad)


@pytest.fixture
def bucket(moto_url) -> tuple[Any, str]:
    """(an S3 client on moto_server, a new empty bucket)."""
    s3 = client(moto_url, "s3")
    name = f"pictures-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name)
    return s3, name


def test_pictures_reach_s3_once_and_a_retry_writes_the_same_objects(bucket, tmp_path, photos) -> None:
    s3, bucket = bucket
    store = PictureStore.in_data_dir(tmp_path)
    cat = accept(photos["chelsea"], store).picture
    cup = accept(photos["coffee"], store).picture
    refs = [attachment(cat.to_json()), attachment(cup.to_json()), attachment(cat.to_json())]
    elsewhere = ref("e" * 64)  # a picture from another site: not on this core
    pictures = S3Pictures(s3, bucket, store)
    ledger = Ledger.in_data_dir(tmp_path)
    try:
        plan = upload_pending([*refs, elsewhere], pictures, ledger)
        assert plan.upload == (cat.sha256, cup.sha256) and plan.missing == ("e" * 64,)
        got = s3.get_object(Bucket=bucket, Key=object_key(cat.sha256, "jpg"))
        body = got["Body"].read()
        assert hashlib.sha256(body).hexdigest() == cat.sha256 and body == cat.data
        assert got["ContentType"] == "image/jpeg" and got["Metadata"]["picture-sha256"] == cat.sha256
        thumb = s3.get_object(Bucket=bucket, Key=object_key(cat.sha256, "jpg", thumbnail=True))
        assert thumb["Body"].read() == cat.thumbnail
        keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"])
        assert len(keys) == 4

        assert upload_pending(refs, pictures, ledger).upload == ()  # the ledger remembers
        ledger.close()
        ledger = Ledger.in_data_dir(tmp_path / "forgot")  # a lost ledger: uploaded again, same keys
        assert upload_pending(refs, pictures, ledger).upload == (cat.sha256, cup.sha256)
        assert sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]) == keys
    finally:
        ledger.close()


def test_a_picture_damaged_on_disk_is_not_uploaded(bucket, tmp_path, photos) -> None:
    s3, bucket = bucket
    store = PictureStore.in_data_dir(tmp_path)
    cat = accept(photos["chelsea"], store).picture
    pictures = S3Pictures(s3, bucket, store)
    path = store.find(cat.sha256)
    path.write_bytes(path.read_bytes()[:-10] + b"0123456789")  # damaged on disk
    with pytest.raises(ValueError, match="does not match"):
        pictures.upload(cat.sha256)
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)  # neither picture nor thumbnail
    # (Real S3 also checks the body against ChecksumSHA256; moto_server does not.)
