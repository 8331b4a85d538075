"""Broker credentials: the system account and per-session client credentials.

A client credential is a fresh client id (also the username) and a random
password; the broker binds the two, so the credential *is* the identity.  This
is the edge's stand-in for Cognito's temporary credentials.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import signal
import socket
import struct
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from edgechat import tls
from edgechat.broker import passwords
from edgechat.broker.config import SYSTEM_USER, BrokerFiles
from edgechat.runtime import read_runtime
from edgechat.settings import Settings


@dataclass(frozen=True, slots=True)
class Credentials:
    client_id: str
    username: str
    password: str
    nick: str | None
    mqtt_url: str
    ws_url: str

    def to_json(self) -> dict[str, Any]:
        return {
            "clientId": self.client_id,
            "username": self.username,
            "password": self.password,
            "nick": self.nick,
            "mqttUrl": self.mqtt_url,
            "wsUrl": self.ws_url,
        }


def public_host(settings: Settings) -> str:
    """The host to put in URLs handed to clients: the setting, else the
    address the LAN listener binds, else this machine's first LAN address
    (a phone cannot resolve a Pi's bare host name), else its host name."""
    if settings.public_host:
        return settings.public_host
    if settings.host not in ("0.0.0.0", "::", ""):
        return settings.host
    return next(iter(lan_addresses()), socket.gethostname())


def lan_addresses() -> list[str]:
    """This machine's IPv4 addresses other than loopback, by interface (Linux:
    asks the kernel with SIOCGIFADDR; sends nothing on the network)."""
    found: list[str] = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for _, name in socket.if_nameindex():
            try:
                packed = fcntl.ioctl(s.fileno(), _SIOCGIFADDR, struct.pack("256s", name.encode()[:15]))
            except OSError:
                continue  # down, or no IPv4 address
            address = socket.inet_ntoa(packed[20:24])
            if not address.startswith("127."):
                found.append(address)
    return found


_SIOCGIFADDR = 0x8915


@dataclass(frozen=True, slots=True)
class Urls:
    """Where clients reach this core (TLS schemes when ``settings.tls``)."""

    mqtt: str
    ws: str
    http: str


def urls(settings: Settings, host: str | None = None) -> Urls:
    host = host or public_host(settings)
    s = "s" if settings.tls else ""
    return Urls(
        mqtt=f"mqtt{s}://{host}:{settings.mqtt_port}",
        ws=f"ws{s}://{host}:{settings.ws_port}/mqtt",
        http=f"http{s}://{host}:{settings.http_port}/",
    )


def broker_files(settings: Settings) -> BrokerFiles:
    return BrokerFiles(settings.paths.broker)


def system_password(settings: Settings) -> str:
    """The system account's password, made on first use (0600, in secrets/)."""
    path = settings.paths.secrets / "system.json"
    files = broker_files(settings)
    with passwords.locked(path):
        if path.exists():
            password = json.loads(path.read_text())["password"]
        else:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            password = passwords.new_password()
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as out:
                json.dump({"username": SYSTEM_USER, "password": password}, out)
        users = passwords.read_users(files.system_passwords)
        if not passwords.verify_password(password, users.get(SYSTEM_USER, "")):
            passwords.write_users(files.system_passwords, {SYSTEM_USER: passwords.hash_password(password)})
    return password


def new_client_id() -> str:
    """16 characters of [A-Za-z0-9_-], never starting with - or _ (an id that
    looks like a command-line option is a trap for operators' scripts)."""
    while not (client_id := secrets.token_urlsafe(12))[0].isalnum():
        pass
    return client_id


def issue(
    settings: Settings, nick: str | None = None, *, address: str | None = None, wait_s: float = 5.0
) -> Credentials:
    """Make a client credential.  If ``edgechat up`` runs on this data dir, the
    broker reloads its password file and the credential works on return.
    ``address``: where the Web service's caller came from (kept for bans and
    the per-address session limit, core/admission.py)."""
    return issue_many(settings, 1, nick=nick, address=address, wait_s=wait_s)[0]


def issue_many(
    settings: Settings,
    count: int,
    *,
    nick: str | None = None,
    address: str | None = None,
    wait_s: float = 10.0,
) -> list[Credentials]:
    """``count`` client credentials with one password-file write and one broker
    reload (a reload per credential is too slow for a thousand clients).  Each
    expires ``settings.credential_ttl_hours`` from now (``expire``)."""
    runtime = read_runtime(settings.paths)
    if runtime is not None:  # the running broker's settings: its ports, its lifetimes
        settings = runtime.settings
    files = broker_files(settings)
    made = [(new_client_id(), passwords.new_password()) for _ in range(count)]
    expires_ms = time.time_ns() // 1_000_000 + int(settings.credential_ttl_hours * 3_600_000)
    with passwords.locked(files.client_passwords):
        users = passwords.read_users(files.client_passwords)
        users.update({cid: passwords.hash_password(pw) for cid, pw in made})
        expiry = _read_expiry(files)
        expiry.update({cid: expires_ms for cid, _ in made})
        _write_expiry(files, expiry)  # first: a credential never exists without its expiry
        if address is not None:
            # Also forget the addresses of credentials gone since (revoked, expired).
            issued = {cid: at for cid, at in _read_addresses(files).items() if cid in users}
            issued.update({cid: address for cid, _ in made})
            _write_json(_addresses_path(files), issued)
        passwords.write_users(files.client_passwords, users)
    if runtime is not None and runtime.broker_pid and made:
        os.kill(runtime.broker_pid, signal.SIGHUP)
        _wait_until_accepted(settings, *made[-1], wait_s)
    where = urls(settings)
    return [Credentials(cid, cid, pw, nick, where.mqtt, where.ws) for cid, pw in made]


def expire(settings: Settings, now_ms: int) -> list[str]:
    """Remove every client credential past its expiry; returns their ids.  The
    caller reloads the broker, and Mosquitto 2 then closes the connections of
    clients whose credential is gone (it re-checks connected clients on a
    reload): an expired session is dropped and cannot connect again."""
    files = broker_files(settings)
    with passwords.locked(files.client_passwords):
        expiry = _read_expiry(files)
        gone = [cid for cid, at in expiry.items() if at <= now_ms]
        if not gone:
            return []
        users = passwords.read_users(files.client_passwords)
        for cid in gone:
            users.pop(cid, None)
            del expiry[cid]
        passwords.write_users(files.client_passwords, users)
        _write_expiry(files, expiry)
        issued = _read_addresses(files)
        if any(cid in issued for cid in gone):
            _write_json(_addresses_path(files), {c: at for c, at in issued.items() if c in users})
    return gone


def authenticate(settings: Settings, client_id: str, password: str, now_ms: int) -> bool:
    """Whether this is a live client credential: the broker's own password file
    (so a revoked or expired credential fails here as it does at the broker).
    For HTTP requests made on behalf of a chat session (picture uploads)."""
    files = broker_files(settings)
    hashed = passwords.read_users(files.client_passwords).get(client_id)
    if hashed is None or not passwords.verify_password(password, hashed):
        return False
    expires = _read_expiry(files).get(client_id)
    return expires is None or expires > now_ms


def live_client_ids(settings: Settings, now_ms: int) -> set[str]:
    """Client credentials that still open the broker: in its password file
    (not revoked) and not expired."""
    files = broker_files(settings)
    expiry = _read_expiry(files)
    users = passwords.read_users(files.client_passwords)
    return {cid for cid in users if expiry.get(cid, now_ms + 1) > now_ms}


def issued_addresses(settings: Settings) -> dict[str, str]:
    """client id -> the address its session was issued to (Web sessions only;
    ``edgechat credentials new`` records none)."""
    return _read_addresses(broker_files(settings))


def _addresses_path(files: BrokerFiles) -> Path:
    return files.root / "clients.address.json"


def _read_addresses(files: BrokerFiles) -> dict[str, str]:
    try:
        raw = json.loads(_addresses_path(files).read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(raw, dict):
        return {}
    return {str(k): v for k, v in raw.items() if isinstance(v, str)}


def _write_json(path: Path, value: object) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(value))
    os.replace(tmp, path)


def _read_expiry(files: BrokerFiles) -> dict[str, int]:
    try:
        raw = json.loads(files.client_expiry.read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): int(v) for k, v in raw.items()} if isinstance(raw, dict) else {}


def _write_expiry(files: BrokerFiles, expiry: dict[str, int]) -> None:
    tmp = files.client_expiry.with_suffix(".tmp")
    tmp.write_text(json.dumps(expiry))
    os.replace(tmp, files.client_expiry)


def revoke(settings: Settings, client_id: str) -> bool:
    """Remove a client credential and reload the broker, which closes the
    client's connection if it has one (as ``expire``)."""
    files = broker_files(settings)
    removed = passwords.remove_user(files.client_passwords, client_id)
    runtime = read_runtime(settings.paths)
    if removed and runtime is not None and runtime.broker_pid:
        os.kill(runtime.broker_pid, signal.SIGHUP)
    return removed


def _wait_until_accepted(settings: Settings, client_id: str, password: str, wait_s: float) -> None:
    """Mosquitto reloads on SIGHUP in its own time: connect until it takes us."""
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "", "::") else settings.host
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        probe = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        probe.username_pw_set(client_id, password)
        if settings.tls:
            probe.tls_set_context(tls.client_context(tls.certificate(settings)))
        try:
            probe.connect(host, settings.mqtt_port, keepalive=5)
            probe.loop_start()
            for _ in range(50):
                if probe.is_connected():
                    probe.disconnect()
                    return
                time.sleep(0.01)
        except OSError:
            pass
        finally:
            probe.loop_stop()
        time.sleep(0.05)
    raise TimeoutError("the broker did not accept the new credential in time")
