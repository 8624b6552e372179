"""Graylog search queries (a Lucene subset) compiled into predicates over message fields.

Supported: *, bare words and "phrases" (searched in message), field:value, field:"quoted value",
field:wild*card, field:<=N (and < > >=), field:[a TO b], _exists_:field, AND OR NOT - + and parentheses.
Terms side by side without an operator are OR-ed, as in Graylog.
"""

from __future__ import annotations

import fnmatch
import re
from typing import Any, Callable, TypeVar

Predicate = Callable[[dict], bool]
_Ordered = TypeVar("_Ordered", float, str)  # compared with its own kind only
ANALYZED = ("message", "full_message")  # tokenised, case-insensitive
LOWERCASED = ("source",)  # keyword + lowercase filter
_WORDS = re.compile(r"[\w.]+", re.UNICODE)


class QueryError(Exception):
    pass


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c.isspace():
            i += 1
        elif c in "()":
            out.append((c, c))
            i += 1
        elif c == '"':
            end = _closing_quote(text, i)
            out.append(("term", text[i:end + 1]))
            i = end + 1
        else:
            start = i
            while i < len(text) and not text[i].isspace() and text[i] not in "()":
                if text[i] == "\\" and i + 1 < len(text):
                    i += 2
                    continue
                if text[i] == ":" and i + 1 < len(text) and text[i + 1] == '"':
                    i = _closing_quote(text, i + 1) + 1
                    break
                if text[i] == ":" and i + 1 < len(text) and text[i + 1] in "[{":
                    ends = [e for e in (text.find("]", i), text.find("}", i)) if e != -1]
                    close = min(ends) if ends else -1
                    if close == -1:
                        raise QueryError(f"Cannot parse '{text}': unclosed range")
                    i = close + 1
                    break
                i += 1
            word = text[start:i]
            if word in ("AND", "&&"):
                out.append(("and", word))
            elif word in ("OR", "||"):
                out.append(("or", word))
            elif word == "NOT":
                out.append(("not", word))
            elif word in ("-", "!"):
                out.append(("not", word))
            elif word[0] in "-!" and len(word) > 1:
                out.append(("not", word[0]))
                out.append(("term", word[1:]))
            elif word[0] == "+" and len(word) > 1:
                out.append(("term", word[1:]))
            else:
                out.append(("term", word))
    return out


def _closing_quote(text: str, start: int) -> int:
    i = start + 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == '"':
            return i
        i += 1
    raise QueryError(f"Cannot parse '{text}': Lexical error: unterminated quoted string")


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.i = 0

    def peek(self) -> str | None:
        return self.tokens[self.i][0] if self.i < len(self.tokens) else None

    def parse(self) -> Predicate:
        if not self.tokens:
            return lambda m: True
        node = self.or_()
        if self.i != len(self.tokens):
            raise QueryError(f"Cannot parse '{self.text}': Encountered \"{self.tokens[self.i][1]}\"")
        return node

    def or_(self) -> Predicate:
        parts = [self.and_()]
        while self.peek() in ("or", "term", "not", "("):
            if self.peek() == "or":
                self.i += 1
            parts.append(self.and_())
        return parts[0] if len(parts) == 1 else (lambda m: any(p(m) for p in parts))

    def and_(self) -> Predicate:
        parts = [self.unary()]
        while self.peek() == "and":
            self.i += 1
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else (lambda m: all(p(m) for p in parts))

    def unary(self) -> Predicate:
        kind = self.peek()
        if kind == "not":
            self.i += 1
            inner = self.unary()
            return lambda m: not inner(m)
        if kind == "(":
            self.i += 1
            inner = self.or_()
            if self.peek() != ")":
                raise QueryError(f"Cannot parse '{self.text}': Encountered \"<EOF>\", expected \")\"")
            self.i += 1
            return inner
        if kind == "term":
            text = self.tokens[self.i][1]
            self.i += 1
            return term(text)
        found = self.tokens[self.i][1] if self.i < len(self.tokens) else "<EOF>"
        raise QueryError(f"Cannot parse '{self.text}': Encountered \"{found}\"")


def compile_query(text: str | None) -> Predicate:
    text = (text or "").strip()
    if text in ("", "*"):
        return lambda m: True
    return _Parser(text).parse()


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def term(text: str) -> Predicate:
    if text == "*":
        return lambda m: True
    field, value = None, text
    if not text.startswith('"'):
        colon = _unescaped_colon(text)
        if colon > 0:
            field, value = _unescape(text[:colon]), text[colon + 1:]
    if field == "_exists_":
        name = _unescape(value)
        return lambda m: m.get(name) not in (None, "")
    if value == "":
        raise QueryError(f"Cannot parse '{text}': Encountered \"<EOF>\"")
    names = (field,) if field else ("message",)
    if value.startswith('"') and value.endswith('"') and len(value) >= 2:
        phrase = _unescape(value[1:-1])
        return lambda m: any(_phrase(n, m.get(n), phrase) for n in names)
    for op in ("<=", ">=", "<", ">"):
        if value.startswith(op):
            bound = _unescape(value[len(op):])
            return lambda m: any(_compare(m.get(n), op, bound) for n in names)
    if value[0] in "[{" and value[-1] in "]}":
        low, _, high = value[1:-1].partition(" TO ")
        if not _:
            raise QueryError(f"Cannot parse '{text}': a range needs 'TO'")
        low, high = low.strip(), high.strip()
        lo_op = ">=" if value[0] == "[" else ">"
        hi_op = "<=" if value[-1] == "]" else "<"
        return lambda m: any((low == "*" or _compare(m.get(n), lo_op, low)) and
                             (high == "*" or _compare(m.get(n), hi_op, high)) for n in names)
    word = _unescape(value)
    return lambda m: any(_word(n, m.get(n), word) for n in names)


def _unescaped_colon(text: str) -> int:
    i = 0
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == ":":
            return i
        i += 1
    return -1


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(str(value))
    except ValueError:
        return None


def _compare(value: Any, op: str, bound: str) -> bool:
    if value is None:
        return False
    a, b = _number(value), _number(bound)
    if a is None or b is None:
        return _ordered(str(value), op, bound)  # strings and ISO timestamps compare as text
    return _ordered(a, op, b)


def _ordered(a: _Ordered, op: str, b: _Ordered) -> bool:
    return {"<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[op]


def _phrase(name: str, value: Any, phrase: str) -> bool:
    if value is None:
        return False
    if isinstance(value, list):
        return any(_phrase(name, v, phrase) for v in value)
    if name in ANALYZED:
        wanted = [w.lower() for w in _WORDS.findall(phrase)]
        words = [w.lower() for w in _WORDS.findall(str(value))]
        if not wanted:
            return False
        return any(words[i:i + len(wanted)] == wanted for i in range(len(words) - len(wanted) + 1))
    if name in LOWERCASED:
        return str(value).lower() == phrase.lower()
    return _same(value, phrase)


def _same(value: Any, text: str) -> bool:
    a, b = _number(value), _number(text)
    if a is not None and b is not None and not isinstance(value, str):
        return a == b
    return str(value) == text


def _word(name: str, value: Any, word: str) -> bool:
    if value is None:
        return False
    if isinstance(value, list):
        return any(_word(name, v, word) for v in value)
    wild = any(c in word for c in "*?")
    if name in ANALYZED:
        words = [w.lower() for w in _WORDS.findall(str(value))]
        if wild:
            return any(fnmatch.fnmatchcase(w, word.lower()) for w in words)
        wanted = [w.lower() for w in _WORDS.findall(word)]
        return bool(wanted) and any(words[i:i + len(wanted)] == wanted for i in range(len(words) - len(wanted) + 1))
    text = str(value)
    if name in LOWERCASED:
        text, word = text.lower(), word.lower()
    if wild:
        return fnmatch.fnmatchcase(text, word)
    return _same(value, word) if name not in LOWERCASED else text == word
