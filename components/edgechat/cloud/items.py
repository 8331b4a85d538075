"""Plain Python values <-> DynamoDB's typed attribute values, for the low-level
client every cloud store uses (one place, so all items are written alike)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

_ser = TypeSerializer()
_de = TypeDeserializer()


def ddb_dump(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _ser.serialize(v) for k, v in item.items()}


def ddb_load(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _de.deserialize(v) for k, v in item.items()}


def ddb_value(v: Any) -> dict[str, Any]:
    return _ser.serialize(v)


def pages(call: Callable[..., dict[str, Any]], **kwargs: Any) -> Iterator[dict[str, Any]]:
    """Every page of a DynamoDB query or scan, following ``LastEvaluatedKey``."""
    while True:
        got = call(**kwargs)
        yield got
        if "LastEvaluatedKey" not in got:
            return
        kwargs["ExclusiveStartKey"] = got["LastEvaluatedKey"]
