"""``edgechat mod ...`` and ``edgechat rooms``: moderation for scripts.

Each command prints the Router's answer as one JSON object and exits 0, or 1
when the answer is an error (the ``code`` says why; docs/protocol.md).
``grant``/``ungrant`` only edit the roles file and need no running core.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
from typing import Any

from edgechat.core import names
from edgechat.core.errors import ClientError


def _settings(args: argparse.Namespace) -> Any:
    from edgechat.cli import _settings as settings_of

    return settings_of(args)


def _ask(args: argparse.Namespace, request: dict[str, Any]) -> int:
    from edgechat.mod.client import NotRunning, operator

    try:
        with operator(_settings(args)) as op:
            answer = op.ask(request)
    except (NotRunning, TimeoutError, OSError) as exc:
        print(f"edgechat: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(answer, indent=None if args.command == "mod" else 2, ensure_ascii=False))
    return 1 if answer.get("type") == "error" else 0


def _request(args: argparse.Namespace) -> dict[str, Any]:
    a = args.action
    match a:
        case "ban":
            out: dict[str, Any] = {"type": "ban", "clientId": args.client}
            if args.reason:
                out["reason"] = args.reason
            if args.minutes:
                out["minutes"] = args.minutes
            return out
        case "unban":
            return {"type": "unban", "clientId": args.client}
        case "mute":
            return {"type": "mute", "clientId": args.client, "room": args.room, "minutes": args.minutes}
        case "unmute":
            return {"type": "unmute", "clientId": args.client, "room": args.room}
        case "lock" | "unlock":
            return {"type": a, "room": args.room}
        case "announce":
            return {"type": "announce", "room": args.room, "text": args.text}
        case "unpin":
            return {"type": "announce", "room": args.room}
        case "notice":
            target = {"room": args.room} if args.room else {"clientId": args.client}
            return {"type": "notice", "text": args.text, **target}
        case "delete":
            return {
                "type": "delete",
                "id": f"op{secrets.token_hex(8)}",
                "target": args.message,
                "room": args.room,
            }
        case "audit":
            return {"type": "audit", "limit": args.limit}
        case "app-update":
            extra = {k: v for k, v in (("version", args.version), ("note", args.note)) if v}
            return {"type": "appUpdate", **extra}
    raise AssertionError(a)  # pragma: no cover


def cmd_mod(args: argparse.Namespace) -> int:
    return _ask(args, _request(args))


def cmd_grant(args: argparse.Namespace) -> int:
    from edgechat.broker.roles import set_moderator

    try:
        client_id = names.client_id(args.client)
    except ClientError as exc:
        print(f"edgechat: {exc.message}", file=sys.stderr)
        return 2
    changed = set_moderator(_settings(args), client_id, args.action == "grant")
    print(json.dumps({"clientId": client_id, "moderator": args.action == "grant", "changed": changed}))
    return 0


def cmd_rooms(args: argparse.Namespace) -> int:
    return _ask(args, {"type": "console"})


def register(sub: argparse._SubParsersAction) -> None:
    def data_dir(p: argparse.ArgumentParser) -> None:
        p.add_argument("--data-dir", help="where edgechat keeps its files (default var/edgechat)")
        p.add_argument("--config", help="a JSON settings file (see docs/operations.md)")

    mod = sub.add_parser(
        "mod", help="moderation: ban, mute, lock, announce, delete, audit (docs/operations.md)"
    )
    actions = mod.add_subparsers(dest="action", required=True)

    def action(name: str, help_: str, *positional: str) -> argparse.ArgumentParser:
        p = actions.add_parser(name, help=help_)
        data_dir(p)
        for arg in positional:
            p.add_argument(arg)
        p.set_defaults(func=cmd_mod)
        return p

    ban = action("ban", "revoke a client's credential, disconnect it, keep its address out", "client")
    ban.add_argument("--reason")
    ban.add_argument("--minutes", type=int, help="how long its address gets no session (default: ban_hours)")
    action("unban", "let a banned client's address have sessions again", "client")
    action("mute", "refuse a client's messages in a room for a while", "client", "room").add_argument(
        "--minutes", type=int, default=10
    )
    action("unmute", "lift a mute", "client", "room")
    action("lock", "make a room read-only (moderators still speak)", "room")
    action("unlock", "let everyone speak in a room again", "room")
    action("announce", "pin an announcement at the top of a room", "room", "text")
    action("unpin", "take a room's announcement down", "room")
    notice = action("notice", "a line of text to a room or to one client", "text")
    where = notice.add_mutually_exclusive_group(required=True)
    where.add_argument("--room")
    where.add_argument("--client")
    action("delete", "delete any message", "room", "message")
    action("audit", "the newest moderation actions").add_argument("--limit", type=int, default=50)
    update = action("app-update", "tell open pages a new app version is served (they offer a reload)")
    update.add_argument("--version")
    update.add_argument("--note")
    for name, help_ in (("grant", "make a client a moderator"), ("ungrant", "take the moderator role")):
        p = actions.add_parser(name, help=help_)
        data_dir(p)
        p.add_argument("client")
        p.set_defaults(func=cmd_grant)

    rooms = sub.add_parser("rooms", help="rooms, who is in them, locks, mutes, rates, disk and sync (JSON)")
    data_dir(rooms)
    rooms.set_defaults(func=cmd_rooms)
