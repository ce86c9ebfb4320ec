"""What every device model sees at one simulated moment: time, sun, weather, demand."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from devices import City

__all__ = ["Tick", "make_tick", "traffic_demand"]


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
    demand: float
    elapsed_s: float

    @property
    def second(self) -> int:
        """The epoch second: draws are keyed by it, so they depend on time, not on tick count."""
        return int(self.t)


def traffic_demand(local_hour: float, weekday: int) -> float:
    """Traffic demand relative to the weekday morning peak (≈1.0 at 08:00).

    Two commuter peaks on weekdays (08:00, 18:00), a midday plateau, a deep night trough; on
    weekends the peaks flatten into one broad afternoon hump.
    """

    def bump(centre: float, width: float) -> float:
        return math.exp(-(((local_hour - centre) / width) ** 2))

    night = 0.04
    if weekday >= 5:
        return night + 0.55 * bump(14.0, 4.0) + 0.15 * bump(20.0, 2.0)
    return night + 0.95 * bump(8.0, 1.1) + 0.85 * bump(18.0, 1.4) + 0.35 * bump(13.0, 3.0)


def make_tick(t: float, dt_s: float, city: City, zone: ZoneInfo, start_s: float) -> Tick:
    """The city's state at epoch second ``t``."""
    local = datetime.fromtimestamp(t, zone)
    hour = local.hour + local.minute / 60 + local.second / 3600
    doy = local.timetuple().tm_yday
    seasonal = 16.0 + 10.0 * math.sin(2 * math.pi * (doy - 110) / 365.0) * (
        1 if city.latitude >= 0 else -1
    )
    air = seasonal + 4.0 * math.sin(2 * math.pi * (hour - 9.0) / 24.0)
    return Tick(
        t=t,
        dt_s=dt_s,
        local_hour=hour,
        weekday=local.weekday(),
        day_of_year=doy,
        sun_elevation_deg=city.sun_elevation_deg(local),
        air_temp_c=air,
        demand=traffic_demand(hour, local.weekday()),
        elapsed_s=t - start_s,
    )
