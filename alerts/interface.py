"""The one small interface where the gateway meets the rule engine.

The gateway hands over each batch of readings once it is durable (stored or spooled), as typed
``Observation`` values; the engine evaluates them asynchronously. ``submit`` may wait (a bounded
queue inside the engine): that is back-pressure, never a silent drop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from devices import DeviceRecord, Message

__all__ = ["Observation", "ObservationSink"]


@dataclass(frozen=True, slots=True)
class Observation:
    """One decoded, validated device message with its registry record."""

    message: Message
    device: DeviceRecord | None
    received_at: datetime


class ObservationSink(Protocol):
    """Whatever receives the gateway's observations (the rule engine, a test's recorder)."""

    async def submit(self, observations: Sequence[Observation]) -> None:
        """Take a batch of observations; may wait for room, never drops silently."""
        ...
