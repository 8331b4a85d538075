"""Typed Lambda events: raw dicts become frozen objects at the entry, once.

Each ``from_event`` raises ``BadEvent`` for a shape the template's rules never
produce; the handlers log and drop those (retrying cannot fix them).
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any, Final

# A browser's client id on IoT Core is its Cognito identity id ("<region>:<uuid>",
# which the IoT policy binds it to); at the edge and locally, the edge's form.
CLIENT_ID_RE: Final = re.compile(r"[A-Za-z0-9_-]{1,64}|[a-z]{2}(?:-[a-z]+)+-\d:[0-9a-f-]{36}")
THING_RE: Final = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")


class BadEvent(ValueError):
    """The event is not what the rule or event source sends."""


def _str(raw: dict[str, Any], key: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str):
        raise BadEvent(f"{key}: missing or not a string")
    return value


def _int(raw: dict[str, Any], key: str) -> int:
    value = raw.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadEvent(f"{key}: missing or not an integer")
    return value


def _b64(raw: dict[str, Any], key: str) -> bytes:
    try:
        return base64.b64decode(_str(raw, key), validate=True)
    except binascii.Error as exc:
        raise BadEvent(f"{key}: not base64") from exc


def client_id(value: str) -> str:
    if not CLIENT_ID_RE.fullmatch(value):
        raise BadEvent("clientId: not a client id")
    return value


@dataclass(frozen=True, slots=True)
class ClientRequest:
    """RouterFunction's rule: a client's raw request from ``chat/out/{clientId}``."""

    client_id: str
    payload: bytes
    received_ms: int

    @classmethod
    def from_event(cls, raw: dict[str, Any]) -> ClientRequest:
        return cls(client_id(_str(raw, "clientId")), _b64(raw, "payload"), _int(raw, "receivedMs"))


@dataclass(frozen=True, slots=True)
class Disconnected:
    """PresenceFunction's rule: IoT Core's lifecycle event for a dropped client."""

    client_id: str
    timestamp_ms: int

    @classmethod
    def from_event(cls, raw: dict[str, Any]) -> Disconnected:
        if raw.get("eventType") != "disconnected":
            raise BadEvent("eventType: not disconnected")
        return cls(client_id(_str(raw, "clientId")), _int(raw, "timestamp"))


@dataclass(frozen=True, slots=True)
class SyncUp:
    """SyncFunction's rule: a batch from an edge core on ``sync/{thing}/up``."""

    thing: str
    payload: bytes
    received_ms: int

    @classmethod
    def from_event(cls, raw: dict[str, Any]) -> SyncUp:
        thing = _str(raw, "thingName")
        if not THING_RE.fullmatch(thing):
            raise BadEvent("thingName: not a site id")
        return cls(thing, _b64(raw, "payload"), _int(raw, "receivedMs"))


@dataclass(frozen=True, slots=True)
class KinesisRecord:
    """One record of a Kinesis batch; ``data`` is what the StreamRule put there."""

    sequence_number: str
    partition_key: str
    data: bytes

    @classmethod
    def from_record(cls, raw: dict[str, Any]) -> KinesisRecord:
        k = raw.get("kinesis")
        if not isinstance(k, dict):
            raise BadEvent("kinesis: missing")
        return cls(_str(k, "sequenceNumber"), _str(k, "partitionKey"), _b64(k, "data"))


def kinesis_records(raw: dict[str, Any]) -> list[KinesisRecord]:
    records = raw.get("Records")
    if not isinstance(records, list):
        raise BadEvent("Records: missing")
    return [KinesisRecord.from_record(r) for r in records]


@dataclass(frozen=True, slots=True)
class HistoryQuery:
    """HistoryFunction: ``GET /history/{room}?before=|after=&limit=`` (HTTP API v2)."""

    room: str
    params: dict[str, str]

    @classmethod
    def from_event(cls, raw: dict[str, Any]) -> HistoryQuery:
        path = raw.get("pathParameters") or {}
        query = raw.get("queryStringParameters") or {}
        if not isinstance(path, dict) or not isinstance(query, dict):
            raise BadEvent("not an HTTP API event")
        return cls(_str(path, "room"), {k: v for k, v in query.items() if isinstance(v, str)})
