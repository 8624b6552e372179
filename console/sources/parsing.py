"""Small pure helpers the parsers share: type checks that raise MalformedAnswer, time conversion.

Every helper takes `where` (e.g. "cluster/resources[3].vmid") so a malformed answer names the
exact spot; values are described by their type only, never echoed (they could be anything).
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any

from console.sources.base import MalformedAnswer


def kind_of(value: Any) -> str:
    """The JSON name of a value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "list"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def malformed(where: str, expected: str, value: Any) -> MalformedAnswer:
    return MalformedAnswer(f"malformed answer: {where} should be {expected}, got {kind_of(value)}")


def as_list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise malformed(where, "a list", value)
    return value


def as_dict(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise malformed(where, "an object", value)
    return value


def opt_dict(value: Any, where: str) -> dict[str, Any]:
    """An object, or {} when absent/null."""
    return {} if value is None else as_dict(value, where)


def req_str(record: dict[str, Any], key: str, where: str) -> str:
    value = record.get(key)
    if not isinstance(value, str) or not value:
        raise malformed(f"{where}.{key}", "a non-empty string", value)
    return value


def opt_str(value: Any, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise malformed(where, "a string", value)
    return value


def opt_float(value: Any, where: str) -> float | None:
    """A number (int or float; numeric strings too, some APIs quote them) or None."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise malformed(where, "a number", value)
    if isinstance(value, (int, float)):
        try:
            number = float(value)
        except OverflowError:  # an integer beyond any float (JSON allows it, Python reads it)
            raise malformed(where, "a finite number", value) from None
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            raise malformed(where, "a number", value) from None
    else:
        raise malformed(where, "a number", value)
    if not math.isfinite(number):
        raise malformed(where, "a finite number", value)
    return number


def opt_int(value: Any, where: str) -> int | None:
    """An integer; Icinga and Proxmox may send 2.0 for 2, so integral floats are accepted."""
    number = opt_float(value, where)
    if number is None:
        return None
    if not number.is_integer():
        # Proxmox' schema types maxcpu as "number": round rather than reject a fractional count.
        return round(number)
    return int(number)


def req_int(value: Any, where: str) -> int:
    number = opt_int(value, where)
    if number is None:
        raise malformed(where, "a number", value)
    return number


def flag(value: Any, where: str) -> bool:
    """A boolean that may arrive as true/false, 0/1, 0.0/1.0 or "0"/"1" (Proxmox' `template`)."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value in ("0", "1", "true", "false"):
        return value in ("1", "true")
    raise malformed(where, "a boolean or 0/1", value)


def iso_time(value: Any, where: str) -> datetime | None:
    """An ISO 8601 string ("...Z", "+01:00", fractional seconds) → aware UTC datetime; null → None.

    A timestamp without an offset is taken as UTC (PuppetDB and Graylog always mean UTC)."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise malformed(where, "an ISO 8601 timestamp", value)
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise MalformedAnswer(f"malformed answer: {where} is not an ISO 8601 timestamp") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def epoch_time(value: Any, where: str) -> datetime | None:
    """Epoch seconds (int or float, as Icinga sends them) → aware UTC datetime; 0/null → None."""
    seconds = opt_float(value, where)
    if not seconds:  # Icinga reports 0 for "never"
        return None
    try:
        return datetime.fromtimestamp(seconds, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        raise MalformedAnswer(f"malformed answer: {where} is not a plausible epoch time") from None


def first_line(text: str, limit: int = 200) -> str:
    lines = text.strip().splitlines()
    return lines[0][:limit] if lines else ""
