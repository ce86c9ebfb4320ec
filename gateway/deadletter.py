"""Dead letters: the record kept in InfluxDB and the message published for people to see.

The original payload travels base64-encoded and cut at a bound, so no byte a device sends can
break the JSON, the line protocol or a dashboard. Base64 is not secrecy: a licence plate in a
rejected payload is replaced by its keyed hash first (``redact_personal``), the same
``plate_hash`` a stored point carries, so a dead letter holds no plate in clear.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

from devices import TopicInvalid, deadletter_topic, parse_topic
from gateway.errors import PayloadRejected
from ingest import Point, plate_hash

__all__ = ["DEADLETTER_MEASUREMENT", "DeadLetter", "redact_personal"]

DEADLETTER_MEASUREMENT = "deadletter"
_TEXT_MAX = 512  # characters of topic and detail kept


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A rejected message, ready to be stored and published."""

    topic: str
    reason: str
    detail: str
    payload: bytes
    received_at: float
    time_ns: int

    @classmethod
    def of(
        cls, rejected: PayloadRejected, payload: bytes, received_at: float, time_ns: int
    ) -> DeadLetter:
        """The dead letter of one rejected message."""
        return cls(
            _clip(rejected.topic),
            rejected.reason,
            _clip(rejected.detail),
            payload,
            received_at,
            time_ns,
        )

    @property
    def publish_topic(self) -> str:
        """``city/deadletter/{reason}``."""
        return deadletter_topic(self.reason)

    def point(self, payload_max_bytes: int) -> Point:
        """The ``deadletter`` point: tagged by reason (and device, when the topic names one)."""
        tags = {"reason": self.reason}
        try:
            parsed = parse_topic(self.topic)
        except TopicInvalid:
            pass
        else:
            tags.update(district=parsed.district, kind=parsed.kind.value)
            tags["device_id"] = parsed.device_id
        kept = self.payload[:payload_max_bytes]
        fields: dict[str, bool | int | float | str] = {
            "topic": self.topic,
            "detail": self.detail,
            "payload_b64": base64.b64encode(kept).decode("ascii"),
            "payload_bytes": len(self.payload),
            "payload_truncated": len(kept) < len(self.payload),
        }
        return Point(
            DEADLETTER_MEASUREMENT,
            tuple(sorted(tags.items())),
            tuple(sorted(fields.items())),
            self.time_ns,
        )

    def message(self, payload_max_bytes: int) -> bytes:
        """The JSON published on ``city/deadletter/{reason}``."""
        kept = self.payload[:payload_max_bytes]
        return orjson.dumps(
            {
                "topic": self.topic,
                "reason": self.reason,
                "detail": self.detail,
                "received_at": datetime.fromtimestamp(self.received_at, UTC)
                .isoformat(timespec="milliseconds")
                .replace("+00:00", "Z"),
                "payload_b64": base64.b64encode(kept).decode("ascii"),
                "payload_bytes": len(self.payload),
                "payload_truncated": len(kept) < len(self.payload),
            }
        )


_PERSONAL_KEYS = frozenset({"plate"})
# a plate field in text that is not (or not whole) JSON: up to its closing quote or the end
_PLATE_TEXT = re.compile(rb'("plate"\s*:\s*")((?:[^"\\]|\\.)*)("|$)')


def redact_personal(payload: bytes, plate_key: bytes) -> bytes:
    """The payload with every licence plate replaced by ``plate_hash:<keyed hash>``.

    JSON is walked (any ``plate`` key at any depth, however its name is escaped); bytes that are
    not JSON are searched for ``"plate": "..."``.
    """
    if b"plate" not in payload and b"\\u" not in payload:
        return payload
    try:
        document = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return _redact_text(payload, plate_key)
    try:
        redacted, changed = _redact(document, plate_key)
    except RecursionError:  # nested deeper than Python recurses: search the text instead
        return _redact_text(payload, plate_key)
    return orjson.dumps(redacted) if changed else payload


def _redact_text(payload: bytes, key: bytes) -> bytes:
    return _PLATE_TEXT.sub(
        lambda found: (
            found.group(1)
            + _hashed(found.group(2).decode("utf-8", "replace"), key).encode("ascii")
            + b'"'
        ),
        payload,
    )


def _redact(value: object, key: bytes) -> tuple[object, bool]:
    if isinstance(value, dict):
        changed = False
        out: dict[str, object] = {}
        for name, item in value.items():
            if name in _PERSONAL_KEYS and isinstance(item, str):
                out[name] = _hashed(item, key)
                changed = True
            else:
                out[name], inner = _redact(item, key)
                changed = changed or inner
        return out, changed
    if isinstance(value, list):
        items = [_redact(item, key) for item in value]
        return [item for item, _ in items], any(inner for _, inner in items)
    return value, False


def _hashed(plate: str, key: bytes) -> str:
    return "plate_hash:" + plate_hash(plate, key)


def _clip(text: str) -> str:
    # surrogates from a backslash-replaced topic are already escaped; clip what is left
    return text if len(text) <= _TEXT_MAX else text[: _TEXT_MAX - 3] + "..."
