"""Time-of-day gates (``when:``): the sun's elevation over the city and local-time spans.

Outside its gate a rule's condition does not hold: a lamp-on-in-daylight rule says nothing at
night, and an alert raised inside the gate resolves once the gate closes.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from alerts.conditions import within
from alerts.rules import When
from devices import City

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

    def open(self, when: When, at: datetime) -> bool:
        """Whether the gate lets the condition hold at ``at``."""
        if when.sun_above_deg is not None or when.sun_below_deg is not None:
            elevation = self.sun_at(at)
            if when.sun_above_deg is not None and elevation <= when.sun_above_deg:
                return False
            if when.sun_below_deg is not None and elevation >= when.sun_below_deg:
                return False
        local = at.astimezone(self._zone).time() if self._zone else at.time()
        inside = when.span("local_time")
        if inside is not None and not within(local, *inside):
            return False
        outside = when.span("outside_local_time")
        return outside is None or not within(local, *outside)

    def sun_at(self, at: datetime) -> float:
        """The sun's elevation over the city, in degrees, to the minute."""
        minute = int(at.timestamp() // 60)
        if self._sun_cache[0] != minute:
            self._sun_cache = (minute, self._city.sun_elevation_deg(at))
        return self._sun_cache[1]
