"""Time in one place, so tests and snapshots can inject a fixed clock."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def fixed_clock(at: datetime) -> Clock:
    """A clock that always answers `at` (UTC)."""
    return lambda: at
