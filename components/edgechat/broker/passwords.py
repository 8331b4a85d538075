"""Mosquitto password files, written without calling ``mosquitto_passwd``.

The hash is Mosquitto 2's own ``$7$`` format: PBKDF2-HMAC-SHA512 with a 12-byte
salt.  Passwords here are 32 random bytes, so the cheap iteration count (101,
Mosquitto's default) costs an attacker nothing useful and keeps connects fast.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

ITERATIONS: Final = 101


def hash_password(password: str, *, salt: bytes | None = None, iterations: int = ITERATIONS) -> str:
    salt = salt if salt is not None else secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify_password(password: str, hashed: str) -> bool:
    try:
        _, kind, iterations, salt, digest = hashed.split("$")
        if kind != "7":
            return False
        expected = hash_password(password, salt=base64.b64decode(salt), iterations=int(iterations))
    except ValueError:
        return False
    return secrets.compare_digest(expected.rsplit("$", 1)[1], digest)


def new_password() -> str:
    return secrets.token_urlsafe(32)


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive lock beside ``path`` so several writers (``up``, the Web
    service, ``credentials new``) never interleave their edits."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(path.suffix + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def read_users(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    users: dict[str, str] = {}
    for line in path.read_text().splitlines():
        user, sep, hashed = line.partition(":")
        if sep:
            users[user] = hashed
    return users


def write_users(path: Path, users: dict[str, str]) -> None:
    """Replace the file atomically, readable by its owner only."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.writelines(f"{user}:{hashed}\n" for user, hashed in users.items())
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)


def add_user(path: Path, user: str, password: str) -> None:
    with locked(path):
        users = read_users(path)
        users[user] = hash_password(password)
        write_users(path, users)


def remove_user(path: Path, user: str) -> bool:
    with locked(path):
        users = read_users(path)
        if users.pop(user, None) is None:
            return False
        write_users(path, users)
        return True
