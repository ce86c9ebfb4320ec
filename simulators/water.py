"""Water-quality stations: diurnal cycles, slow drift, rain, spills travelling downstream.

Oxygen and pH follow photosynthesis: they climb through the day to a peak mid-afternoon and
fall all night to a minimum just before dawn (about 06:00), when respiration has had the whole
night. A spill's pulse reaches each station after the river's travel time over the stretches in
between (registry ``waters``: stretch lengths and flow), broader and lower, with its mass kept.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from devices import DeviceRecord, WaterBody, WaterBodyType, WaterClass, oxygen_saturation_mg_l
from simulators.context import Tick
from simulators.rand import gauss, uniform
from simulators.scenario import ActiveIncidents

__all__ = ["LAB_FIELDS", "WaterState", "diel_cycle", "new_water", "step_water"]

# What the wet-chemistry analysers measure: in a sample only when an analysis finished.
LAB_FIELDS = ("permanganate_index_mg_l", "ammonia_mg_l", "total_phosphorus_mg_l")
_DEFAULT_STRETCH_KM = 1.5  # a river missing from the registry's waters: stretches this long
_DEFAULT_FLOW_M_S = 0.4  # and this flow

# Typical background for a river meeting each GB 3838-2002 class: ammonia, permanganate index,
# total phosphorus (mg/L), a little under the class limit. Lakes and reservoirs have their own
# phosphorus limits (0.01 … 0.2 mg/L): _LAKE_PHOSPHORUS.
_BACKGROUND: dict[WaterClass, tuple[float, float, float]] = {
    WaterClass.I: (0.10, 1.5, 0.015),
    WaterClass.II: (0.35, 3.0, 0.07),
    WaterClass.III: (0.70, 5.0, 0.15),
    WaterClass.IV: (1.20, 8.0, 0.25),
    WaterClass.V: (1.70, 12.0, 0.35),
    WaterClass.WORSE_THAN_V: (2.50, 18.0, 0.6),
}
_LAKE_PHOSPHORUS: dict[WaterClass, float] = {
    WaterClass.I: 0.007,
    WaterClass.II: 0.018,
    WaterClass.III: 0.038,
    WaterClass.IV: 0.08,
    WaterClass.V: 0.16,
    WaterClass.WORSE_THAN_V: 0.3,
}


@dataclass(slots=True)
class WaterState:
    """A station's fixed character: offsets and its sensors' drift rates."""

    record: DeviceRecord
    key: int
    offset: float
    drift_do_per_day: float
    drift_ph_per_day: float
    water_body: WaterBody | None = None


def new_water(record: DeviceRecord, key: int, water_body: WaterBody | None = None) -> WaterState:
    """A station with its own small offsets and drift (no two sondes read alike)."""
    return WaterState(
        record,
        key,
        offset=uniform(key, 1) - 0.5,
        drift_do_per_day=0.04 * (uniform(key, 2) - 0.5),
        drift_ph_per_day=0.01 * (uniform(key, 3) - 0.5),
        water_body=water_body,
    )


def diel_cycle(local_hour: float) -> float:
    """Photosynthesis over a day, -1 … 1: lowest at 06:00 (dawn, after a night of respiration),
    climbing to its peak at 15:00, then falling through the evening and the night."""
    if 6.0 <= local_hour < 15.0:
        return -math.cos(math.pi * (local_hour - 6.0) / 9.0)
    return math.cos(math.pi * ((local_hour - 15.0) % 24.0) / 15.0)


def _km_downstream(state: WaterState, origin_section: str, origin_order: int) -> float | None:
    """River km from a spill's origin section down to this station; ``None`` upstream of it."""
    record = state.record
    body = state.water_body
    if body is not None and body.sections and record.section is not None:
        return body.km_between(origin_section, record.section)
    order = record.section_order or 0
    return (order - origin_order) * _DEFAULT_STRETCH_KM if order >= origin_order else None


def step_water(state: WaterState, tick: Tick, now: ActiveIncidents) -> dict[str, Any]:
    """The station's telemetry fields at this tick (without ts and seq)."""
    record = state.record
    key, second = state.key, tick.second
    hour = tick.local_hour
    days = tick.elapsed_s / 86_400.0
    # water lags the air: the season's temperature, a small swing peaking mid-afternoon
    temp = tick.water_temp_c + 1.0 * math.sin(2 * math.pi * (hour - 9.5) / 24.0)
    temp += 0.5 * state.offset + 0.05 * gauss(key, second, 1)
    # photosynthesis lifts oxygen by day, respiration draws it down by night
    photosynthesis = 0.10 * diel_cycle(hour)
    target = record.target_class or WaterClass.III
    ammonia_bg, permanganate_bg, phosphorus_bg = _BACKGROUND[target]
    if record.water_body in (WaterBodyType.LAKE, WaterBodyType.RESERVOIR):
        phosphorus_bg = _LAKE_PHOSPHORUS[target]
    ammonia = ammonia_bg * (1 + 0.2 * state.offset) * (1 + 0.04 * gauss(key, second, 2))
    permanganate = permanganate_bg * (1 + 0.1 * state.offset) * (1 + 0.03 * gauss(key, second, 3))
    for spill in now.spills:
        if spill.river != record.river:
            continue
        distance_km = _km_downstream(state, spill.origin_section, spill.origin_order)
        if distance_km is None:
            continue
        river_flow = state.water_body.flow_m_s if state.water_body is not None else None
        flow_m_s = spill.flow_m_s or river_flow or _DEFAULT_FLOW_M_S
        extra_nh3, extra_codmn = spill.excess(distance_km, tick.t, flow_m_s)
        ammonia += extra_nh3
        permanganate += extra_codmn
    oxygen = oxygen_saturation_mg_l(temp) * (0.90 + photosynthesis)
    oxygen -= 0.4 * max(0.0, ammonia - 1.0)
    oxygen += state.drift_do_per_day * days + 0.05 * gauss(key, second, 4)
    ph = 7.5 + 0.2 * diel_cycle(hour) + 0.1 * state.offset
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
