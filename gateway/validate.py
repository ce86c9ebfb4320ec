"""Check one received message against the topic scheme, the registry and its schema.

The answer is an ``Accepted`` (the decoded message and its registry record, ``None`` for an
auto-registered device) or a ``PayloadRejected`` naming the reason code of its dead letter.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from devices import (
    Channel,
    DeviceRecord,
    Message,
    PayloadInvalid,
    TopicInvalid,
    decode_message,
    parse_topic,
)
from gateway.errors import PayloadRejected

__all__ = ["Accepted", "Validator"]


@dataclass(frozen=True, slots=True)
class Accepted:
    """A message that passed every check."""

    message: Message
    device: DeviceRecord | None


class Validator:
    """Applies the gateway's checks; keeps the set of devices it auto-registered."""

    def __init__(
        self,
        registry: Mapping[str, DeviceRecord],
        *,
        register_unknown: bool,
        payload_max_bytes: int,
        ts_future_max_s: float,
        ts_past_max_s: float,
    ) -> None:
        self._registry = registry
        self._register_unknown = register_unknown
        self._max_bytes = payload_max_bytes
        self._future_max_s = ts_future_max_s
        self._past_max_s = ts_past_max_s
        self.auto_registered: set[str] = set()

    def check(self, topic: str, data: bytes, received_at: float) -> Accepted:
        """Accept the message or raise ``PayloadRejected`` with a stable reason code."""
        try:
            parsed = parse_topic(topic)
        except TopicInvalid as exc:
            raise PayloadRejected(topic, "bad_topic", exc.reason) from None
        if parsed.channel is Channel.CMD:
            # the platform's own downlink: never a device's to send on our subscription
            raise PayloadRejected(topic, "unexpected_channel", "cmd is a downlink channel")
        device = self._registry.get(parsed.device_id)
        if device is None:
            if not self._register_unknown:
                raise PayloadRejected(
                    topic, "unknown_device", f"device {parsed.device_id!r} is not in the registry"
                )
            self.auto_registered.add(parsed.device_id)
        elif device.kind is not parsed.kind:
            raise PayloadRejected(
                topic,
                "kind_mismatch",
                f"{parsed.device_id} is a {device.kind.value} in the registry,"
                f" not a {parsed.kind.value}",
            )
        elif device.district != parsed.district:
            raise PayloadRejected(
                topic,
                "district_mismatch",
                f"{parsed.device_id} is in district {device.district!r} in the registry,"
                f" not {parsed.district!r}",
            )
        try:
            message = decode_message(parsed, data, max_bytes=self._max_bytes)
        except PayloadInvalid as exc:
            raise PayloadRejected(topic, exc.code, exc.reason) from None
        ts: datetime | None = getattr(message.payload, "ts", None)
        if ts is not None:
            skew_s = ts.timestamp() - received_at
            if skew_s > self._future_max_s:
                raise PayloadRejected(
                    topic,
                    "ts_in_future",
                    f"{parsed.kind.value} {parsed.device_id}: ts {_iso(ts)} is {skew_s:.0f} s"
                    f" ahead of the gateway's clock (at most {self._future_max_s:.0f} s)",
                )
            if -skew_s > self._past_max_s:
                raise PayloadRejected(
                    topic,
                    "ts_too_old",
                    f"{parsed.kind.value} {parsed.device_id}: ts {_iso(ts)} is {-skew_s:.0f} s"
                    f" in the past (at most {self._past_max_s:.0f} s)",
                )
        return Accepted(message, device)


def _iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
