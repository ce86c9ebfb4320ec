"""Where the sun stands over the city, and when it rises and sets: one formula for every room.

The NOAA solar calculator's equations (Meeus, *Astronomical Algorithms*, simplified): the
sun's declination and the equation of time from the Julian century, then the hour angle for the
place. Good to well under a minute in sunrise and sunset between ±72° latitude, which is what a
photocell-driven streetlight (the simulators) and a rule gated on twilight (the alerts) need.

Elevations are geometric (no refraction); the refraction and the sun's radius are in the
thresholds instead: the sun rises or sets when its centre is ``SUNRISE_ELEVATION_DEG`` (-0.833°)
below the horizon, and civil twilight ends at ``CIVIL_TWILIGHT_ELEVATION_DEG`` (-6°).

```python
sun_elevation_deg(datetime(2024, 6, 21, 4, 0, tzinfo=UTC), 23.02, 113.75)   # ≈ 83.8
sun_day(date(2024, 6, 21), 23.02, 113.75, "Asia/Shanghai").sunrise          # 05:40:19+08:00
```
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

__all__ = [
    "CIVIL_TWILIGHT_ELEVATION_DEG",
    "SUNRISE_ELEVATION_DEG",
    "SunDay",
    "SunPosition",
    "sun_day",
    "sun_elevation_deg",
    "sun_position",
]

SUNRISE_ELEVATION_DEG = -0.833
"""The sun's centre at sunrise and sunset: its radius (0.267°) plus refraction (0.566°) below."""

CIVIL_TWILIGHT_ELEVATION_DEG = -6.0
"""The sun's centre at the start of civil dawn and the end of civil dusk."""

_DAY_S = 86_400.0
_PRECISION_S = 0.5


@dataclass(frozen=True, slots=True)
class SunPosition:
    """The sun seen from one place at one moment: degrees above the horizon (negative below)
    and degrees clockwise from true north."""

    elevation_deg: float
    azimuth_deg: float


@dataclass(frozen=True, slots=True)
class SunDay:
    """One local day's sun events, as aware datetimes in the place's time zone.

    ``None`` where the event does not happen that day (polar day or night, or a twilight that
    never ends in high summer).
    """

    day: date
    civil_dawn: datetime | None
    sunrise: datetime | None
    solar_noon: datetime
    sunset: datetime | None
    civil_dusk: datetime | None


def sun_elevation_deg(at: datetime, latitude: float, longitude: float) -> float:
    """The sun's geometric elevation above the horizon, in degrees, at ``at`` (aware)."""
    declination, hour_angle = _declination_and_hour_angle(_epoch_s(at), longitude)
    return _elevation_deg(math.radians(latitude), declination, hour_angle)


def sun_position(at: datetime, latitude: float, longitude: float) -> SunPosition:
    """Elevation and azimuth of the sun at ``at`` (aware) seen from ``latitude``/``longitude``."""
    declination, hour_angle = _declination_and_hour_angle(_epoch_s(at), longitude)
    lat = math.radians(latitude)
    elevation = _elevation_deg(lat, declination, hour_angle)
    # Meeus 13.5: azimuth from the south, westward; +180° turns it to "from north, clockwise".
    from_south = math.atan2(
        math.sin(hour_angle),
        math.cos(hour_angle) * math.sin(lat) - math.tan(declination) * math.cos(lat),
    )
    return SunPosition(elevation, (math.degrees(from_south) + 180.0) % 360.0)


def sun_day(day: date, latitude: float, longitude: float, timezone: str) -> SunDay:
    """Sunrise, sunset, civil dawn and dusk and solar noon of the local date ``day``, to the
    second, in ``timezone`` (an IANA name such as ``Asia/Shanghai``)."""
    zone = ZoneInfo(timezone)
    local_noon = datetime.combine(day, time(12), tzinfo=zone)
    noon_s = _epoch_s(local_noon)
    for _ in range(2):  # the hour angle moves 15°/h; twice settles the equation of time
        _, hour_angle = _declination_and_hour_angle(noon_s, longitude)
        noon_s -= math.degrees(hour_angle) / 15.0 * 3600.0

    def elevation(epoch_s: float) -> float:
        declination, hour_angle = _declination_and_hour_angle(epoch_s, longitude)
        return _elevation_deg(math.radians(latitude), declination, hour_angle)

    def moment(epoch_s: float | None) -> datetime | None:
        if epoch_s is None:
            return None
        return datetime.fromtimestamp(round(epoch_s), tz=zone)

    half_day_s = _DAY_S / 2
    morning = (noon_s - half_day_s, noon_s)
    evening = (noon_s + half_day_s, noon_s)  # searched backwards: elevation falls after noon
    return SunDay(
        day=day,
        civil_dawn=moment(_crossing(elevation, CIVIL_TWILIGHT_ELEVATION_DEG, *morning)),
        sunrise=moment(_crossing(elevation, SUNRISE_ELEVATION_DEG, *morning)),
        solar_noon=datetime.fromtimestamp(round(noon_s), tz=zone),
        sunset=moment(_crossing(elevation, SUNRISE_ELEVATION_DEG, *evening)),
        civil_dusk=moment(_crossing(elevation, CIVIL_TWILIGHT_ELEVATION_DEG, *evening)),
    )


def _crossing(
    elevation: Callable[[float], float], threshold_deg: float, low_s: float, high_s: float
) -> float | None:
    """When the elevation crosses ``threshold_deg`` between ``low_s`` (below, solar midnight)
    and ``high_s`` (above, solar noon); ``None`` when it stays on one side all the while."""
    if elevation(low_s) >= threshold_deg or elevation(high_s) < threshold_deg:
        return None
    while abs(high_s - low_s) > _PRECISION_S:  # monotonic between midnight and noon: bisect
        middle = (low_s + high_s) / 2
        if elevation(middle) < threshold_deg:
            low_s = middle
        else:
            high_s = middle
    return (low_s + high_s) / 2


def _epoch_s(at: datetime) -> float:
    if at.tzinfo is None:
        raise ValueError(f"{at.isoformat()} has no time zone; the sun needs an aware datetime")
    return at.timestamp()


def _elevation_deg(latitude_rad: float, declination: float, hour_angle: float) -> float:
    cos_zenith = math.sin(latitude_rad) * math.sin(declination) + math.cos(latitude_rad) * math.cos(
        declination
    ) * math.cos(hour_angle)
    return 90.0 - math.degrees(math.acos(max(-1.0, min(1.0, cos_zenith))))


def _declination_and_hour_angle(epoch_s: float, longitude: float) -> tuple[float, float]:
    """The sun's declination and local hour angle (radians, hour angle in [-π, π)) at a moment,
    from the NOAA solar calculator's equations."""
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
    return declination, rad(true_solar_min / 4.0 - 180.0)
