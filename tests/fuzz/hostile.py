"""Hostile payloads for chat/out: random bytes, mutated requests, broken JSON,
odd Unicode, oversize and deeply nested documents, mixed with valid requests.

``payloads(seed)`` yields (payload, expects_reply) forever; it is deterministic
for a seed so a failure can be replayed.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from typing import Any

from edgechat.core.errors import ClientError
from edgechat.core.protocol import Bye, Limits, parse_request

ODD_STRINGS = [
    "", " ", "\u0000", "\u202e", "\ud800", "\U0001f600", "a" * 70, "x" * 5000, "+", "#", "/", "$SYS",
    "<script>alert(1)</script>", "\"'", "\\", "lobby/#", "Lobby", "0" * 64, "-", "é", "\r\n", "%s%n",
]  # fmt: skip
ODD_VALUES: list[Any] = [
    None, True, False, 0, -1, 2**63, 2**53 + 1, 1.5, float("inf"), [], {}, [1, [2, [3]]], {"$": 1},
    *ODD_STRINGS,
]  # fmt: skip
TYPES = [
    "message", "hello", "join", "leave", "history", "rooms", "bye", "exec", "", "MESSAGE", None, 5,
    "edit", "delete", "ban",
]  # fmt: skip
FIELDS = [
    "type", "id", "room", "text", "nick", "before", "after", "limit", "replyTo", "requestId",
    "target", "clientId", "minutes",
]  # fmt: skip
# Moderation requests, from a client that is no moderator: each must get not_allowed.
MODERATION = [
    {"type": "mute", "room": "fuzz", "clientId": "someone", "minutes": 5},
    {"type": "ban", "clientId": "someone"}, {"type": "lock", "room": "fuzz"},
    {"type": "announce", "room": "fuzz", "text": "x"}, {"type": "audit"},
    {"type": "console"}, {"type": "notice", "room": "fuzz", "text": "x"}, {"type": "appUpdate"},
    {"type": "unmute", "room": "fuzz", "clientId": "someone"}, {"type": "unban", "clientId": "someone"},
    {"type": "unlock", "room": "fuzz"}, {"type": "notice", "clientId": "someone", "text": "<b>x</b>"},
]  # fmt: skip


def _valid(rng: random.Random, n: int, made: list[str] | None = None) -> dict[str, Any]:
    kinds = ["message", "hello", "join", "leave", "history", "rooms", "edit", "delete", "moderation"]
    kind = rng.choice(kinds if made is not None else kinds[:6])
    base: dict[str, Any] = {"type": kind}
    if kind == "message":
        base |= {"id": f"fz{n:010d}{rng.randrange(10**6):06d}", "room": "fuzz", "text": f"fuzz {n}"}
        if made is not None:
            made.append(base["id"])
    elif kind in ("edit", "delete"):  # mostly of the fuzzer's own messages (some not stored, some deleted)
        target = rng.choice(made) if made and rng.random() < 0.8 else f"nosuch{n:08d}"
        base |= {"id": f"rv{n:010d}{rng.randrange(10**6):06d}", "target": target, "room": "fuzz"}
        if kind == "edit":
            base["text"] = f"edited {n}"
    elif kind == "moderation":
        base = dict(rng.choice(MODERATION))
    elif kind in ("join", "leave"):
        base["room"] = "fuzz"
    elif kind == "history":
        base |= {"room": "fuzz", "limit": rng.randrange(1, 20)}
    elif kind == "hello":
        base["nick"] = "fuzzer"
    return base


def _mutate(
    rng: random.Random, obj: dict[str, Any], fields: list[str] = FIELDS, types: list[Any] = TYPES
) -> dict[str, Any]:
    obj = dict(obj)
    for _ in range(rng.randrange(1, 4)):
        op = rng.randrange(4)
        field = rng.choice(fields)
        if op == 0:
            obj.pop(field, None)
        elif op == 1:
            obj[field] = rng.choice(ODD_VALUES)
        elif op == 2:
            obj[field] = rng.choice(types) if field == "type" else rng.choice(ODD_STRINGS)
        else:
            obj[rng.choice(ODD_STRINGS[:8])] = rng.choice(ODD_VALUES)
    return obj


def _dump(obj: Any) -> bytes:
    # allow_nan and surrogates: JSON that a careless client could produce
    return json.dumps(obj, ensure_ascii=True).encode()


def payloads(seed: int) -> Iterator[tuple[bytes, bool]]:
    """(payload, expects_reply): everything but a valid ``bye`` is answered."""
    rng = random.Random(seed)
    n = 0
    made: list[str] = []  # message ids sent, for edits and deletes to name
    while True:
        n += 1
        kind = rng.randrange(10)
        if kind == 0:
            payload = rng.randbytes(rng.randrange(0, 200))
        elif kind == 1:
            text = _dump(_valid(rng, n))
            payload = text[: rng.randrange(0, len(text))]  # truncated
        elif kind == 2:
            depth = rng.randrange(500, 6000)
            payload = b'{"type":"message","x":' + b"[" * depth + b"]" * depth + b"}"
        elif kind == 3:
            payload = _dump(rng.choice([[], "message", 5, None, [{"type": "hello"}]]))
        elif kind == 4:
            payload = _dump(_valid(rng, n) | {"pad": "p" * rng.randrange(16_000, 40_000)})  # too large
        elif kind == 5:
            payload = _dump(_valid(rng, n)).replace(b"fuzz", b"fu\xffzz")  # invalid UTF-8
        elif kind in (6, 7, 8):
            payload = _dump(_mutate(rng, _valid(rng, n, made)))
        else:
            payload = _dump(_valid(rng, n, made))
        yield payload, not _is_bye(payload)


def _is_bye(payload: bytes) -> bool:
    try:
        return isinstance(parse_request(payload, Limits()), Bye)
    except ClientError:
        return False


# --- chat/stream ---------------------------------------------------------------

STREAM_TYPES = ["typing", "reaction", "read", "reading", "reactions", "message", "", None, 7, "TYPING"]
STREAM_FIELDS = ["type", "room", "active", "messageId", "emoji", "remove", "seq", "sensor", "value", "unit"]
STREAM_MIDS = ["01J0000000000000000000FZ01", "01J0000000000000000000FZ02", "fuzz-message-3"]
STREAM_EMOJI = ["👍", "🎉", "<b>x</b>", "e" * 16]


def _valid_stream(rng: random.Random, n: int) -> dict[str, Any]:
    kind = rng.choice(["typing", "reaction", "reaction", "read", "reading", "reactions"])
    base: dict[str, Any] = {"type": kind, "room": "fuzz"}
    if kind == "typing":
        base["active"] = rng.random() < 0.7
    elif kind == "reaction":
        base |= {"messageId": rng.choice(STREAM_MIDS), "emoji": rng.choice(STREAM_EMOJI),
                 "remove": rng.random() < 0.3}  # fmt: skip
    elif kind == "read":
        base["seq"] = rng.randrange(0, 10**6)
    elif kind == "reading":
        base |= {"sensor": rng.choice(["temp", "rh", "co2.ppm"]), "value": rng.uniform(-1e6, 1e6)}
        if rng.random() < 0.5:
            base["unit"] = rng.choice(["°C", "%", "<i>ppm</i>"])
    return base


def stream_payloads(seed: int) -> Iterator[bytes]:
    """Hostile payloads for ``chat/stream/{clientId}``: stream events valid and
    mutated, chat/out requests in the wrong place, junk; deterministic per seed."""
    rng = random.Random(seed)
    requests = payloads(seed + 1)
    n = 0
    while True:
        n += 1
        kind = rng.randrange(10)
        if kind == 0:
            yield rng.randbytes(rng.randrange(0, 200))
        elif kind == 1:
            text = _dump(_valid_stream(rng, n))
            yield text[: rng.randrange(0, len(text))]
        elif kind == 2:
            depth = rng.randrange(100, 3000)
            yield b'{"type":"reading","x":' + b"[" * depth + b"]" * depth + b"}"
        elif kind == 3:
            yield _dump(_valid_stream(rng, n) | {"pad": "p" * rng.randrange(1000, 20_000)})  # too large
        elif kind == 4:
            yield next(requests)[0]  # a chat/out request, or chat/out junk, on the wrong topic
        elif kind == 5:
            yield _dump(_valid_stream(rng, n)).replace(b"fuzz", b"fu\xffzz")  # invalid UTF-8
        elif kind in (6, 7):
            yield _dump(_mutate(rng, _valid_stream(rng, n), STREAM_FIELDS, STREAM_TYPES))
        else:
            yield _dump(_valid_stream(rng, n))
