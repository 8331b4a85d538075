"""The topic model of docs/protocol.md, as pure functions.

| topic                  | publisher        | subscriber        |
| chat/out/{clientId}    | that client      | Router            |
| chat/in/{clientId}     | system           | that client       |
| chat/pub/{room}        | system           | any signed-in one |
| chat/stream/{clientId} | that client      | Stream            |
"""

from __future__ import annotations

from typing import Final

from edgechat.core import names

ROOT: Final = "chat"
SERVICE_ROOT: Final = "edgechat"  # service-to-service topics, never open to clients
OUT_FILTER: Final = f"{ROOT}/out/+"
STREAM_FILTER: Final = f"{ROOT}/stream/+"
PUB_FILTER: Final = f"{ROOT}/pub/#"
# Sync (docs/sync.md): messages from elsewhere to the Router, its answers
# (system accounts only), and Sync's state, retained, for signed-in clients.
SYNC_IN: Final = f"{SERVICE_ROOT}/sync/in"
SYNC_STORED: Final = f"{SERVICE_ROOT}/sync/stored"
# The Router to Sync, after a commit that queued something in the outbox: read it.
SYNC_OUTBOX: Final = f"{SERVICE_ROOT}/sync/outbox"
SYNC_STATE: Final = f"{ROOT}/sync/state"


def client_in(client_id: str) -> str:
    return f"{ROOT}/in/{client_id}"


def client_out(client_id: str) -> str:
    return f"{ROOT}/out/{client_id}"


def client_stream(client_id: str) -> str:
    return f"{ROOT}/stream/{client_id}"


def room_pub(room: str) -> str:
    return f"{ROOT}/pub/{room}"


def sender_of(topic: str) -> str:
    """The client id in ``chat/out/{id}`` or ``chat/stream/{id}``; ClientError if none."""
    parts = topic.split("/")
    if len(parts) != 3 or parts[0] != ROOT or parts[1] not in ("out", "stream"):
        return names.client_id(None, "topic")
    return names.client_id(parts[2], "topic")
