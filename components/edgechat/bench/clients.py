"""Who takes part in a load run: subscribers and publishers as ClientSpecs,
spread over worker processes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from edgechat.bench.loadgen import ClientSpec, WorkerSpec
from edgechat.bench.stack import Stack

T = TypeVar("T")


def spread(items: Sequence[T], parts: int) -> list[list[T]]:
    """``items`` dealt round-robin into at most ``parts`` non-empty lists."""
    out: list[list[T]] = [list(items[i::parts]) for i in range(parts)]
    return [p for p in out if p]


def rooms(n: int) -> list[str]:
    return [f"bench-{i}" for i in range(n)]


def subscribers(stack: Stack, room_names: Sequence[str], per_room: int) -> list[ClientSpec]:
    creds = stack.credentials(len(room_names) * per_room)
    return [
        ClientSpec(c.client_id, c.username, c.password, stack.mqtt_port, subscribe=(f"chat/pub/{room}",))
        for c, room in zip(creds, [r for r in room_names for _ in range(per_room)], strict=True)
    ]


def chat_publishers(stack: Stack, room_names: Sequence[str], count: int) -> list[ClientSpec]:
    """Clients that talk through the Router and wait for durable acks."""
    creds = stack.credentials(count)
    return [
        ClientSpec(
            c.client_id,
            c.username,
            c.password,
            stack.mqtt_port,
            subscribe=(f"chat/in/{c.client_id}",),
            room=room_names[i % len(room_names)],
        )
        for i, c in enumerate(creds)
    ]


def raw_publishers(stack: Stack, room_names: Sequence[str], count: int) -> list[ClientSpec]:
    """The raw-broker baseline: straight to ``chat/pub/<room>`` on the same
    broker (internal listener, system account), same QoS, same subscribers."""
    password = stack.system_password()
    return [
        ClientSpec(
            f"bench-raw-{i}",
            stack.system_user,
            password,
            stack.internal_port,
            room=room_names[i % len(room_names)],
        )
        for i in range(count)
    ]


def specs(groups: Sequence[Sequence[ClientSpec]], mode: str) -> list[WorkerSpec]:
    return [WorkerSpec(tuple(g), mode=mode) for g in groups]
