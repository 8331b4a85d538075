"""The subset of AWS IoT SQL that the template's rules use, as pure functions.

``SELECT <items> FROM '<topic filter>' [WHERE <condition>]`` where an item is
``*``, a payload field (``a.b``), a literal, or a call to ``topic(n)``,
``clientid()``, ``timestamp()`` or ``encode(*, 'base64')``, each optionally
``AS name``; conditions use ``= <> != < <= > >=``, ``AND``, ``OR``, ``NOT`` and
parentheses.  Substitution templates (``${topic(3)}``) in rule actions use the
same expressions.  Anything else is a ``SqlError``, so a rule the local runner
cannot execute faithfully fails loudly instead of half-working.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from typing import Any, Final


class SqlError(ValueError):
    """The statement is outside the supported subset, or malformed."""


@dataclass(frozen=True, slots=True)
class Literal:
    value: Any


@dataclass(frozen=True, slots=True)
class Field:
    path: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Star:
    pass


@dataclass(frozen=True, slots=True)
class Call:
    name: str
    args: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Compare:
    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class Logic:
    op: str  # "and" | "or"
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class Not:
    operand: Expr


Expr = Literal | Field | Star | Call | Compare | Logic | Not


@dataclass(frozen=True, slots=True)
class Item:
    expr: Expr
    name: str | None  # None only for a bare `*`


@dataclass(frozen=True, slots=True)
class Statement:
    items: tuple[Item, ...]
    topic_filter: str
    where: Expr | None


@dataclass(frozen=True, slots=True)
class Context:
    """What a rule sees besides the payload: the topic, the publisher, the time."""

    topic: str
    client_id: str | None
    now_ms: int


_TOKEN: Final = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>-?\d+(?:\.\d+)?)|(?P<op><>|!=|<=|>=|[=<>(),*.])"
    r"|(?P<word>[A-Za-z_$][A-Za-z0-9_$]*))"
)
_FUNCTIONS: Final = {"topic": (0, 1), "clientid": (0, 0), "timestamp": (0, 0), "encode": (2, 2)}
_KEYWORDS: Final = {"select", "from", "where", "as", "and", "or", "not", "true", "false"}


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise SqlError(f"cannot read SQL at {text[pos : pos + 20]!r}")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = _tokens(text)
        self.i = 0

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def keyword(self, word: str) -> bool:
        tok = self.peek()
        if tok and tok[0] == "word" and tok[1].lower() == word:
            self.i += 1
            return True
        return False

    def op(self, symbol: str) -> bool:
        tok = self.peek()
        if tok and tok[0] == "op" and tok[1] == symbol:
            self.i += 1
            return True
        return False

    def expect_op(self, symbol: str) -> None:
        if not self.op(symbol):
            raise SqlError(f"expected {symbol!r} at token {self.i}")

    def statement(self) -> Statement:
        if not self.keyword("select"):
            raise SqlError("expected SELECT")
        items = [self.item()]
        while self.op(","):
            items.append(self.item())
        if not self.keyword("from"):
            raise SqlError("expected FROM")
        tok = self.peek()
        if not tok or tok[0] != "str":
            raise SqlError("FROM needs a quoted topic filter")
        self.i += 1
        topic_filter = tok[1][1:-1].replace("''", "'")
        where = self.expr() if self.keyword("where") else None
        if self.peek() is not None:
            raise SqlError(f"unexpected {self.peek()[1]!r}")  # type: ignore[index]
        return Statement(tuple(items), topic_filter, where)

    def item(self) -> Item:
        if self.op("*"):
            return Item(Star(), None)
        expr = self.expr()
        if self.keyword("as"):
            tok = self.peek()
            if not tok or tok[0] != "word":
                raise SqlError("AS needs a name")
            self.i += 1
            return Item(expr, tok[1])
        if isinstance(expr, Field):
            return Item(expr, expr.path[-1])
        raise SqlError("give a computed item a name with AS")

    def expr(self) -> Expr:
        left = self.conj()
        while self.keyword("or"):
            left = Logic("or", left, self.conj())
        return left

    def conj(self) -> Expr:
        left = self.neg()
        while self.keyword("and"):
            left = Logic("and", left, self.neg())
        return left

    def neg(self) -> Expr:
        return Not(self.neg()) if self.keyword("not") else self.comparison()

    def comparison(self) -> Expr:
        left = self.primary()
        tok = self.peek()
        if tok and tok[0] == "op" and tok[1] in ("=", "<>", "!=", "<", "<=", ">", ">="):
            self.i += 1
            return Compare("<>" if tok[1] == "!=" else tok[1], left, self.primary())
        return left

    def primary(self) -> Expr:
        tok = self.peek()
        if tok is None:
            raise SqlError("unexpected end of SQL")
        kind, text = tok
        self.i += 1
        if kind == "str":
            return Literal(text[1:-1].replace("''", "'"))
        if kind == "num":
            return Literal(float(text) if "." in text else int(text))
        if kind == "op" and text == "(":
            inner = self.expr()
            self.expect_op(")")
            return inner
        if kind == "op" and text == "*":
            return Star()
        if kind == "word":
            lowered = text.lower()
            if lowered in ("true", "false"):
                return Literal(lowered == "true")
            if self.op("("):
                return self.call(lowered)
            if lowered in _KEYWORDS:
                raise SqlError(f"unexpected keyword {text}")
            path = [text]
            while self.op("."):
                nxt = self.peek()
                if not nxt or nxt[0] != "word":
                    raise SqlError("a field name must follow '.'")
                self.i += 1
                path.append(nxt[1])
            return Field(tuple(path))
        raise SqlError(f"unexpected {text!r}")

    def call(self, name: str) -> Call:
        if name not in _FUNCTIONS:
            raise SqlError(f"function {name}() is not supported here")
        args: list[Expr] = []
        if not self.op(")"):
            args.append(self.expr())
            while self.op(","):
                args.append(self.expr())
            self.expect_op(")")
        lo, hi = _FUNCTIONS[name]
        if not lo <= len(args) <= hi:
            raise SqlError(f"{name}() takes {lo}-{hi} arguments")
        return Call(name, tuple(args))


def parse(sql: str) -> Statement:
    return _Parser(sql).statement()


def topic_matches(topic_filter: str, topic: str) -> bool:
    """MQTT matching; as in IoT Core, ``+``/``#`` never match a ``$`` topic's first level
    unless the filter names it."""
    f, t = topic_filter.split("/"), topic.split("/")
    for i, part in enumerate(f):
        if part == "#":
            return not (i == 0 and t[0].startswith("$"))
        if i >= len(t):
            return False
        if part == "+":
            if i == 0 and t[0].startswith("$"):
                return False
            continue
        if part != t[i]:
            return False
    return len(f) == len(t)


def _json_payload(payload: bytes) -> Any:
    try:
        return json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return None


def evaluate(expr: Expr, payload: bytes, ctx: Context) -> Any:
    """The value of ``expr``; None plays IoT SQL's Undefined."""
    match expr:
        case Literal(value=v):
            return v
        case Star():
            return _json_payload(payload)
        case Field(path=path):
            value: Any = _json_payload(payload)
            for key in path:
                value = value.get(key) if isinstance(value, dict) else None
            return value
        case Call(name="topic", args=args):
            if not args:
                return ctx.topic
            n = evaluate(args[0], payload, ctx)
            parts = ctx.topic.split("/")
            return parts[n - 1] if isinstance(n, int) and 1 <= n <= len(parts) else None
        case Call(name="clientid"):
            return ctx.client_id
        case Call(name="timestamp"):
            return ctx.now_ms
        case Call(name="encode", args=(Star(), scheme)):
            if evaluate(scheme, payload, ctx) != "base64":
                raise SqlError("encode() supports only 'base64'")
            return base64.b64encode(payload).decode()
        case Call(name=name):
            raise SqlError(f"{name}() cannot take these arguments")
        case Compare(op=op, left=left, right=right):
            a, b = evaluate(left, payload, ctx), evaluate(right, payload, ctx)
            if a is None or b is None:
                return None
            try:
                return {
                    "=": a == b, "<>": a != b, "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b,
                }[op]  # fmt: skip
            except TypeError:
                return None
        case Logic(op=op, left=left, right=right):
            # Three-valued: Undefined (None) spreads unless the other side decides.
            a, b = _truth(evaluate(left, payload, ctx)), _truth(evaluate(right, payload, ctx))
            decisive = op == "or"
            if decisive in (a, b):
                return decisive
            return None if None in (a, b) else not decisive
        case Not(operand=operand):
            value = evaluate(operand, payload, ctx)
            return None if value is None else not value
    raise SqlError(f"cannot evaluate {expr!r}")  # pragma: no cover


def _truth(value: Any) -> bool | None:
    return None if value is None else bool(value)


def run(stmt: Statement, payload: bytes, ctx: Context) -> dict[str, Any] | None:
    """What the rule hands its actions for this message, or None if it does not fire."""
    if not topic_matches(stmt.topic_filter, ctx.topic):
        return None
    if stmt.where is not None and evaluate(stmt.where, payload, ctx) is not True:
        return None
    out: dict[str, Any] = {}
    for item in stmt.items:
        value = evaluate(item.expr, payload, ctx)
        if item.name is None:
            if not isinstance(value, dict):
                return None  # SELECT * of a non-object: nothing to hand on
            out.update(value)
        elif value is not None:  # Undefined values are left out, as in IoT Core
            out[item.name] = value
    return out


_TEMPLATE: Final = re.compile(r"\$\{([^}]*)\}")


def substitute(template: str, payload: bytes, ctx: Context) -> str:
    """An action parameter with its ``${expression}`` parts filled in."""

    def one(m: re.Match[str]) -> str:
        parser = _Parser(m.group(1))
        value = evaluate(parser.expr(), payload, ctx)
        return "" if value is None else str(value)

    return _TEMPLATE.sub(one, template)
