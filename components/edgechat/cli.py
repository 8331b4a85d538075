"""The ``edgechat`` command: up, credentials, status."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sqlite3
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from edgechat import __version__
from edgechat.core import names
from edgechat.core.errors import ClientError
from edgechat.settings import Settings

log = logging.getLogger("edgechat")


def _settings(args: argparse.Namespace) -> Settings:
    base = Settings.load(Path(args.config) if getattr(args, "config", None) else None)
    settings = base.with_overrides(
        data_dir=args.data_dir,
        host=getattr(args, "host", None),
        mqtt_port=getattr(args, "mqtt_port", None),
        ws_port=getattr(args, "ws_port", None),
        http_port=getattr(args, "http_port", None),
        internal_port=getattr(args, "internal_port", None),
        site_id=getattr(args, "site_id", None),
    )
    # Absolute, so that runtime.json means the same from any working directory.
    return settings.with_overrides(data_dir=settings.data_dir.resolve())


def cmd_up(args: argparse.Namespace) -> int:
    from edgechat.up import StartupError, run_up

    settings = _settings(args)
    try:
        asyncio.run(run_up(settings))
    except StartupError as exc:
        print(f"edgechat: cannot start: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_credentials_new(args: argparse.Namespace) -> int:
    from edgechat.broker.credentials import issue

    nick = None
    if args.nick is not None:
        try:
            nick = names.nick(args.nick)
        except ClientError as exc:
            print(f"edgechat: {exc.message}", file=sys.stderr)
            return 2
    settings = _settings(args)
    creds = issue(settings, nick)
    out = creds.to_json()
    if args.moderator:
        from edgechat.broker.roles import set_moderator

        set_moderator(settings, creds.client_id, True)
        out["moderator"] = True
    print(json.dumps(out, indent=2))
    return 0


def cmd_credentials_revoke(args: argparse.Namespace) -> int:
    from edgechat.broker.credentials import revoke
    from edgechat.broker.roles import set_moderator

    set_moderator(_settings(args), args.client_id, False)  # a role outlives no credential
    if not revoke(_settings(args), args.client_id):
        print(f"edgechat: no credential for {args.client_id}", file=sys.stderr)
        return 1
    return 0


def _store_counts(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {"messages": 0, "rooms": 0}
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=2.0)
    try:
        messages = db.execute("SELECT count(*) FROM messages").fetchone()[0]
        rooms = db.execute("SELECT count(*) FROM rooms").fetchone()[0]
    except sqlite3.Error as exc:
        return {"error": str(exc)}
    finally:
        db.close()
    return {"messages": messages, "rooms": rooms, "bytes": path.stat().st_size}


def cmd_status(args: argparse.Namespace) -> int:
    from edgechat.broker.credentials import urls
    from edgechat.broker.passwords import read_users
    from edgechat.runtime import read_runtime

    settings = _settings(args)
    runtime = read_runtime(settings.paths)
    status: dict[str, Any] = {"dataDir": str(settings.paths.root), "running": runtime is not None}
    if runtime is not None:
        settings = runtime.settings
        status["pid"] = runtime.pid
        status["uptimeS"] = round(time.time() - runtime.started_ms / 1000, 1)
        status["ports"] = {
            "mqtt": settings.mqtt_port, "ws": settings.ws_port, "http": settings.http_port,
            "internal": settings.internal_port,
        }  # fmt: skip
        status["urls"] = asdict(urls(settings))
        live = settings.paths.root / "run" / "status.json"
        if live.exists():
            status.update(json.loads(live.read_text()))
        stream = settings.paths.root / "run" / "stream.json"
        if stream.exists():
            status["stream"] = json.loads(stream.read_text())
        sync = settings.paths.root / "run" / "sync.json"
        if settings.sync_url and sync.exists():
            status["sync"] = json.loads(sync.read_text())
    status["store"] = _store_counts(settings.paths.store)
    status["credentials"] = len(read_users(settings.paths.broker / "clients.passwd"))
    if args.json:
        print(json.dumps(status, indent=2))
    else:
        _print_status(status)
    return 0 if runtime is not None else 1


def _print_status(status: dict[str, Any]) -> None:
    state = f"running (pid {status['pid']}, up {status['uptimeS']} s)" if status["running"] else "stopped"
    print(f"edgechat {state}  data: {status['dataDir']}")
    if "urls" in status:
        print("urls:", "  ".join(status["urls"].values()))
    if "broker" in status:
        broker = status["broker"]
        print(f"broker: {'running' if broker['running'] else 'DOWN'} (pid {broker['pid']})")
    if "router" in status:
        r = status["router"]
        print(
            f"router: {'connected' if r['connected'] else 'DISCONNECTED'}; {r['sessions']} sessions; "
            f"received {r['received']}, stored {r['stored']}, duplicates {r['duplicates']}, "
            f"rejected {r['rejected']}, store failures {r['store_failures']}"
        )
        for room, n in sorted(r["rooms"].items()):
            print(f"  room {room}: {n} present")
    store = status["store"]
    if "error" in store:
        print(f"store: ERROR {store['error']}")
    else:
        print(f"store: {store['messages']} messages in {store['rooms']} rooms")
    print(f"credentials: {status['credentials']} issued")
    if "stream" in status:
        _print_stream(status["stream"])
    if "sync" in status:
        _print_sync(status["sync"])


def _print_stream(s: dict[str, Any]) -> None:
    export, spool = s["export"], s["export"]["spool"]
    print(
        f"stream: {'connected' if s['connected'] else 'DISCONNECTED'}; received {s['received']}, "
        f"accepted {s['accepted']}, rejected {s['rejected']}, {s['windows']} windows"
    )
    link = "" if export["exporter"] == "none" else f" ({'up' if export.get('connected') else 'DOWN'})"
    print(
        f"  export {export['exporter']}{link}: spool {spool['queued']}/{spool['max_events']} queued, "
        f"{spool['exported']} exported, {spool['dropped']} dropped (spool full)"
    )


def _print_sync(s: dict[str, Any]) -> None:
    last = s["lastContactMs"]
    contact = "never" if last is None else f"{(s['updatedMs'] - last) / 1000:.1f} s ago"
    state = "synced" if s["synced"] else ("connected" if s["connected"] else "OFFLINE")
    print(
        f"sync: {state} as {s['thing']} (pid {s['pid']}); backlog {s['backlog']} messages, "
        f"lag {s['lagMs'] / 1000:.1f} s, last contact {contact}"
    )
    c = s["counters"]
    print(
        f"  sent {c['sent']}, acknowledged {c['acked']}, refused {c['rejected']}, received {c['received']}, "
        f"backfills {c['backfills']}, timeouts {c['timeouts']}, last ack {c.get('ack_ms', 0)} ms"
    )
    from edgechat.sync.pictures import status_line

    print(status_line(s.get("pictures")))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="edgechat", description="Edge-first real-time chat.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("--version", action="version", version=f"edgechat {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    def data_dir(p: argparse.ArgumentParser) -> None:
        p.add_argument("--data-dir", help="where edgechat keeps its files (default var/edgechat)")
        p.add_argument("--config", help="a JSON settings file (see docs/operations.md)")

    up = sub.add_parser("up", help="run the broker and every service in the foreground")
    data_dir(up)
    up.add_argument("--host", help="address the LAN listeners bind (default 0.0.0.0)")
    up.add_argument("--mqtt-port", type=int, help="MQTT for LAN clients (default 1883)")
    up.add_argument("--ws-port", type=int, help="MQTT over WebSockets for browsers (default 9001)")
    up.add_argument("--http-port", type=int, help="the web app (default 8080)")
    up.add_argument("--internal-port", type=int, help="loopback MQTT for the services (default 18830)")
    up.add_argument("--site-id", help="this site's id in message order keys (default edge)")
    up.set_defaults(func=cmd_up)

    creds = sub.add_parser("credentials", help="client credentials for the broker")
    creds_sub = creds.add_subparsers(dest="action", required=True)
    new = creds_sub.add_parser("new", help="make a credential and print it as JSON")
    data_dir(new)
    new.add_argument("--nick", help="the nick the client will use")
    new.add_argument("--moderator", action="store_true", help="give it the moderator role")
    new.set_defaults(func=cmd_credentials_new)
    revoke = creds_sub.add_parser("revoke", help="remove a credential")
    data_dir(revoke)
    revoke.add_argument("client_id")
    revoke.set_defaults(func=cmd_credentials_revoke)

    status = sub.add_parser("status", help="what runs, and counts")
    data_dir(status)
    status.add_argument("--json", action="store_true", help="print JSON")
    status.set_defaults(func=cmd_status)

    from edgechat.bench.cli import register as register_bench

    register_bench(sub)

    from edgechat.greengrass.cli import register as register_gg

    register_gg(sub)

    from edgechat.cloud.cli import register as register_cloud

    register_cloud(sub)

    from edgechat.labeler.cli import register as register_labels

    register_labels(sub)

    from edgechat.mod.cli import register as register_mod

    register_mod(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
