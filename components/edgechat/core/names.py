"""Frozen, self-validating names: client ids, rooms, message ids, site ids, nicks.

Raw strings from the wire are parsed once, here, at the boundary.  Anything that
ends up inside an MQTT topic is restricted to ``[A-Za-z0-9_-]`` so that no name
can smuggle in ``/ + # $`` (Mosquitto CVE-2017-7650 came from wildcard client
ids in ACL patterns).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

from edgechat.core.errors import ClientError, ErrorCode

CLIENT_ID_RE: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")
ROOM_RE: Final = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
MESSAGE_ID_RE: Final = re.compile(r"[A-Za-z0-9_-]{8,64}")
SITE_ID_RE: Final = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")
NICK_MAX: Final = 32


def _invalid(field: str, why: str) -> ClientError:
    return ClientError(ErrorCode.INVALID_FIELD, f"{field}: {why}", field=field)


def _require_str(value: object, field: str) -> str:
    if not isinstance(value, str):
        raise _invalid(field, "must be a string")
    return value


def _matching(text: str, pattern: re.Pattern[str], field: str, why: str) -> str:
    if not pattern.fullmatch(text):
        raise _invalid(field, why)
    return text


def client_id(value: object, field: str = "clientId") -> str:
    return _matching(_require_str(value, field), CLIENT_ID_RE, field, "1-64 characters from A-Z a-z 0-9 _ -")


def room(value: object, field: str = "room") -> str:
    """Rooms are case-insensitive: ``Lobby`` and ``lobby`` are the same room."""
    text = _require_str(value, field).strip().lower()
    return _matching(
        text, ROOM_RE, field, "1-64 characters from a-z 0-9 _ -, starting with a letter or digit"
    )


def message_id(value: object, field: str = "id") -> str:
    text = _require_str(value, field)
    return _matching(text, MESSAGE_ID_RE, field, "8-64 characters from A-Z a-z 0-9 _ - (a ULID or UUID)")


def site_id(value: object, field: str = "siteId") -> str:
    text = _require_str(value, field)
    return _matching(
        text, SITE_ID_RE, field, "1-32 characters from a-z 0-9 -, starting with a letter or digit"
    )


# Unicode categories Cc (controls), Cs (surrogates) and Co (private use) as
# ranges, plus the bidi overrides and isolates U+202A-E, U+2066-9, which can
# make text display as something else ("Trojan Source"); other format
# characters (ZWJ in emoji, soft hyphens) are fine.  One regex search instead
# of a category lookup per character: the Router runs this on every message.
_OTHER_CONTROLS: Final = (
    r"\x7f-\x9f\ud800-\udfff\ue000-\uf8ff\U000f0000-\U000ffffd\U00100000-\U0010fffd\u202a-\u202e\u2066-\u2069"
)
_CONTROL_RE: Final = {
    "": re.compile(rf"[\x00-\x1f{_OTHER_CONTROLS}]"),
    "\n\t": re.compile(rf"[\x00-\x08\x0b-\x1f{_OTHER_CONTROLS}]"),
}


def _has_control(text: str, allowed: str = "") -> bool:
    return _CONTROL_RE[allowed].search(text) is not None


def nick(value: object, field: str = "nick") -> str:
    text = unicodedata.normalize("NFC", _require_str(value, field)).strip()
    if not text:
        raise _invalid(field, "must not be empty")
    if len(text) > NICK_MAX:
        raise _invalid(field, f"at most {NICK_MAX} characters")
    if _has_control(text):
        raise _invalid(field, "must not contain control or format characters")
    return text


def text(value: object, max_chars: int, field: str = "text") -> str:
    """Message text: NFC, no control characters but newline and tab, not blank."""
    body = unicodedata.normalize("NFC", _require_str(value, field)).rstrip()
    if not body.strip():
        raise _invalid(field, "must not be empty")
    if len(body) > max_chars:
        raise ClientError(ErrorCode.TOO_LARGE, f"{field}: at most {max_chars} characters", field=field)
    if _has_control(body, allowed="\n\t"):
        raise _invalid(field, "must not contain control characters other than newline and tab")
    return body
