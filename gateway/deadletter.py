"""Dead letters: the record kept in InfluxDB and the message published for people to see.

The original payload travels base64-encoded and cut at a bound, so no byte a device sends can
break the JSON, the line protocol or a dashboard.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

from devices import TopicInvalid, deadletter_topic, parse_topic
from gateway.errors import PayloadRejected
from ingest import Point

__all__ = ["DEADLETTER_MEASUREMENT", "DeadLetter"]

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


def _clip(text: str) -> str:
    # surrogates from a backslash-replaced topic are already escaped; clip what is left
    return text if len(text) <= _TEXT_MAX else text[: _TEXT_MAX - 3] + "..."
