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
from collections.abc import Callable, Mapping
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

_FLOAT, _INT, _BOOL, _STR, _ENUM, _FLAGS, _PLATE, _CHILDREN, _TAG = range(9)

_Extract = Callable[[dict[str, Any], bytes, "int | None"], tuple[tuple[str, FieldValue], ...]]
_ExtractTags = Callable[[dict[str, Any]], tuple[tuple[str, str], ...]]


@dataclass(frozen=True, slots=True)
class _Plan:
    measurement: str
    fields: tuple[tuple[str, int], ...]
    children: tuple[tuple[str, type[Payload]], ...]
    extract: _Extract
    extract_tags: _ExtractTags


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
        return _ENUM
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
    extract, extract_tags = _compile(model.__name__, fields, with_seq=child)
    plan = _Plan(model.measurement, tuple(fields), tuple(children), extract, extract_tags)
    _PLANS[model] = plan
    return plan


# What each kind of field becomes: (output name, expression over ``v``), in generated code.
_OUTPUTS: Final[dict[int, tuple[tuple[str, str], ...]]] = {
    _FLOAT: (("{name}", "v if v.__class__ is float else float(v)"),),
    _INT: (("{name}", "v"),),
    _BOOL: (("{name}", "v"),),
    _STR: (("{name}", "v"),),
    _ENUM: (("{name}", "v.value"),),
    _FLAGS: (("{name}", "','.join([flag.value for flag in v])"), ("{stem}_count", "len(v)")),
    _PLATE: (("plate_hash", "_plate_hash(v, key)"),),
}


def _compile(
    model_name: str, fields: list[tuple[str, int]], *, with_seq: bool
) -> tuple[_Extract, _ExtractTags]:
    """Generate a model's field extractor: one straight line of code per output field, in
    sorted order, so converting a message runs no loop, no dispatch and no sort.

    The names are pydantic field names (identifiers) and the expressions are the constants
    above, so the generated text holds nothing that came from a message.
    """
    outputs: list[tuple[str, str, str, bool]] = []  # (output, source field, expression, optional)
    tag_names: list[str] = []
    for name, how in fields:
        if how == _TAG:
            tag_names.append(name)
            continue
        for output, expression in _OUTPUTS[how]:
            outputs.append(
                (output.format(name=name, stem=name.removesuffix("s")), name, expression, True)
            )
    if with_seq:
        outputs.append(("seq", "", "seq", False))
    outputs.sort()
    lines = ["def extract(d, key, seq):", "    out = []"]
    for output, source, expression, optional in outputs:
        if not source:
            lines.append(f"    if seq is not None: out.append(({output!r}, seq))")
            continue
        lines.append(f"    v = d[{source!r}]")
        guard = "if v is not None: " if optional else ""
        lines.append(f"    {guard}out.append(({output!r}, {expression}))")
    lines.append("    return tuple(out)")
    lines.append("def extract_tags(d):")
    lines.append(
        "    return (" + "".join(f"({name!r}, str(d[{name!r}])), " for name in tag_names) + ")"
    )
    namespace: dict[str, Any] = {"_plate_hash": plate_hash}
    exec(compile("\n".join(lines), f"<ingest plan {model_name}>", "exec"), namespace)
    return namespace["extract"], namespace["extract_tags"]


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


# (kind, device id, district, id(record)) → (record, tags). The record is kept so that its id
# cannot be reused by another object while the entry lives; it is compared by identity.
_TAG_CACHE: dict[
    tuple[str, str, str, int], tuple[DeviceRecord | None, tuple[tuple[str, str], ...]]
] = {}
_TAG_CACHE_MAX: Final = 100_000


def _base_tags(
    kind: str, device_id: str, district: str, device: DeviceRecord | None
) -> tuple[tuple[str, str], ...]:
    key = (kind, device_id, district, id(device))
    found = _TAG_CACHE.get(key)
    if found is not None and found[0] is device:
        return found[1]
    tags = {"district": district} if device is None else device.tags()
    tags["kind"] = kind
    tags["device_id"] = device_id
    result = tuple(sorted(tags.items()))
    if len(_TAG_CACHE) >= _TAG_CACHE_MAX:
        _TAG_CACHE.clear()
    _TAG_CACHE[key] = (device, result)
    return result


# --- the conversion -----------------------------------------------------------------------------


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
    points = [
        Point(plan.measurement, base, plan.extract(payload.__dict__, plate_key, None), time_ns)
    ]
    for name, child_model in plan.children:
        child_plan = _PLANS[child_model]
        for child in getattr(payload, name):
            values = child.__dict__
            points.append(
                Point(
                    child_plan.measurement,
                    tuple(sorted(base + child_plan.extract_tags(values))),
                    child_plan.extract(values, plate_key, seq),
                    time_ns,
                )
            )
    return points


NUMERIC_MEASUREMENTS: Final = _numeric_measurements()
"""Measurement → its numeric measured fields: what the downsampling queries average."""
