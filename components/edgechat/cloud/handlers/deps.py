"""What the handlers need from the world, injected: AWS builds it from the
environment once per container; the local cloud and the tests pass their own."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from edgechat.cloud.dynamo import DynamoStore
from edgechat.cloud.reactions import DynamoReactions, DynamoTyping
from edgechat.cloud.state import RouterState
from edgechat.core.router import RouterConfig
from edgechat.core.stream import StreamLimits

Publish = Callable[[str, bytes], None]


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass
class Deps:
    store: DynamoStore
    state: RouterState
    publish: Publish
    config: RouterConfig
    now_ms: Callable[[], int] = field(default=wall_ms)
    reactions: DynamoReactions | None = None  # StreamFunction's reaction sets
    typing: DynamoTyping | None = None  # StreamFunction's who-is-typing, across batches


def build(dynamodb: Any, table: str, site: str, publish: Publish, retention_days: int | None) -> Deps:
    retention_s = retention_days * 86400 if retention_days else None
    return Deps(
        store=DynamoStore(dynamodb, table, retention_s=retention_s),
        state=RouterState(dynamodb, table, site),
        publish=publish,
        config=RouterConfig(site=site),
        reactions=DynamoReactions(dynamodb, table),
        typing=DynamoTyping(dynamodb, table, StreamLimits().typing_ttl_ms),
    )


@cache
def from_env() -> Deps:
    """Lambda: clients made once per container, on first use (never at import)."""
    import boto3

    iot = boto3.client("iot-data", endpoint_url=f"https://{os.environ['EDGECHAT_IOT_ENDPOINT']}")

    def publish(topic: str, payload: bytes) -> None:
        iot.publish(topic=topic, qos=1, payload=payload)

    return build(
        boto3.client("dynamodb"),
        os.environ["EDGECHAT_TABLE"],
        os.environ.get("EDGECHAT_SITE", "cloud"),
        publish,
        int(os.environ.get("EDGECHAT_RETENTION_DAYS", "30")),
    )
