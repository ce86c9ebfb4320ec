"""Time-of-day gates (``when:``): the sun's elevation over the city, local-time spans, and spans
a device's registry record holds (a junction's ``flash_schedule``).

Outside its gate a rule's condition does not hold: a lamp-on-in-daylight rule says nothing at
night. What a closing gate does to an alert already raised is the lifecycle's business (a pending
alert resets, a firing one whose cause is still there is held).
"""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from alerts.rules import When
from devices import City, DeviceRecord, in_local_span, parse_local_span

__all__ = ["TimeGates"]


class TimeGates:
    """Judges ``when:`` gates for one city; the sun's elevation is cached per minute."""

    def __init__(self, city: City) -> None:
        self._city = city
        try:
            self._zone: ZoneInfo | None = ZoneInfo(city.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            self._zone = None
        self._sun_cache: tuple[int, float] = (-1, 0.0)
        self._spans: dict[str, tuple[time, time]] = {}  # parsed schedule text, by text

    def open(self, when: When, at: datetime, record: DeviceRecord | None = None) -> bool:
        """Whether the gate lets the condition hold at ``at`` (for the device of ``record``)."""
        if when.sun_above_deg is not None or when.sun_below_deg is not None:
            elevation = self.sun_at(at)
            if when.sun_above_deg is not None and elevation <= when.sun_above_deg:
                return False
            if when.sun_below_deg is not None and elevation >= when.sun_below_deg:
                return False
        local = self.local_time(at)
        inside = when.span("local_time")
        if inside is not None and not in_local_span(local, *inside):
            return False
        outside = when.span("outside_local_time")
        if outside is not None and in_local_span(local, *outside):
            return False
        if when.local_time_from is not None:
            own = self._device_span(record, when.local_time_from)
            if own is None or not in_local_span(local, *own):
                return False  # a device without the schedule is never inside it
        if when.outside_local_time_from is not None:
            own = self._device_span(record, when.outside_local_time_from)
            if own is not None and in_local_span(local, *own):
                return False
        return True

    def local_time(self, at: datetime) -> time:
        """The city's wall-clock time at ``at``."""
        return at.astimezone(self._zone).time() if self._zone else at.time()

    def sun_at(self, at: datetime) -> float:
        """The sun's elevation over the city, in degrees, to the minute."""
        minute = int(at.timestamp() // 60)
        if self._sun_cache[0] != minute:
            self._sun_cache = (minute, self._city.sun_elevation_deg(at))
        return self._sun_cache[1]

    def _device_span(self, record: DeviceRecord | None, attribute: str) -> tuple[time, time] | None:
        text = getattr(record, attribute, None) if record is not None else None
        if not isinstance(text, str):
            return None
        span = self._spans.get(text)
        if span is None:
            span = self._spans[text] = parse_local_span(text)  # validated when loaded
        return span
