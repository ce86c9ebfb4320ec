"""Device messages → points: measurement, tags, fields and time, all derived from ``devices``.

A point's identity is (measurement, tags, time). Time precision: nanoseconds, made of the
reading's ``ts`` truncated to the millisecond plus ``seq mod 1,000,000`` nanoseconds. So:

- a redelivered message (same ts, same seq) lands on the same nanosecond and overwrites itself;
- two distinct events of one device in the same millisecond have different ``seq`` and so
  different times, and neither overwrites the other (their seqs would have to differ by an
  exact multiple of a million inside one millisecond to collide);
- the stored time is off from ``ts`` by under a millisecond, below what any device reports.

Licence plates never leave this module in clear: they become ``plate_hash``, the hex
HMAC-SHA256 of the plate under the configured key.
"""

from __future__ import annotations

import hashlib
import hmac
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any, Final, Literal

from pydantic import BaseModel

from devices import (
    CheckpointTelemetry,
    DeviceRecord,
    Message,
    Payload,
    StreetlightTelemetry,
    TrafficSignalTelemetry,
    WaterQualityTelemetry,
)

__all__ = [
    "NUMERIC_MEASUREMENTS",
    "FieldValue",
    "Point",
    "numeric_fields",
    "plate_hash",
    "point_time_ns",
    "points_from_message",
]

FieldValue = bool | int | float | str

SEQ_NS_MODULUS: Final = 1_000_000
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS: Final = timedelta(milliseconds=1)
# Fields that are the point's key or who sent it, never a measured value.
_NOT_FIELDS: Final = frozenset({"ts", "device_id", "event"})
# Integers that name something (a plan, a phase, a lane) rather than count it: not averaged.
_IDENTIFIERS: Final = frozenset({"seq", "plan_id", "phase", "lane"})


@dataclass(frozen=True, slots=True)
class Point:
    """One stored point: ``tags`` and ``fields`` are sorted (name, value) pairs.

    Two points with equal ``identity`` are the same point in InfluxDB: the later overwrites.
    """

    measurement: str
    tags: tuple[tuple[str, str], ...]
    fields: tuple[tuple[str, FieldValue], ...]
    time_ns: int

    @property
    def identity(self) -> tuple[str, tuple[tuple[str, str], ...], int]:
        """(measurement, tags, time): what InfluxDB keys a point by."""
        return (self.measurement, self.tags, self.time_ns)

    def tag(self, name: str) -> str | None:
        """The value of one tag, or ``None``."""
        return dict(self.tags).get(name)

    def field(self, name: str) -> FieldValue | None:
        """The value of one field, or ``None``."""
        return dict(self.fields).get(name)


# --- the field plan of each payload model, derived once from its pydantic fields ----------------

_FLOAT, _INT, _BOOL, _STR, _FLAGS, _PLATE, _CHILDREN, _TAG = range(8)


@dataclass(frozen=True, slots=True)
class _Plan:
    measurement: str
    fields: tuple[tuple[str, int], ...]
    children: tuple[tuple[str, type[Payload]], ...]


_PLANS: dict[type[Payload], _Plan] = {}


def _classify(name: str, annotation: Any, *, child: bool) -> int | None:
    """How a model field is stored; ``None`` for fields that are not stored as fields."""
    if name in _NOT_FIELDS:
        return None
    if name == "plate":
        return _PLATE
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        present = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(present) != 1:
            raise TypeError(f"field {name!r}: cannot store a union {annotation!r}")
        return _classify(name, present[0], child=child)
    if origin is Literal:
        return _STR
    if origin is tuple:
        item = typing.get_args(annotation)[0]
        if isinstance(item, type) and issubclass(item, Enum):
            return _FLAGS
        if isinstance(item, type) and issubclass(item, Payload):
            return _CHILDREN
        raise TypeError(f"field {name!r}: cannot store a tuple of {item!r}")
    if annotation is bool:
        return _BOOL
    if annotation is int:
        return _INT
    if annotation is float:
        return _FLOAT
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return _STR
    if annotation is str:
        # A plain string inside a nested part names that part (an approach): a tag.
        return _TAG if child else _STR
    if annotation is datetime:
        return None
    raise TypeError(f"field {name!r}: no line protocol type for {annotation!r}")


def _plan(model: type[Payload], *, child: bool = False) -> _Plan:
    found = _PLANS.get(model)
    if found is not None:
        return found
    fields: list[tuple[str, int]] = []
    children: list[tuple[str, type[Payload]]] = []
    for name, info in model.model_fields.items():
        how = _classify(name, info.annotation, child=child)
        if how is None:
            continue
        if how == _CHILDREN:
            child_model = typing.get_args(info.annotation)[0]
            _plan(child_model, child=True)
            children.append((name, child_model))
        else:
            fields.append((name, how))
    plan = _Plan(model.measurement, tuple(fields), tuple(children))
    _PLANS[model] = plan
    return plan


def numeric_fields(model: type[BaseModel]) -> tuple[str, ...]:
    """The numeric measured fields of a payload model, the ones worth averaging."""
    if not issubclass(model, Payload):
        raise TypeError(f"{model!r} is not a payload model")
    plan = _PLANS.get(model) or _plan(model)
    return tuple(
        name for name, how in plan.fields if how in (_FLOAT, _INT) and name not in _IDENTIFIERS
    )


def _numeric_measurements() -> Mapping[str, tuple[str, ...]]:
    found: dict[str, tuple[str, ...]] = {}
    for model in (
        StreetlightTelemetry,
        WaterQualityTelemetry,
        TrafficSignalTelemetry,
        CheckpointTelemetry,
    ):
        found[model.measurement] = numeric_fields(model)
        for _, child in _plan(model).children:
            found[child.measurement] = numeric_fields(child)
    return types.MappingProxyType(found)


# --- time, plates, tags -------------------------------------------------------------------------


def point_time_ns(ts: datetime, seq: int | None) -> int:
    """The stored time: ``ts`` truncated to the millisecond plus ``seq mod 1e6`` nanoseconds."""
    milliseconds = (ts - _EPOCH) // _ONE_MS
    return milliseconds * 1_000_000 + (seq % SEQ_NS_MODULUS if seq is not None else 0)


def plate_hash(plate: str, key: bytes) -> str:
    """The keyed hash a plate is stored as: hex HMAC-SHA256 of its UTF-8 text."""
    return hmac.new(key, plate.encode("utf-8"), hashlib.sha256).hexdigest()


_TAG_CACHE: dict[tuple[str, str, str, DeviceRecord | None], tuple[tuple[str, str], ...]] = {}
_TAG_CACHE_MAX: Final = 100_000


def _base_tags(
    kind: str, device_id: str, district: str, device: DeviceRecord | None
) -> tuple[tuple[str, str], ...]:
    key = (kind, device_id, district, device)
    found = _TAG_CACHE.get(key)
    if found is not None:
        return found
    tags = {"district": district} if device is None else device.tags()
    tags["kind"] = kind
    tags["device_id"] = device_id
    result = tuple(sorted(tags.items()))
    if len(_TAG_CACHE) >= _TAG_CACHE_MAX:
        _TAG_CACHE.clear()
    _TAG_CACHE[key] = result
    return result


# --- the conversion -----------------------------------------------------------------------------


def _fields(
    payload: BaseModel, plan: _Plan, plate_key: bytes, tags: list[tuple[str, str]] | None
) -> list[tuple[str, FieldValue]]:
    out: list[tuple[str, FieldValue]] = []
    for name, how in plan.fields:
        value = getattr(payload, name)
        if value is None:
            continue
        if how == _FLOAT:
            out.append((name, float(value)))
        elif how == _INT:
            out.append((name, int(value)))
        elif how == _BOOL:
            out.append((name, bool(value)))
        elif how == _STR:
            out.append((name, str(value.value if isinstance(value, Enum) else value)))
        elif how == _FLAGS:
            out.append((name, ",".join(flag.value for flag in value)))
            out.append((name.removesuffix("s") + "_count", len(value)))
        elif how == _PLATE:
            out.append(("plate_hash", plate_hash(value, plate_key)))
        elif how == _TAG and tags is not None:
            tags.append((name, str(value)))
    out.sort()
    return out


def points_from_message(
    message: Message,
    device: DeviceRecord | None,
    *,
    plate_key: bytes,
    now: datetime | None = None,
) -> list[Point]:
    """The points one decoded message is stored as.

    Tags: the device's registry tags (district, cabinet, river, section, junction; only the
    topic's district when ``device`` is ``None``) plus ``kind`` and ``device_id``. Fields: the
    payload's measured values; enums as strings; flag tuples as a comma-joined string plus a
    ``*_count``; ``seq`` as an integer field; a plate only as ``plate_hash``. A traffic signal's
    approaches become one ``traffic_signal_approach`` point each, tagged ``approach``. A status
    without ``ts`` is timed by ``now`` (default: the current time).
    """
    payload = message.payload
    topic = message.topic
    plan = _PLANS.get(type(payload)) or _plan(type(payload))
    base = _base_tags(topic.kind.value, topic.device_id, topic.district, device)
    ts: datetime | None = getattr(payload, "ts", None)
    seq: int | None = getattr(payload, "seq", None)
    if ts is None:
        ts = now if now is not None else datetime.now(UTC)
    time_ns = point_time_ns(ts, seq)
    fields = _fields(payload, plan, plate_key, None)
    points = [Point(plan.measurement, base, tuple(fields), time_ns)]
    for name, child_model in plan.children:
        child_plan = _PLANS.get(child_model) or _plan(child_model, child=True)
        for child in getattr(payload, name):
            extra: list[tuple[str, str]] = []
            child_fields = _fields(child, child_plan, plate_key, extra)
            if seq is not None:
                child_fields.append(("seq", seq))
                child_fields.sort()
            points.append(
                Point(
                    child_plan.measurement,
                    tuple(sorted((*base, *extra))),
                    tuple(child_fields),
                    time_ns,
                )
            )
    return points


NUMERIC_MEASUREMENTS: Final = _numeric_measurements()
"""Measurement → its numeric measured fields: what the downsampling queries average."""
