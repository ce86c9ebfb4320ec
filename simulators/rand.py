"""Deterministic randomness: every draw is a pure function of (seed, device, time, purpose).

A ``random.Random`` per device would cost ~2.5 KB each (100,000 devices: 250 MB), and a shared
generator would make one device's numbers depend on every other's. So draws are hashed instead
(splitmix64), and a generator is only built for one device's tick when many draws are needed.
"""

from __future__ import annotations

import hashlib
import math
import random

__all__ = ["device_key", "gauss", "mix", "tick_random", "uniform"]

_MASK = (1 << 64) - 1
_TO_UNIT = 1.0 / (1 << 53)
_TO_UNIT_32 = 1.0 / (1 << 32)


def device_key(seed: int, device_id: str) -> int:
    """A 64-bit key naming one device under one seed; stable across runs and Python versions."""
    digest = hashlib.blake2b(f"{seed}:{device_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def mix(*parts: int) -> int:
    """Hash integers to 64 well-mixed bits (splitmix64 finaliser, chained)."""
    value = 0x9E3779B97F4A7C15
    for part in parts:
        value = ((value ^ (part & _MASK)) * 0xBF58476D1CE4E5B9) & _MASK
        value ^= value >> 31
        value = (value * 0x94D049BB133111EB) & _MASK
        value ^= value >> 29
    return value


def uniform(*parts: int) -> float:
    """A float in [0, 1) determined by ``parts``."""
    return (mix(*parts) >> 11) * _TO_UNIT


def gauss(*parts: int) -> float:
    """A standard normal draw determined by ``parts`` (Box–Muller on the two 32-bit halves)."""
    bits = mix(*parts)
    u1 = ((bits >> 32) + 0.5) * _TO_UNIT_32
    u2 = (bits & 0xFFFFFFFF) * _TO_UNIT_32
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


def tick_random(key: int, tick: int, purpose: int) -> random.Random:
    """A generator for one device's tick, when a model needs many draws (vehicle passes)."""
    return random.Random(mix(key, tick, purpose))
