"""Deterministic randomness: the same seed, names and time always give the same numbers.

Python's hash() is salted per process, so everything goes through blake2b instead.
"""

from __future__ import annotations

import hashlib
import math
import random
import uuid
from functools import lru_cache

# wave() shapes kept: a few per host (cpu, mem, disk, net, rta ...) of a 5,000-guest farm fit
WAVE_SHAPES_KEPT = 1 << 16


def _bytes(parts: tuple[object, ...]) -> bytes:
    # surrogatepass: a lone surrogate (the `hostile` scenario's strings) hashes too; other text as UTF-8
    return "\x1f".join(str(p) for p in parts).encode("utf-8", "surrogatepass")


def stable_int(*parts: object) -> int:
    text = "\x1f".join(str(p) for p in parts).encode("utf-8", "surrogatepass")  # _bytes, inline: a hot path
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big")


def rng(*parts: object) -> random.Random:
    return random.Random(stable_int(*parts))


def unit(*parts: object) -> float:
    """A number in [0, 1) fixed by `parts`."""
    return stable_int(*parts) / 2**64


def hexid(*parts: object, length: int = 40) -> str:
    """A sha-looking hex string (git shas, report hashes, repoids)."""
    text = _bytes(parts)
    return hashlib.sha1(text).hexdigest()[:length] if length <= 40 else hashlib.sha256(text).hexdigest()[:length]


def stable_uuid(*parts: object) -> str:
    digest = hashlib.blake2b(_bytes(parts), digest_size=16).digest()
    return str(uuid.UUID(bytes=digest, version=4))


def wave(t: float, *parts: object) -> float:
    """A smooth curve in [-1, 1] over time `t` (seconds): a day cycle, a half-hour swell and a jitter."""
    day_phase, swell_period, swell_phase, jitter_period, jitter_phase = wave_shape(parts)
    day = math.sin(2 * math.pi * t / 86400 + day_phase)
    swell = math.sin(2 * math.pi * t / swell_period + swell_phase)
    jitter = math.sin(2 * math.pi * t / jitter_period + jitter_phase)
    return 0.5 * day + 0.35 * swell + 0.15 * jitter


@lru_cache(maxsize=WAVE_SHAPES_KEPT)
def wave_shape(parts: tuple) -> tuple[float, float, float, float, float]:
    """The curve's phases and periods, drawn once per `parts` (in the order wave() always drew them)."""
    r = rng("wave", *parts)
    return (r.uniform(0, 2 * math.pi), r.uniform(1500, 2700), r.uniform(0, 2 * math.pi),
            r.uniform(110, 190), r.uniform(0, 2 * math.pi))
