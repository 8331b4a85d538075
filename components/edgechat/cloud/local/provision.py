"""Create what the template declares on moto_server: the table (with its TTL),
the stream, the Cognito identity pool and the pictures bucket."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from edgechat.cloud import template


@dataclass(frozen=True, slots=True)
class Provisioned:
    table: str
    stream: str
    identity_pool_id: str
    pictures_bucket: str


def provision(session: Any, endpoint: str, prefix: str = "edgechat-local") -> Provisioned:
    """``session`` is a boto3 Session; everything is made at ``endpoint`` (moto)."""
    tpl = template.load()
    db = session.client("dynamodb", endpoint_url=endpoint)
    table = f"{prefix}-chat"
    db.create_table(**template.create_table_args(tpl, "ChatTable", table))
    db.update_time_to_live(
        TableName=table,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": template.ttl_attribute(tpl, "ChatTable")},
    )
    kinesis = session.client("kinesis", endpoint_url=endpoint)
    stream = f"{prefix}-stream"
    kinesis.create_stream(StreamName=stream, ShardCount=1)
    for _ in range(100):
        if kinesis.describe_stream(StreamName=stream)["StreamDescription"]["StreamStatus"] == "ACTIVE":
            break
        time.sleep(0.05)
    cognito = session.client("cognito-identity", endpoint_url=endpoint)
    pool = cognito.create_identity_pool(
        IdentityPoolName="edgechat_local", AllowUnauthenticatedIdentities=True
    )
    s3 = session.client("s3", endpoint_url=endpoint)
    pictures = f"{prefix}-pictures"
    s3.create_bucket(Bucket=pictures)
    s3.put_public_access_block(Bucket=pictures, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    })  # fmt: skip
    s3.put_bucket_encryption(Bucket=pictures, ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}],
    })  # fmt: skip
    return Provisioned(table, stream, pool["IdentityPoolId"], pictures)
