"""Deterministic randomness: the same seed, names and time always give the same numbers.

Python's hash() is salted per process, so everything goes through blake2b instead.
"""

from __future__ import annotations

import hashlib
import math
import random
import uuid


def stable_int(*parts: object) -> int:
    text = "\x1f".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big")


def rng(*parts: object) -> random.Random:
    return random.Random(stable_int(*parts))


def unit(*parts: object) -> float:
    """A number in [0, 1) fixed by `parts`."""
    return stable_int(*parts) / 2**64


def hexid(*parts: object, length: int = 40) -> str:
    """A sha-looking hex string (git shas, report hashes, repoids)."""
    text = "\x1f".join(str(p) for p in parts).encode()
    return hashlib.sha1(text).hexdigest()[:length] if length <= 40 else hashlib.sha256(text).hexdigest()[:length]


def stable_uuid(*parts: object) -> str:
    digest = hashlib.blake2b("\x1f".join(str(p) for p in parts).encode(), digest_size=16).digest()
    return str(uuid.UUID(bytes=digest, version=4))


def wave(t: float, *parts: object) -> float:
    """A smooth curve in [-1, 1] over time `t` (seconds): a day cycle, a half-hour swell and a jitter."""
    r = rng("wave", *parts)
    day = math.sin(2 * math.pi * t / 86400 + r.uniform(0, 2 * math.pi))
    swell = math.sin(2 * math.pi * t / r.uniform(1500, 2700) + r.uniform(0, 2 * math.pi))
    jitter = math.sin(2 * math.pi * t / r.uniform(110, 190) + r.uniform(0, 2 * math.pi))
    return 0.5 * day + 0.35 * swell + 0.15 * jitter
