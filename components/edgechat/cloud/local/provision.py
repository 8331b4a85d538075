"""Create what the template declares on moto_server: the table (with its TTL),
the stream and the Cognito identity pool."""

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
    return Provisioned(table, stream, pool["IdentityPoolId"])
