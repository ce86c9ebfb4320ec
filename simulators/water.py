"""Water-quality stations: diurnal cycles, slow drift, rain, spills travelling downstream."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from devices import DeviceRecord, WaterClass
from simulators.context import Tick
from simulators.rand import gauss, uniform
from simulators.scenario import ActiveIncidents

__all__ = ["WaterState", "new_water", "step_water"]

# Typical background for a river meeting each GB 3838-2002 class: ammonia, permanganate index,
# total phosphorus (mg/L), a little under the class limit.
_BACKGROUND: dict[WaterClass, tuple[float, float, float]] = {
    WaterClass.I: (0.10, 1.5, 0.015),
    WaterClass.II: (0.35, 3.0, 0.07),
    WaterClass.III: (0.70, 5.0, 0.15),
    WaterClass.IV: (1.20, 8.0, 0.25),
    WaterClass.V: (1.70, 12.0, 0.35),
    WaterClass.WORSE_THAN_V: (2.50, 18.0, 0.6),
}


@dataclass(slots=True)
class WaterState:
    """A station's fixed character: offsets and its sensors' drift rates."""

    record: DeviceRecord
    key: int
    offset: float
    drift_do_per_day: float
    drift_ph_per_day: float


def new_water(record: DeviceRecord, key: int) -> WaterState:
    """A station with its own small offsets and drift (no two sondes read alike)."""
    return WaterState(
        record,
        key,
        offset=uniform(key, 1) - 0.5,
        drift_do_per_day=0.04 * (uniform(key, 2) - 0.5),
        drift_ph_per_day=0.01 * (uniform(key, 3) - 0.5),
    )


def saturation_do_mg_l(temp_c: float) -> float:
    """Dissolved oxygen at saturation in fresh water at sea level (APHA polynomial fit)."""
    return 14.62 - 0.3898 * temp_c + 0.006969 * temp_c**2 - 0.00005897 * temp_c**3


def step_water(state: WaterState, tick: Tick, now: ActiveIncidents) -> dict[str, Any]:
    """The station's telemetry fields at this tick (without ts and seq)."""
    record = state.record
    key, second = state.key, tick.second
    hour = tick.local_hour
    days = tick.elapsed_s / 86_400.0
    # water lags the air: smaller swing, peak mid-afternoon
    seasonal = 17.0 + 9.0 * math.sin(2 * math.pi * (tick.day_of_year - 115) / 365.0)
    temp = seasonal + 1.2 * math.sin(2 * math.pi * (hour - 9.0) / 24.0) + 0.5 * state.offset
    temp += 0.05 * gauss(key, second, 1)
    # photosynthesis lifts oxygen by day, respiration draws it down by night
    photosynthesis = 0.12 * math.sin(2 * math.pi * (hour - 8.0) / 24.0)
    ammonia_bg, permanganate_bg, phosphorus_bg = _BACKGROUND[record.target_class or WaterClass.III]
    ammonia = ammonia_bg * (1 + 0.2 * state.offset) * (1 + 0.04 * gauss(key, second, 2))
    permanganate = permanganate_bg * (1 + 0.1 * state.offset) * (1 + 0.03 * gauss(key, second, 3))
    for spill in now.spills:
        if spill.river == record.river and record.section_order is not None:
            extra_nh3, extra_codmn = spill.excess(record.section_order, tick.t)
            ammonia += extra_nh3
            permanganate += extra_codmn
    oxygen = saturation_do_mg_l(temp) * (0.88 + photosynthesis) - 0.4 * max(0.0, ammonia - 1.0)
    oxygen += state.drift_do_per_day * days + 0.05 * gauss(key, second, 4)
    ph = 7.6 + 0.25 * math.sin(2 * math.pi * (hour - 8.0) / 24.0) + 0.1 * state.offset
    ph += state.drift_ph_per_day * days + 0.02 * gauss(key, second, 5)
    rain = now.rain(record.district)
    turbidity = (8.0 + 3.0 * state.offset) * rain * (1 + 0.05 * gauss(key, second, 6))
    phosphorus = phosphorus_bg * (1 + 0.15 * (rain - 1) ** 0.5) * (1 + 0.04 * gauss(key, second, 7))
    conductivity = (420.0 + 40 * state.offset) / (1 + 0.02 * (rain - 1)) + 60.0 * max(
        0.0, ammonia - ammonia_bg
    )
    return {
        "water_temp_c": round(_clamp(temp, -5, 45), 2),
        "ph": round(_clamp(ph, 0, 14), 2),
        "dissolved_oxygen_mg_l": round(_clamp(oxygen, 0, 25), 2),
        "permanganate_index_mg_l": round(_clamp(permanganate, 0, 100), 2),
        "ammonia_mg_l": round(_clamp(ammonia, 0, 100), 3),
        "total_phosphorus_mg_l": round(_clamp(phosphorus, 0, 20), 3),
        "turbidity_ntu": round(_clamp(turbidity, 0, 4_000), 1),
        "conductivity_us_cm": round(_clamp(conductivity, 0, 100_000), 1),
    }


def _clamp(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)
