"""Greengrass component configuration <-> ``Settings`` (pure).

A recipe's configuration uses camelCase keys (``mqttPort``), as Greengrass
components do; they map one to one onto ``Settings`` fields (``mqtt_port``),
nested objects (``limits``, ``rate``) included.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from edgechat.settings import Settings

# Keys the nucleus keeps in a component's configuration that are not settings.
RESERVED = frozenset({"accessControl"})


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


def _to_camel(value: Any) -> Any:
    if isinstance(value, dict):
        return {camel(k): _to_camel(v) for k, v in value.items()}
    return value


def _to_snake(value: Any) -> Any:
    if isinstance(value, dict):
        return {snake(k): _to_snake(v) for k, v in value.items()}
    if isinstance(value, float) and value.is_integer():
        # The nucleus may hand back 1883 as 1883.0 after a deployment merge.
        return int(value)
    return value


def defaults(fields: Iterable[str], settings: Settings | None = None) -> dict[str, Any]:
    """The camelCase configuration for ``fields`` of ``settings`` (default Settings())."""
    full = (settings or Settings()).to_json()
    return {camel(name): _to_camel(full[name]) for name in fields}


def apply(settings: Settings, config: Mapping[str, Any], allowed: Iterable[str] | None = None) -> Settings:
    """``settings`` with ``config`` (camelCase) applied.  Keys outside ``allowed``
    (snake_case field names; all fields when None) are an error, so a typo in a
    deployment fails loudly instead of being ignored."""
    raw = {snake(k): _to_snake(v) for k, v in config.items() if k not in RESERVED}
    if allowed is not None:
        extra = set(raw) - set(allowed)
        if extra:
            raise ValueError(f"unknown configuration keys: {', '.join(sorted(camel(k) for k in extra))}")
    current = settings.to_json()
    for name, value in raw.items():
        if isinstance(value, dict) and isinstance(current.get(name), dict):
            current[name] = {**current[name], **value}  # a partial `limits` keeps the rest
        else:
            current[name] = value
    return Settings.from_json(current)


def parse_assignment(text: str) -> tuple[str, Any]:
    """``key=value`` from a run flag: the value is JSON if it parses, else text
    (recipe interpolation hands over raw text such as a path)."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise ValueError(f"expected key=value, not {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def changed(old: Settings, new: Settings) -> frozenset[str]:
    """Settings fields whose values differ."""
    a, b = old.to_json(), new.to_json()
    return frozenset(k for k in a if a[k] != b[k])
