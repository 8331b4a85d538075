"""A small evaluator for the IoT/IAM policy documents in the template: expands
policy variables (``${iot:ClientId}``…) and matches resources as IoT Core does
(``*`` and ``?`` are wildcards; ``+`` and ``#`` are plain characters)."""

from __future__ import annotations

import fnmatch
import re
from typing import Any

PARAMS = {"AWS::Partition": "aws", "AWS::Region": "us-east-1", "AWS::AccountId": "123456789012"}
ARN = "arn:aws:iot:us-east-1:123456789012"
_VAR = re.compile(r"\$\{([^}]+)\}")


def resolve(value: Any) -> Any:
    """Fn::Sub of the pseudo parameters; ``${!x}`` becomes the literal ``${x}``."""
    if isinstance(value, dict) and "Fn::Sub" in value:
        text = value["Fn::Sub"]
        text = _VAR.sub(lambda m: PARAMS.get(m.group(1), m.group(0)), text)
        return text.replace("${!", "${")
    if isinstance(value, list):
        return [resolve(v) for v in value]
    return value


def _expand(pattern: str, variables: dict[str, str]) -> str | None:
    missing = False

    def one(m: re.Match[str]) -> str:
        nonlocal missing
        if m.group(1) not in variables:
            missing = True
            return ""
        return variables[m.group(1)]

    out = _VAR.sub(one, pattern)
    return None if missing else out


def _glob(pattern: str, text: str) -> bool:
    escaped = pattern.replace("[", "[[]")  # only * and ? are wildcards
    return fnmatch.fnmatchcase(text, escaped)


def _conditions_hold(cond: dict[str, Any] | None, variables: dict[str, str]) -> bool:
    for op, checks in (cond or {}).items():
        for key, want in checks.items():
            if op != "Bool":
                raise ValueError(f"condition {op} not modelled")
            if variables.get(key) != str(want).lower():
                return False
    return True


def _matches(stmt: dict[str, Any], action: str, resource: str, variables: dict[str, str]) -> bool:
    actions = stmt["Action"] if isinstance(stmt["Action"], list) else [stmt["Action"]]
    if not any(_glob(a, action) for a in actions):
        return False
    resources = resolve(stmt["Resource"])
    resources = resources if isinstance(resources, list) else [resources]
    for pattern in resources:
        expanded = _expand(pattern, variables)
        if expanded is not None and _glob(expanded, resource):
            return _conditions_hold(stmt.get("Condition"), variables)
    return False


def allowed(policy: dict[str, Any], action: str, resource: str, variables: dict[str, str]) -> bool:
    statements = policy["Statement"]
    if any(s["Effect"] == "Deny" and _matches(s, action, resource, variables) for s in statements):
        return False
    return any(s["Effect"] == "Allow" and _matches(s, action, resource, variables) for s in statements)
