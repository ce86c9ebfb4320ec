"""Where the sun stands, for rules that care whether it is day (a lamp burning at noon).

The NOAA solar-position approximation (declination and equation of time from the fractional
year); good to a fraction of a degree, which is plenty for gates set a few degrees from the
horizon. Kept here because the alerts room imports nothing but ``devices``.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

__all__ = ["sun_elevation_deg"]


def sun_elevation_deg(at: datetime, latitude: float, longitude: float) -> float:
    """The sun's elevation above the horizon in degrees (negative below) at ``at`` (aware)."""
    moment = at.astimezone(UTC)
    day_of_year = moment.timetuple().tm_yday
    hours = moment.hour + moment.minute / 60 + moment.second / 3600
    days_in_year = 366 if _is_leap(moment.year) else 365
    gamma = 2 * math.pi / days_in_year * (day_of_year - 1 + (hours - 12) / 24)
    equation_of_time_min = 229.18 * (
        0.000075
        + 0.001868 * math.cos(gamma)
        - 0.032077 * math.sin(gamma)
        - 0.014615 * math.cos(2 * gamma)
        - 0.040849 * math.sin(2 * gamma)
    )
    declination = (
        0.006918
        - 0.399912 * math.cos(gamma)
        + 0.070257 * math.sin(gamma)
        - 0.006758 * math.cos(2 * gamma)
        + 0.000907 * math.sin(2 * gamma)
        - 0.002697 * math.cos(3 * gamma)
        + 0.00148 * math.sin(3 * gamma)
    )
    true_solar_min = hours * 60 + equation_of_time_min + 4 * longitude
    hour_angle = math.radians(true_solar_min / 4 - 180)
    lat = math.radians(latitude)
    cos_zenith = math.sin(lat) * math.sin(declination) + math.cos(lat) * math.cos(
        declination
    ) * math.cos(hour_angle)
    zenith = math.acos(max(-1.0, min(1.0, cos_zenith)))
    return 90.0 - math.degrees(zenith)


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
