"""Who is in which room, as plain state with the events its changes make."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from edgechat.core.protocol import Member


def presence_event(room: str, change: str, member: Member, reason: str | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {"type": "presence", "room": room, "change": change, **member.to_json()}
    if reason is not None:
        event["reason"] = reason
    return event


@dataclass
class Presence:
    rooms: dict[str, dict[str, Member]] = field(default_factory=dict)

    def members(self, room: str) -> list[Member]:
        return sorted(self.rooms.get(room, {}).values(), key=lambda m: (m.nick.lower(), m.client_id))

    def rooms_of(self, client_id: str) -> list[str]:
        return sorted(r for r, who in self.rooms.items() if client_id in who)

    def count(self, room: str) -> int:
        return len(self.rooms.get(room, {}))

    def join(self, room: str, member: Member) -> bool:
        """Adds ``member``; True when that changed who is in the room."""
        who = self.rooms.setdefault(room, {})
        before = who.get(member.client_id)
        who[member.client_id] = member
        return before != member

    def leave(self, room: str, client_id: str) -> Member | None:
        who = self.rooms.get(room)
        if not who or client_id not in who:
            return None
        member = who.pop(client_id)
        if not who:
            del self.rooms[room]
        return member
