"""Decode raw MQTT bytes into a typed payload, or say exactly why not.

Decoding any bytes on any topic yields a ``Message`` or raises ``TopicInvalid`` /
``PayloadInvalid``; nothing else escapes (a property test holds us to it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from devices.commands import Command, CommandResult
from devices.errors import PayloadInvalid
from devices.payloads import (
    CheckpointEvent,
    CheckpointTelemetry,
    Payload,
    Status,
    StreetlightTelemetry,
    TrafficSignalEvent,
    TrafficSignalTelemetry,
    WaterQualityTelemetry,
)
from devices.topics import Channel, Kind, Topic, parse_topic
from devices.validation import ValidationProblem, validation_problems

__all__ = ["PAYLOAD_MAX_BYTES", "Message", "decode_message", "schema_for"]

PAYLOAD_MAX_BYTES = 64 * 1024

_SCHEMAS: dict[tuple[Kind, Channel], TypeAdapter[Any]] = {
    (Kind.STREETLIGHT, Channel.TELEMETRY): TypeAdapter(StreetlightTelemetry),
    (Kind.WATER_QUALITY, Channel.TELEMETRY): TypeAdapter(WaterQualityTelemetry),
    (Kind.TRAFFIC_SIGNAL, Channel.TELEMETRY): TypeAdapter(TrafficSignalTelemetry),
    (Kind.TRAFFIC_SIGNAL, Channel.EVENT): TypeAdapter(TrafficSignalEvent),
    (Kind.CHECKPOINT, Channel.TELEMETRY): TypeAdapter(CheckpointTelemetry),
    (Kind.CHECKPOINT, Channel.EVENT): TypeAdapter(CheckpointEvent),
}
# every kind takes downlink commands and answers them
_COMMAND = TypeAdapter(Command)
_COMMAND_RESULT = TypeAdapter(CommandResult)
for _kind in Kind:
    _SCHEMAS[(_kind, Channel.CMD)] = _COMMAND
    _SCHEMAS[(_kind, Channel.CMD_RESULT)] = _COMMAND_RESULT
_STATUS = TypeAdapter(Status)


@dataclass(frozen=True, slots=True)
class Message:
    """A decoded device message: who spoke (from the topic) and what it said."""

    topic: Topic
    payload: Payload


def schema_for(kind: Kind, channel: Channel) -> TypeAdapter[Any] | None:
    """The schema of a kind's channel, or ``None`` when that kind has no such channel."""
    if channel is Channel.STATUS:
        return _STATUS
    return _SCHEMAS.get((kind, channel))


def decode_message(
    topic: str | Topic, data: bytes, *, max_bytes: int = PAYLOAD_MAX_BYTES
) -> Message:
    """Decode one message; raise ``TopicInvalid`` or ``PayloadInvalid`` naming what and where."""
    parsed = topic if isinstance(topic, Topic) else parse_topic(topic)
    # the topic as text only for an error: most messages are good, and it costs 0.4 µs
    if len(data) > max_bytes:
        raise PayloadInvalid(
            str(parsed),
            "too_large",
            f"payload of {len(data)} bytes exceeds the {max_bytes} byte limit",
        )
    channel = parsed.channel
    schema = _STATUS if channel is Channel.STATUS else _SCHEMAS.get((parsed.kind, channel))
    if schema is None:
        raise PayloadInvalid(
            str(parsed),
            "unexpected_channel",
            f"{parsed.kind.value} devices publish nothing on {parsed.channel.value!r}",
        )
    try:
        payload = schema.validate_json(data)
    except ValidationError as exc:
        raise _explain(str(parsed), parsed, exc) from None
    except (ValueError, RecursionError) as exc:  # the JSON parser's own limits
        raise PayloadInvalid(str(parsed), "malformed_json", f"not JSON: {exc}") from None
    if not isinstance(payload, Payload):  # pragma: no cover - every schema is a Payload
        raise PayloadInvalid(str(parsed), "schema", "payload did not decode to a known schema")
    named = getattr(payload, "device_id", None)
    if named is not None and named != parsed.device_id:
        raise PayloadInvalid(
            str(parsed),
            "device_mismatch",
            f"payload names device {named!r} but was published on {parsed.device_id!r}'s topic",
            "device_id",
        )
    return Message(parsed, payload)


def _explain(where: str, topic: Topic, exc: ValidationError) -> PayloadInvalid:
    """Turn pydantic's first error into a sentence a person can act on, with a stable code."""
    problem = validation_problems(exc)[0]
    location = problem.field
    prefix = f"{topic.kind.value} {topic.device_id}: "
    kind = problem.kind
    if kind == "json_invalid":
        return PayloadInvalid(where, "malformed_json", prefix + f"not JSON: {problem.message}")
    if kind in {"model_type", "dict_type", "model_attributes_type"} and not location:
        return PayloadInvalid(where, "not_an_object", prefix + "payload is not a JSON object")
    if kind == "missing":
        return PayloadInvalid(where, "missing_field", prefix + f"{location} is missing", location)
    if kind == "extra_forbidden":
        return PayloadInvalid(
            where, "unknown_field", prefix + f"unknown field {location!r}", location
        )
    if kind in {"greater_than_equal", "less_than_equal", "greater_than", "less_than"}:
        bounds = _bounds(problem)
        return PayloadInvalid(
            where,
            "out_of_range",
            prefix + f"{location} {_show(problem.value)} out of range {bounds}",
            location,
        )
    if kind == "finite_number":
        return PayloadInvalid(
            where, "not_finite", prefix + f"{location} is NaN or infinite", location
        )
    if location.endswith("ts") or location == "ts":
        return PayloadInvalid(where, "bad_timestamp", prefix + problem.message, location)
    return PayloadInvalid(
        where,
        "wrong_type" if kind.endswith("_type") or kind.endswith("_parsing") else "invalid_value",
        prefix + f"{location}: {problem.message} (got {_show(problem.value, location)})",
        location,
    )


def _bounds(problem: ValidationProblem) -> str:
    """The valid range of the field an error points at, as "lo–hi"."""
    field = str(problem.location[-1]) if problem.location else ""
    found = _RANGES.get(field)
    if found is None:
        return ", ".join(f"{key} {value}" for key, value in problem.context.items())
    low, high = found
    return f"{_show(low)}–{_show(high)}"


def _collect_ranges() -> dict[str, tuple[object, object]]:
    """Field name → (ge, le) over every payload model; the same name has the same range."""
    ranges: dict[str, tuple[object, object]] = {}
    pending: list[type[BaseModel]] = [Payload]
    while pending:
        model = pending.pop()
        pending.extend(model.__subclasses__())
        for name, info in model.model_fields.items():
            low = next((m.ge for m in info.metadata if getattr(m, "ge", None) is not None), None)
            high = next((m.le for m in info.metadata if getattr(m, "le", None) is not None), None)
            if low is not None or high is not None:
                ranges.setdefault(name, (low, high))
    return ranges


_RANGES = _collect_ranges()


_PERSONAL_FIELDS = frozenset({"plate"})  # never quoted back: a sentence ends up in dead letters


def _show(value: object, location: str = "") -> str:
    if location.rpartition(".")[2] in _PERSONAL_FIELDS:
        return "(withheld: personal data)"
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 40 else text[:37] + "..."
