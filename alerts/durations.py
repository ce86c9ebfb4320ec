"""Durations as rule files write them: ``90s``, ``15m``, ``1h30m``, ``2d``, or plain seconds."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator

__all__ = ["Duration", "format_duration", "parse_duration"]

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(value: Any) -> timedelta:
    """A non-negative duration from ``15m``-style text or a number of seconds."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("a duration is text like '15m' or a number of seconds, not a boolean")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"duration {value!r} is negative")
        return timedelta(seconds=float(value))
    if isinstance(value, str):
        text = value.strip()
        position = 0
        total_s = 0.0
        for match in _PART.finditer(text):
            if match.start() != position:
                break
            total_s += float(match.group(1)) * _UNIT_S[match.group(2)]
            position = match.end()
        if position != len(text) or not text:
            raise ValueError(f"duration {value!r} is not like '90s', '15m', '1h30m' or '2d'")
        return timedelta(seconds=total_s)
    raise ValueError("a duration is text like '15m' or a number of seconds")


def format_duration(duration: timedelta) -> str:
    """The shortest ``1h30m``-style text for a duration."""
    total = int(duration.total_seconds())
    if total == 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, total = divmod(total, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
