"""Points → InfluxDB line protocol, escaped for every character a name or value may hold.

Escaping, as checked against InfluxDB 1.6.7: measurement names escape comma and space; tag
keys, tag values and field keys escape comma, equals sign and space, and a backslash in them is
literal (``a\\b`` is stored as written). String field values are quoted and escape backslash
and double quote; a newline or carriage return inside one is written as the two characters
``\n`` / ``\r`` (stored so), which keeps one point per line: line *n* of a body is point *n*,
and servers whose parsers stop at a raw newline (VictoriaMetrics) read the point too.

Refused with ``ValueError``, because line protocol cannot express them: a newline in a
measurement, tag or field key or tag value, a tag value or key ending in a backslash (it would
escape the separator after it), an empty tag value (drop the tag instead), NaN and infinity.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from ingest.points import Point

__all__ = ["encode_lines", "escape_measurement", "escape_tag"]

_NEEDS_TAG_ESCAPE = frozenset(",= \\\n\r")
_NEEDS_MEASUREMENT_ESCAPE = frozenset(", \\\n\r")
_NEEDS_STRING_ESCAPE = frozenset('"\\\n\r')


@lru_cache(maxsize=65_536)
def escape_tag(text: str) -> str:
    """A tag key, tag value or field key as line protocol writes it."""
    if not text:
        raise ValueError("line protocol has no empty tag keys, tag values or field keys")
    if _NEEDS_TAG_ESCAPE.isdisjoint(text):
        return text
    if "\n" in text or "\r" in text:
        raise ValueError(f"line protocol cannot carry a newline in a tag or key: {text!r}")
    if text.endswith("\\"):
        raise ValueError(f"line protocol cannot end a tag or key with a backslash: {text!r}")
    return text.replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")


@lru_cache(maxsize=4_096)
def escape_measurement(text: str) -> str:
    """A measurement name as line protocol writes it."""
    if not text:
        raise ValueError("a measurement name cannot be empty")
    if _NEEDS_MEASUREMENT_ESCAPE.isdisjoint(text):
        return text
    if "\n" in text or "\r" in text:
        raise ValueError(f"line protocol cannot carry a newline in a measurement: {text!r}")
    if text.endswith("\\"):
        raise ValueError(f"line protocol cannot end a measurement with a backslash: {text!r}")
    return text.replace(",", "\\,").replace(" ", "\\ ")


def _string_field(value: str) -> str:
    if _NEEDS_STRING_ESCAPE.isdisjoint(value):
        return '"' + value + '"'
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\n", "\\n").replace("\r", "\\r") + '"'


# (measurement, tags) → the escaped head of a line; (field key) → "key=". Bounded.
_HEADS: dict[tuple[str, tuple[tuple[str, str], ...]], str] = {}
_KEYS: dict[str, str] = {}
_CACHE_MAX = 100_000


def _head(measurement: str, tags: tuple[tuple[str, str], ...]) -> str:
    key = (measurement, tags)
    head = _HEADS.get(key)
    if head is None:
        head = escape_measurement(measurement)
        if tags:
            head += "," + ",".join(
                f"{escape_tag(name)}={escape_tag(value)}" for name, value in tags
            )
        if len(_HEADS) >= _CACHE_MAX:
            _HEADS.clear()
        _HEADS[key] = head
    return head


def encode_line(point: Point) -> str:
    """One point as one line of line protocol, without the trailing newline."""
    if not point.fields:
        raise ValueError(f"a point of {point.measurement!r} has no fields")
    keys = _KEYS
    parts = []
    # Inlined, not a helper per value: this loop runs for every field of every point.
    for name, value in point.fields:
        key = keys.get(name)
        if key is None:
            key = escape_tag(name) + "="
            if len(keys) >= _CACHE_MAX:
                keys.clear()
            keys[name] = key
        if isinstance(value, float):
            if value - value != 0:  # NaN or an infinity
                raise ValueError(f"line protocol has no {value!r}")
            parts.append(key + repr(value))
        elif isinstance(value, bool):
            parts.append(key + ("true" if value else "false"))
        elif isinstance(value, int):
            parts.append(f"{key}{value}i")
        elif isinstance(value, str):
            parts.append(key + _string_field(value))
        else:
            raise ValueError(f"line protocol has no field of type {type(value).__name__}")
    return f"{_head(point.measurement, point.tags)} {','.join(parts)} {point.time_ns}"


def encode_lines(points: Iterable[Point]) -> bytes:
    """Points as a line protocol body: one line per point, in order, UTF-8, newline-ended.

    Line *n* of the body is the *n*-th point, so a server naming a bad line names a point.
    """
    return "".join(encode_line(point) + "\n" for point in points).encode("utf-8")
