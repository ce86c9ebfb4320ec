"""The sun's position from the NOAA solar calculator equations (Meeus, simplified).

Accurate to about a minute in sunrise and sunset for latitudes within ±72°, which is what a
photocell-driven streetlight needs. Time is epoch seconds UTC; angles are degrees.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime

__all__ = ["SUNSET_ELEVATION_DEG", "solar_elevation_deg", "sun_events"]

# The sun's centre is 0.833° below the horizon at sunrise and sunset: its radius (0.267°) plus
# atmospheric refraction (0.566°). "The sun is down" means below this.
SUNSET_ELEVATION_DEG = -0.833

_DAY_S = 86_400.0


def solar_elevation_deg(epoch_s: float, latitude: float, longitude: float) -> float:
    """The sun's geometric elevation above the horizon, in degrees, at ``epoch_s`` (UTC)."""
    rad = math.radians
    julian_day = epoch_s / _DAY_S + 2440587.5
    century = (julian_day - 2451545.0) / 36525.0
    mean_long = (280.46646 + century * (36000.76983 + century * 0.0003032)) % 360.0
    mean_anom = 357.52911 + century * (35999.05029 - 0.0001537 * century)
    eccentricity = 0.016708634 - century * (0.000042037 + 0.0000001267 * century)
    centre = (
        math.sin(rad(mean_anom)) * (1.914602 - century * (0.004817 + 0.000014 * century))
        + math.sin(rad(2 * mean_anom)) * (0.019993 - 0.000101 * century)
        + math.sin(rad(3 * mean_anom)) * 0.000289
    )
    omega = rad(125.04 - 1934.136 * century)
    apparent_long = mean_long + centre - 0.00569 - 0.00478 * math.sin(omega)
    mean_obliquity = (
        23.0
        + (26.0 + (21.448 - century * (46.815 + century * (0.00059 - century * 0.001813))) / 60.0)
        / 60.0
    )
    obliquity = mean_obliquity + 0.00256 * math.cos(omega)
    declination = math.asin(math.sin(rad(obliquity)) * math.sin(rad(apparent_long)))
    y = math.tan(rad(obliquity / 2.0)) ** 2
    l0 = rad(mean_long)
    m = rad(mean_anom)
    equation_of_time_min = 4.0 * math.degrees(
        y * math.sin(2 * l0)
        - 2 * eccentricity * math.sin(m)
        + 4 * eccentricity * y * math.sin(m) * math.cos(2 * l0)
        - 0.5 * y * y * math.sin(4 * l0)
        - 1.25 * eccentricity * eccentricity * math.sin(2 * m)
    )
    minutes_utc = (epoch_s % _DAY_S) / 60.0
    true_solar_min = (minutes_utc + equation_of_time_min + 4.0 * longitude) % 1440.0
    hour_angle = true_solar_min / 4.0 - 180.0
    lat = rad(latitude)
    cos_zenith = math.sin(lat) * math.sin(declination) + math.cos(lat) * math.cos(
        declination
    ) * math.cos(rad(hour_angle))
    zenith = math.degrees(math.acos(max(-1.0, min(1.0, cos_zenith))))
    return 90.0 - zenith


def sun_events(day: date, latitude: float, longitude: float) -> list[tuple[datetime, bool]]:
    """Moments of the UTC day ``day`` when the sun crosses the sunset elevation, to the second.

    Each is ``(moment, rising)``. Found by scanning in 10-minute steps and bisecting, so polar
    days and nights (no crossing) simply give an empty list.
    """
    start = datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()
    events: list[tuple[datetime, bool]] = []

    def above(t: float) -> float:
        return solar_elevation_deg(t, latitude, longitude) - SUNSET_ELEVATION_DEG

    step = 600.0
    t = start
    value = above(t)
    while t < start + _DAY_S:
        nxt = min(t + step, start + _DAY_S)
        next_value = above(nxt)
        if (value < 0) != (next_value < 0):
            low, high = t, nxt
            while high - low > 0.5:
                mid = (low + high) / 2
                if (above(mid) < 0) == (value < 0):
                    low = mid
                else:
                    high = mid
            moment = datetime.fromtimestamp(round(high), tz=UTC)
            events.append((moment, value < 0))
        t, value = nxt, next_value
    return events
