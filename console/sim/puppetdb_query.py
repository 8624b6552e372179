"""PuppetDB's v4 query AST (JSON arrays) compiled into predicates over records, plus paging.

Supported: = < > <= >= ~ and or not null? in (with ["array", [...]]) and a top-level extract.
Errors carry PuppetDB's wording; the API answers them as 400 text/plain.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

# field -> type: string, timestamp, number, boolean, json
FIELDS: dict[str, dict[str, str]] = {
    "nodes": {
        "certname": "string", "deactivated": "timestamp", "expired": "timestamp",
        "catalog_timestamp": "timestamp", "facts_timestamp": "timestamp", "report_timestamp": "timestamp",
        "catalog_environment": "string", "facts_environment": "string", "report_environment": "string",
        "latest_report_status": "string", "latest_report_noop": "boolean", "latest_report_noop_pending": "boolean",
        "latest_report_hash": "string", "latest_report_job_id": "string", "latest_report_corrective_change": "boolean",
        "cached_catalog_status": "string",
    },
    "reports": {
        "hash": "string", "certname": "string", "puppet_version": "string", "report_format": "number",
        "configuration_version": "string", "start_time": "timestamp", "end_time": "timestamp",
        "producer_timestamp": "timestamp", "receive_time": "timestamp", "producer": "string",
        "transaction_uuid": "string", "catalog_uuid": "string", "code_id": "string", "job_id": "string",
        "cached_catalog_status": "string", "noop": "boolean", "noop_pending": "boolean",
        "corrective_change": "boolean", "environment": "string", "status": "string", "type": "string",
        "latest_report?": "boolean",
    },
    "events": {
        "certname": "string", "report": "string", "status": "string", "timestamp": "timestamp",
        "run_start_time": "timestamp", "run_end_time": "timestamp", "report_receive_time": "timestamp",
        "resource_type": "string", "resource_title": "string", "property": "string", "name": "string",
        "new_value": "json", "old_value": "json", "message": "string", "file": "string", "line": "number",
        "containing_class": "string", "containment_path": "json", "environment": "string",
        "configuration_version": "string", "corrective_change": "boolean", "latest_report?": "boolean",
    },
    "facts": {"certname": "string", "name": "string", "value": "json", "environment": "string"},
}
PSEUDO = {"latest_report?"}  # queryable but never in an answer
ALIAS = {"nodes": "nodes", "reports": "reports", "events": "events", "facts": "facts"}


class QueryError(Exception):
    """A query PuppetDB refuses: 400 text/plain (or 500 where PuppetDB 7.12 fails internally)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


# What PuppetDB 7.12 answers for an operator it does not know (seen): its query engine finds no SQL
# for the clause, except at the top of an events or reports query, where a later check catches it.
UNKNOWN_OPERATOR = ("No implementation of method: :-plan->sql of protocol: "
                    "#'puppetlabs.puppetdb.query-eng.engine/SQLGen found for class: nil")
UNKNOWN_TOP_CLAUSE = ("AST validation failed, but was successfully converted to SQL. Please file a PuppetDB ticket at "
                      "https://tickets.puppetlabs.com \nUnrecognized ast clause {clause} in ast query {query}")


Predicate = Callable[[dict], bool]


@dataclass(frozen=True)
class Query:
    predicate: Predicate
    columns: tuple[str, ...] | None  # from a top-level extract


def _ts(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise QueryError(f"'{value}' is not a valid timestamp value") from None


def _term(ast: Any) -> str:
    return json.dumps(ast)


def _edn(value: Any) -> str:
    """A parsed JSON value as Clojure prints it in PuppetDB's messages: ["=" "certname" nil], {:a 1, :b "x"}."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + " ".join(_edn(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f":{k} {_edn(v)}" for k, v in value.items()) + "}"
    return json.dumps(value)


def _listing(names) -> str:
    """'a', 'b', and 'c' — how PuppetDB 7 lists field names in its errors."""
    quoted = [f"'{n}'" for n in sorted(names)]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + ", and " + quoted[-1]


def parse_query(text_or_ast: Any, entity: str) -> Query:
    if text_or_ast is None or text_or_ast == "":
        return Query(lambda r: True, None)
    ast = text_or_ast
    if isinstance(text_or_ast, str):
        try:
            ast = json.loads(text_or_ast)
        except json.JSONDecodeError as exc:
            # Jackson's report: the line at fault, a caret under it, then the parser's own words
            lines = text_or_ast.split("\n")
            line = lines[exc.lineno - 1] if exc.lineno <= len(lines) else ""
            caret = " " * max(exc.colno - 2, 0) + "^"
            raise QueryError(f"Json parse error at line {exc.lineno}, column {exc.colno}:\n\n{line}\n{caret}\n\n{exc.msg}") from None
    if ast is None:  # query=null: no query (as PuppetDB)
        return Query(lambda r: True, None)
    if not isinstance(ast, list):  # PuppetDB 7.12 fails its parameter schema: 500 (seen)
        raise QueryError("Output of convert-query-params does not match schema: \n\n\t \x1b[0;33m  "
                         f"{{:query (not (sequential? {_edn(ast)}))}} \x1b[0m \n\n", 500)
    if ast and ast[0] == "extract":
        if len(ast) not in (2, 3):
            raise QueryError(f"{_term(ast)} is not well-formed: extract takes a list of columns and an optional query")
        columns = ast[1] if isinstance(ast[1], list) else [ast[1]]
        for column in columns:
            if not isinstance(column, str) or column not in FIELDS[entity] or column in PSEUDO:
                raise QueryError(f"Can't extract unknown '{entity}' field '{column}'. Acceptable fields are "
                                 f"{_listing(f for f in FIELDS[entity] if f not in PSEUDO)}")
        inner = _compile(ast[2], entity) if len(ast) == 3 else (lambda r: True)
        return Query(inner, tuple(columns))
    return Query(_compile(ast, entity, top=True), None)


def _field(name: Any, entity: str, ast: Any) -> str:
    if not isinstance(name, str) or name not in FIELDS[entity]:
        raise QueryError(f"'{name}' is not a queryable object for {ALIAS[entity]}. Known queryable objects are "
                         f"{_listing(FIELDS[entity])}")
    return name


def _compile(ast: Any, entity: str, top: bool = False) -> Predicate:
    if not isinstance(ast, list):
        raise QueryError(f"{_term(ast)} is not well-formed: queries must be an array")
    if not ast:
        raise QueryError("[] is not well-formed: queries must contain at least one operator")
    op, *args = ast
    if op in ("and", "or"):
        if not args:
            raise QueryError(f"'{op}' takes at least one argument, but none were supplied")
        parts = [_compile(a, entity) for a in args]
        return (lambda r: all(p(r) for p in parts)) if op == "and" else (lambda r: any(p(r) for p in parts))
    if op == "not":
        if len(args) != 1:
            raise QueryError(f"'not' takes exactly one argument, but {len(args)} were supplied")
        inner = _compile(args[0], entity)
        return lambda r: not inner(r)
    if op in ("=", "<", ">", "<=", ">=", "~", "null?", "in"):
        if len(args) != 2:
            raise QueryError(f"{op} requires exactly two arguments")
        field = _field(args[0], entity, ast)
        kind = FIELDS[entity][field]
        value = args[1]
        if op == "=":
            return _equals(field, kind, value)
        if op in ("<", ">", "<=", ">="):
            if kind not in ("number", "timestamp"):
                raise QueryError(f"Query operators >,>=,<,<= are not allowed on field {field}")
            return _ordered(op, field, kind, value)
        if op == "~":
            if kind not in ("string", "json"):
                raise QueryError(f"Query operator ~ is not allowed on field {field}")
            try:
                pattern = re.compile(str(value))
            except re.error as exc:
                raise QueryError(f"Invalid regular expression '{value}': {exc}") from None
            return lambda r: isinstance(r.get(field), str) and bool(pattern.search(r[field]))
        if op == "null?":
            if not isinstance(value, bool):
                raise QueryError(f"Value '{value}' for null? must be true or false")
            return lambda r: (r.get(field) is None) == value
        if not (isinstance(value, list) and len(value) == 2 and value[0] == "array" and isinstance(value[1], list)):
            raise QueryError(f"{_term(ast)} is not well-formed: 'in' needs [\"array\", [...]] (subqueries are not simulated)")
        options = [_equals(field, kind, v) for v in value[1]]
        return lambda r: any(o(r) for o in options)
    if op in ("extract", "subquery", "select_nodes", "select_facts", "select_reports", "from", "group_by"):
        raise QueryError(f"{_term(ast)} is not well-formed: '{op}' is not supported here by the simulated PuppetDB")
    if top and entity in ("events", "reports"):
        raise QueryError(UNKNOWN_TOP_CLAUSE.format(clause=_edn(ast), query=_edn(ast)), 500)
    raise QueryError(UNKNOWN_OPERATOR)


def _equals(field: str, kind: str, value: Any) -> Predicate:
    if kind == "timestamp":
        wanted = _ts(value)
        return lambda r: r.get(field) is not None and _ts(r[field]) == wanted
    if kind == "number":
        return lambda r: r.get(field) is not None and float(r[field]) == float(value)
    return lambda r: r.get(field) == value


def _ordered(op: str, field: str, kind: str, value: Any) -> Predicate:
    compare = {"<": lambda a, b: a < b, ">": lambda a, b: a > b, "<=": lambda a, b: a <= b, ">=": lambda a, b: a >= b}[op]
    if kind == "timestamp":
        bound = _ts(value)
        return lambda r: r.get(field) is not None and compare(_ts(r[field]), bound)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise QueryError(f"Argument \"{value}\" and operator \"{op}\" have incompatible types.") from None
    return lambda r: r.get(field) is not None and compare(float(r[field]), number)


def parse_order_by(value: Any, entity: str) -> list[tuple[str, bool]]:
    """[{"field": f, "order": "asc|desc"}] -> [(field, descending)]"""
    if value in (None, ""):
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise QueryError(f"Illegal value '{value}' for :order_by; expected an array of maps.") from None
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise QueryError(f"Illegal value '{json.dumps(value)}' for :order_by; expected an array of maps.")
    out = []
    columns = [f for f in FIELDS[entity] if f not in PSEUDO]
    for item in value:
        field = item.get("field")
        if field not in columns:
            raise QueryError(f"Unrecognized column '{field}' specified in :order_by; Supported columns are "
                             + ", ".join(f"'{c}'" for c in sorted(columns)))
        order = str(item.get("order", "asc")).lower()
        if order not in ("asc", "desc"):
            shown = "{" + ", ".join(f":{k} {json.dumps(v)}" for k, v in item.items()) + "}"  # Clojure's map syntax
            raise QueryError(f"Illegal value '{shown}' in :order_by; 'order' must be either 'asc' or 'desc'")
        out.append((field, order == "desc"))
    return out


def parse_count(value: Any, name: str, allow_zero: bool) -> int | None:
    if value in (None, ""):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = -1
    if number < 0 or (number == 0 and not allow_zero) or isinstance(value, bool):
        kind = "a non-negative integer" if allow_zero else "a positive non-zero integer"
        raise QueryError(f"Illegal value '{value}' for :{name}; expected {kind}.")
    return number


def page(records: list[dict], order_by: list[tuple[str, bool]], limit: int | None, offset: int | None) -> list[dict]:
    for field, descending in reversed(order_by):  # stable sorts, last key first
        present = [r for r in records if r.get(field) is not None]
        missing = [r for r in records if r.get(field) is None]
        present.sort(key=lambda r: _sort_key(r[field]), reverse=descending)
        records = present + missing if not descending else missing + present  # NULLs sort last ascending, as in PostgreSQL
    start = offset or 0
    return records[start:start + limit] if limit is not None else records[start:]


def _sort_key(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return value
