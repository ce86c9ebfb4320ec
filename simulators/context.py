"""What every device model sees at one simulated moment: time, sun, weather, demand."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from devices import City

__all__ = ["NIGHT_DEMAND", "Tick", "make_tick", "traffic_demand"]


@dataclass(frozen=True, slots=True)
class Tick:
    """One simulated moment for the whole city. ``t`` is epoch seconds (UTC)."""

    t: float
    dt_s: float
    local_hour: float
    weekday: int
    day_of_year: int
    sun_elevation_deg: float
    air_temp_c: float
    water_temp_c: float  # the season's water temperature, before a station's own swing
    demand: float
    elapsed_s: float

    @property
    def second(self) -> int:
        """The epoch second: draws are keyed by it, so they depend on time, not on tick count."""
        return int(self.t)


# The night floor, relative to the weekday morning peak. A residential city's 03:00 hour carries
# a few per cent of its peak hour; Dongguan is a manufacturing city whose factories run two
# 12-hour shifts (08:00–20:00, 20:00–08:00) or three 8-hour ones, so lorries, shuttle buses and
# night-shift workers keep its roads at roughly a sixth of the peak through the night (a
# decided figure, from the shift pattern, not a count).
NIGHT_DEMAND = 0.16


def traffic_demand(local_hour: float, weekday: int) -> float:
    """Traffic demand relative to the weekday morning peak (≈1.0 at 08:00).

    Two commuter peaks on working days (08:00, 18:00), a midday plateau, the night floor of a
    city working shifts, and small bumps at the shift changes (20:00, 23:00); many factories
    work Saturdays, so Saturday keeps a lower working-day shape; Sunday flattens into one broad
    afternoon hump.
    """

    def bump(centre: float, width: float) -> float:
        distance = (local_hour - centre + 12.0) % 24.0 - 12.0  # the night wraps past midnight
        return math.exp(-((distance / width) ** 2))

    shifts = 0.18 * bump(20.2, 0.6) + 0.10 * bump(23.2, 0.5)
    if weekday == 6:
        return NIGHT_DEMAND + 0.45 * bump(14.0, 4.0) + 0.15 * bump(20.0, 2.0) + shifts
    working = 0.80 * bump(8.0, 1.1) + 0.70 * bump(18.0, 1.4) + 0.30 * bump(13.0, 3.0)
    return NIGHT_DEMAND + (0.75 if weekday == 5 else 1.0) * working + shifts


def _seasonal(coldest: float, warmest: float, day_of_year: int, lag_days: float) -> float:
    """A yearly sine through the coldest and warmest monthly means (northern hemisphere)."""
    mean, swing = (coldest + warmest) / 2.0, (warmest - coldest) / 2.0
    return mean + swing * math.sin(2 * math.pi * (day_of_year - 110 - lag_days) / 365.0)


def make_tick(t: float, dt_s: float, city: City, zone: ZoneInfo, start_s: float) -> Tick:
    """The city's state at epoch second ``t``."""
    local = datetime.fromtimestamp(t, zone)
    hour = local.hour + local.minute / 60 + local.second / 3600
    doy = local.timetuple().tm_yday
    # the southern hemisphere's seasons are half a year off
    season_day = doy if city.latitude >= 0 else (doy + 182) % 365
    seasonal = _seasonal(city.air_temp_coldest_c, city.air_temp_warmest_c, season_day, 0.0)
    water = _seasonal(city.water_temp_coldest_c, city.water_temp_warmest_c, season_day, 10.0)
    air = seasonal + 3.5 * math.sin(2 * math.pi * (hour - 9.0) / 24.0)
    return Tick(
        t=t,
        dt_s=dt_s,
        local_hour=hour,
        weekday=local.weekday(),
        day_of_year=doy,
        sun_elevation_deg=city.sun_elevation_deg(local),
        air_temp_c=air,
        water_temp_c=water,
        demand=traffic_demand(hour, local.weekday()),
        elapsed_s=t - start_s,
    )
