"""Icinga 2 API filter expressions (a subset of the Icinga DSL), parsed and evaluated per object.

Supported: literals (numbers, durations like 5m, "strings", true/false/null, [arrays]), variables
(service, host, the State constants, filter_vars), attribute access a.b and a["b"], ! - == != < > <= >=
in !in && || and parentheses, and the functions match(), regex(), len(), string(), number(), bool().
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from typing import Any, Callable

CONSTANTS = {
    "ServiceOK": 0.0, "ServiceWarning": 1.0, "ServiceCritical": 2.0, "ServiceUnknown": 3.0,
    "HostUp": 0.0, "HostDown": 1.0,
    "StateTypeSoft": 0.0, "StateTypeHard": 1.0,
    "AcknowledgementNone": 0.0, "AcknowledgementNormal": 1.0, "AcknowledgementSticky": 2.0,
    "MatchAll": "MatchAll", "MatchAny": "MatchAny",
}
SOURCE = "<API query>"


class FilterError(Exception):
    """The expression does not parse or cannot be evaluated (Icinga: 404 "No objects found.")."""


class IcingaObject:
    """A config object in the filter: unknown attributes are errors, unlike dictionary keys."""

    __slots__ = ("type_name", "attrs")

    def __init__(self, type_name: str, attrs: dict[str, Any]) -> None:
        self.type_name = type_name
        self.attrs = attrs


# --- tokens ------------------------------------------------------------------------------------

_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<number>\d+(?:\.\d+)?(?:ms|s|m|h|d)?)
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<op>==|!=|<=|>=|&&|\|\||!in\b|[!<>()\[\].,\-])
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
""", re.VERBOSE)
_DURATION = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}


@dataclass(frozen=True)
class Token:
    kind: str  # number string op name end
    value: Any
    pos: int


def _where(text: str, start: int, end: int) -> str:
    return f"Location: in {SOURCE}: 1:{start}-1:{max(start, end)}"


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise FilterError(f"syntax error, unexpected '{text[pos]}'\n{_where(text, pos, pos + 1)}")
        kind = m.lastgroup
        raw = m.group()
        if kind == "number":
            unit = re.search(r"(ms|s|m|h|d)$", raw)
            value = float(raw[: unit.start()]) * _DURATION[unit.group()] if unit else float(raw)
            tokens.append(Token("number", value, pos))
        elif kind == "string":
            string = re.sub(r"\\(.)", lambda e: _ESCAPES.get(e.group(1), e.group(1)), raw[1:-1])
            tokens.append(Token("string", string, pos))
        elif kind in ("op", "name"):
            tokens.append(Token("op" if raw in ("in", "!in") else kind, raw, pos))
        pos = m.end()
    tokens.append(Token("end", None, len(text)))
    return tokens


# --- parser: each node is a function of the environment ----------------------------------------

Node = Callable[[dict], Any]


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0

    def peek(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def expect(self, value: str) -> None:
        token = self.take()
        if token.value != value or token.kind not in ("op",):
            self.fail(token)

    def fail(self, token: Token) -> None:
        what = "$end" if token.kind == "end" else f"'{token.value}'" if token.kind != "string" else "T_STRING"
        raise FilterError(f"syntax error, unexpected {what}\n{_where(self.text, token.pos, token.pos + 1)}")

    def parse(self) -> Node:
        if self.peek().kind == "end":
            self.fail(self.peek())
        node = self.or_()
        if self.peek().kind != "end":
            self.fail(self.peek())
        return node

    def or_(self) -> Node:
        node = self.and_()
        while self.peek().value == "||" and self.peek().kind == "op":
            self.take()
            node = _either(node, self.and_())
        return node

    def and_(self) -> Node:
        node = self.compare()
        while self.peek().value == "&&" and self.peek().kind == "op":
            self.take()
            node = _both(node, self.compare())
        return node

    def compare(self) -> Node:
        node = self.unary()
        token = self.peek()
        if token.kind == "op" and token.value in _COMPARE:
            self.take()
            left, right, op = node, self.unary(), _COMPARE[token.value]
            return lambda env: op(left(env), right(env))
        return node

    def unary(self) -> Node:
        token = self.peek()
        if token.kind == "op" and token.value == "!":
            self.take()
            inner = self.unary()
            return lambda env: not truthy(inner(env))
        if token.kind == "op" and token.value == "-":
            self.take()
            inner = self.unary()
            return lambda env: -_number(inner(env))
        return self.postfix()

    def postfix(self) -> Node:
        token = self.peek()
        node = self.primary()
        while True:
            nxt = self.peek()
            if nxt.kind == "op" and nxt.value == ".":
                self.take()
                name = self.take()
                if name.kind != "name":
                    self.fail(name)
                node = _attribute(node, name.value)
            elif nxt.kind == "op" and nxt.value == "[":
                self.take()
                key = self.or_()
                self.expect("]")
                node = _index(node, key)
            elif nxt.kind == "op" and nxt.value == "(":
                if token.kind != "name" or token.value not in FUNCTIONS:
                    raise FilterError(f"Function '{token.value}' does not exist or is not allowed in sandbox mode.")
                self.take()
                args = self.arguments(")")
                func = FUNCTIONS[token.value]
                node = _call(func, args)
                token = nxt
            else:
                return node

    def arguments(self, closing: str) -> list[Node]:
        args: list[Node] = []
        if self.peek().kind == "op" and self.peek().value == closing:
            self.take()
            return args
        while True:
            args.append(self.or_())
            token = self.take()
            if token.kind == "op" and token.value == closing:
                return args
            if not (token.kind == "op" and token.value == ","):
                self.fail(token)

    def primary(self) -> Node:
        token = self.take()
        if token.kind in ("number", "string"):
            return _constant(token.value)
        if token.kind == "name":
            name = token.value
            if name in ("true", "false"):
                return _constant(name == "true")
            if name == "null":
                return lambda env: None
            if name in FUNCTIONS and self.peek().value == "(":
                return lambda env: None  # called in postfix()
            return lambda env: _variable(env, name)
        if token.kind == "op" and token.value == "(":
            node = self.or_()
            self.expect(")")
            return node
        if token.kind == "op" and token.value == "[":
            items = self.arguments("]")
            return lambda env: [x(env) for x in items]
        self.fail(token)
        raise AssertionError  # unreachable


def compile_filter(text: str) -> Node:
    """Parse `text`; the result takes an environment ({"service": IcingaObject, ...}) and returns a value."""
    return _Parser(text).parse()


def matches(node: Node, env: dict) -> bool:
    return truthy(node(env))


# --- semantics ---------------------------------------------------------------------------------


def truthy(value: Any) -> bool:
    if isinstance(value, IcingaObject):
        return True
    return bool(value)


def _variable(env: dict, name: str) -> Any:
    if name in env:
        return env[name]
    if name in CONSTANTS:
        return CONSTANTS[name]
    raise FilterError(f"Tried to access undefined script variable '{name}'")


def _constant(value: Any) -> Node:
    return lambda env: value


def _either(left: Node, right: Node) -> Node:
    return lambda env: truthy(left(env)) or truthy(right(env))


def _both(left: Node, right: Node) -> Node:
    return lambda env: truthy(left(env)) and truthy(right(env))


def _call(func: Callable[..., Any], args: list[Node]) -> Node:
    return lambda env: func(*(x(env) for x in args))


def _attribute(node: Node, name: str) -> Node:
    def get(env: dict) -> Any:
        return _lookup(node(env), name)
    return get


def _index(node: Node, key: Node) -> Node:
    def get(env: dict) -> Any:
        value, k = node(env), key(env)
        if isinstance(value, list):
            i = int(_number(k))
            if not 0 <= i < len(value):
                raise FilterError("Array index out of range")
            return value[i]
        return _lookup(value, k)
    return get


def _lookup(value: Any, name: Any) -> Any:
    if isinstance(value, IcingaObject):
        if name not in value.attrs:
            raise FilterError(f"Invalid field access (for value of type '{value.type_name}'): '{name}'")
        return value.attrs[name]
    if isinstance(value, dict):
        return value.get(name)
    type_name = {type(None): "Empty", str: "String", float: "Number", bool: "Boolean", list: "Array"}.get(type(value), "Object")
    raise FilterError(f"Invalid field access (for value of type '{type_name}'): '{name}'")


def _number(value: Any) -> float:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, (int, float)):
        return float(value)
    if value is None:
        return 0.0
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            raise FilterError(f"Can't convert '{value}' to a floating point number.") from None
    raise FilterError("Can't convert value to a number.")


def _equal(a: Any, b: Any) -> bool:
    numeric = (int, float, bool)
    if isinstance(a, numeric) and isinstance(b, numeric):
        return float(a) == float(b)  # Icinga compares booleans and numbers by value
    if isinstance(a, IcingaObject) or isinstance(b, IcingaObject):
        return a is b
    return a == b


def _order(op: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def compare(a: Any, b: Any) -> bool:
        if isinstance(a, str) and isinstance(b, str):
            return op(a, b)
        return op(_number(a), _number(b))
    return compare


def _contains(a: Any, b: Any) -> bool:
    if b is None:
        return False
    if not isinstance(b, list):
        raise FilterError("Invalid right side argument for 'in' operator: " + type(b).__name__)
    return any(_equal(a, item) for item in b)


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "==": _equal,
    "!=": lambda a, b: not _equal(a, b),
    "<": _order(lambda a, b: a < b),
    ">": _order(lambda a, b: a > b),
    "<=": _order(lambda a, b: a <= b),
    ">=": _order(lambda a, b: a >= b),
    "in": _contains,
    "!in": lambda a, b: not _contains(a, b),
}


def _match(pattern: Any, value: Any, mode: Any = "MatchAll") -> bool:
    if not isinstance(pattern, str):
        raise FilterError("Invalid type for pattern: match() takes a string pattern")
    if isinstance(value, list):
        hits = [isinstance(v, str) and fnmatch.fnmatchcase(v, pattern) for v in value]
        return (any(hits) if mode == "MatchAny" else all(hits)) if value else False
    return isinstance(value, str) and fnmatch.fnmatchcase(value, pattern)


def _regex(pattern: Any, value: Any, mode: Any = "MatchAll") -> bool:
    try:
        compiled = re.compile(str(pattern))
    except re.error as exc:
        raise FilterError(f"Invalid regex: {exc}") from None
    if isinstance(value, list):
        hits = [isinstance(v, str) and bool(compiled.search(v)) for v in value]
        return (any(hits) if mode == "MatchAny" else all(hits)) if value else False
    return isinstance(value, str) and bool(compiled.search(value))


def _len(value: Any) -> float:
    if value is None:
        return 0.0
    if isinstance(value, (str, list, dict)):
        return float(len(value))
    raise FilterError("len() takes a string, an array or a dictionary")


def _string(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "match": _match,
    "regex": _regex,
    "len": _len,
    "string": _string,
    "number": _number,
    "bool": truthy,
}
