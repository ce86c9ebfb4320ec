"""Streetlights: on when the sun is down, dimmed after midnight, ageing, failing, cabinets.

The electrics and the case temperature come from ``simulators.luminaire``."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from devices import SUNRISE_ELEVATION_DEG, DeviceRecord, StreetlightFault
from simulators.context import Tick
from simulators.luminaire import (
    MAINS_V,
    OVER_TEMPERATURE_C,
    OVER_TEMPERATURE_CLEAR_C,
    OVER_VOLTAGE_V,
    UNDER_VOLTAGE_V,
    case_temp_c,
    dissipated_w,
    input_power_w,
    thermal_resistance_k_w,
)
from simulators.rand import gauss, uniform
from simulators.scenario import ActiveIncidents

__all__ = [
    "MAINS_V",
    "LampSignature",
    "StreetlightState",
    "dimming_pct",
    "lamp_failure",
    "step_streetlight",
    "streetlight_signature",
]

# LED road lights fail far less often than the sodium lamps they replaced: drivers are rated
# for 50,000–100,000 h at 10 % failures (B10) and LED modules for L70 beyond 50,000 h, i.e. a
# few per cent of a city's lights a year, most of them drivers (the commonest LED fault). We
# take 2 % a year (one failure per lamp per 50 years), 70 % of them the driver.
_FAILURE_PER_YEAR = 0.02
_LAMP_LIFE_S = 365 * 86_400.0 / _FAILURE_PER_YEAR
_DRIVER_SHARE = 0.7
_REPAIR_S = 3 * 86_400.0  # the crew replaces it within three days
_NIGHT_DIM_PCT = 50.0


@dataclass(slots=True)
class StreetlightState:
    """What a light controller remembers between reports."""

    record: DeviceRecord
    key: int
    energy_kwh: float
    burn_h: float
    dim_override: float | None = None
    dim_until_s: float = 0.0
    last_report_t: float | None = None
    over_temperature: bool = False  # the flag at the last report (its hysteresis)


def new_streetlight(record: DeviceRecord, key: int) -> StreetlightState:
    """A light with some years of service behind it, as in any real city."""
    burn_h = 4_000.0 * uniform(key, 1) * 12  # up to ~12 years of night hours
    return StreetlightState(record, key, energy_kwh=burn_h * 0.08, burn_h=burn_h)


def dimming_pct(local_hour: float) -> float:
    """The dimming schedule: full from dusk to midnight, half until 05:00, then full again."""
    return _NIGHT_DIM_PCT if 0.0 <= local_hour < 5.0 else 100.0


def lamp_failure(key: int, t: float) -> StreetlightFault | None:
    """The lamp's own failure at ``t``, if it is failed: failures recur per lamp at a random
    phase, and the lamp is dark for the repair time; a failed driver or a failed LED module."""
    phase = uniform(key, 2) * _LAMP_LIFE_S
    if (t - phase) % _LAMP_LIFE_S >= _REPAIR_S:
        return None
    number = int((t - phase) // _LAMP_LIFE_S)
    driver = uniform(key, 3, number) < _DRIVER_SHARE
    return StreetlightFault.DRIVER_FAILURE if driver else StreetlightFault.LAMP_FAILURE


@dataclass(frozen=True, slots=True)
class _LampNow:
    """What the controller measures and flags at one moment (no state changed)."""

    powered: bool
    failed: bool
    dark: bool
    dim: float
    lamp_on: bool
    voltage_v: float
    power_w: float
    power_factor: float
    case_temp_c: float
    faults: tuple[StreetlightFault, ...]


@dataclass(frozen=True, slots=True)
class _Switching:
    powered: bool
    failure: StreetlightFault | None  # the lamp's own failure, if it is failed
    dark: bool
    dim: float


def _switching(state: StreetlightState, tick: Tick, now: ActiveIncidents) -> _Switching:
    record = state.record
    failure = lamp_failure(state.key, tick.t)
    if record.id in now.drivers_failed:
        failure = StreetlightFault.DRIVER_FAILURE
    elif record.id in now.lamps_failed:
        failure = failure or StreetlightFault.LAMP_FAILURE
    override = state.dim_override if tick.t < state.dim_until_s else None
    return _Switching(
        powered=record.cabinet not in now.cabinets_off,
        failure=failure,
        dark=tick.sun_elevation_deg < SUNRISE_ELEVATION_DEG,
        dim=override if override is not None else dimming_pct(tick.local_hour),
    )


def _measure(state: StreetlightState, tick: Tick, now: ActiveIncidents) -> _LampNow:
    record = state.record
    rated = record.rated_power_w or 100.0
    second = tick.second
    switching = _switching(state, tick, now)
    powered, dark, dim = switching.powered, switching.dark, switching.dim
    failed = switching.failure is not None
    lamp_on = powered and dark and not failed and dim > 0
    faults: list[StreetlightFault] = []
    if not powered:
        faults.append(StreetlightFault.POWER_LOSS)
        voltage = 0.0
    else:
        feeds = (record.id, record.cabinet, "*")
        mains = next((now.mains_v[feed] for feed in feeds if feed in now.mains_v), MAINS_V)
        voltage = mains + 2.5 * gauss(state.key, second, 3)
        if voltage > OVER_VOLTAGE_V:
            faults.append(StreetlightFault.OVER_VOLTAGE)
        elif voltage < UNDER_VOLTAGE_V:
            faults.append(StreetlightFault.UNDER_VOLTAGE)
    if failed and powered and dark:
        faults.append(switching.failure or StreetlightFault.LAMP_FAILURE)
    # LED drivers draw a little more as the lamp ages (lumen maintenance)
    ageing = 1.0 + 0.06 * min(1.0, state.burn_h / 50_000.0)
    heat = 0.0
    if lamp_on:
        power = input_power_w(rated, dim, ageing) * (1 + 0.012 * gauss(state.key, second, 4))
        power_factor = 0.90 + 0.06 * dim / 100.0
        heat = dissipated_w(power, rated)
    elif powered:
        power = 0.4 + 0.05 * uniform(state.key, second, 5)  # the controller's own standby draw
        power_factor = 0.5
    else:
        power, power_factor = 0.0, 0.0
    resistance = thermal_resistance_k_w(rated) * now.overheating.get(record.id, 1.0)
    case = case_temp_c(tick.air_temp_c, heat, resistance) + 0.3 * gauss(state.key, second, 7)
    # the controller's limit, with a hysteresis so a case hovering at it does not chatter
    if case >= (OVER_TEMPERATURE_CLEAR_C if state.over_temperature else OVER_TEMPERATURE_C):
        faults.append(StreetlightFault.OVER_TEMPERATURE)
    return _LampNow(
        powered=powered,
        failed=failed,
        dark=dark,
        dim=dim,
        lamp_on=lamp_on,
        voltage_v=voltage,
        power_w=min(max(power, 0.0), 1_000.0),
        power_factor=power_factor,
        case_temp_c=case,
        faults=tuple(faults),
    )


# mains, failed, dark, dimming, fault flags
LampSignature = tuple[bool, bool, bool, float, tuple[StreetlightFault, ...]]


def streetlight_signature(
    state: StreetlightState, tick: Tick, now: ActiveIncidents
) -> LampSignature:
    """What a controller reports at once when it changes: mains, failure, dark, dimming and
    its fault flags (an alarm is pushed, not left for the next period)."""
    if state.record.id in now.overheating or state.over_temperature or now.mains_v:
        lamp = _measure(state, tick, now)
        return (lamp.powered, lamp.failed, lamp.dark, lamp.dim, lamp.faults)
    # the cheap path, taken at every step by every light: with no incident on its feed or heat
    # sink, a lamp's voltage stays within a few volts of 220 (noise of 2.5 V, the limits 22 V
    # away) and its case 25 K over the air, far from the limit, so only the switching matters
    switching = _switching(state, tick, now)
    failed = switching.failure is not None
    faults: tuple[StreetlightFault, ...] = ()
    if not switching.powered:
        faults = (StreetlightFault.POWER_LOSS,)
    elif failed and switching.dark:
        faults = (switching.failure or StreetlightFault.LAMP_FAILURE,)
    return (switching.powered, failed, switching.dark, switching.dim, faults)


def step_streetlight(state: StreetlightState, tick: Tick, now: ActiveIncidents) -> dict[str, Any]:
    """The controller's telemetry fields at this tick (without ts and seq).

    Energy and burning hours count the time since the controller's previous report.
    """
    dt_s = tick.dt_s if state.last_report_t is None else max(0.0, tick.t - state.last_report_t)
    state.last_report_t = tick.t
    if state.dim_override is not None and tick.t >= state.dim_until_s:
        state.dim_override = None
    lamp = _measure(state, tick, now)
    state.over_temperature = StreetlightFault.OVER_TEMPERATURE in lamp.faults
    if lamp.lamp_on:
        state.burn_h += dt_s / 3_600.0
    state.energy_kwh += lamp.power_w * dt_s / 3.6e6
    voltage, power, power_factor = lamp.voltage_v, lamp.power_w, lamp.power_factor
    current = power / (voltage * power_factor) if voltage > 0 and power_factor > 0 else 0.0
    elevation = tick.sun_elevation_deg
    if elevation > 0:
        lux = 1_000.0 + 110_000.0 * math.sin(math.radians(elevation))
    elif elevation > -6:
        lux = 10 ** (3.0 * (elevation + 6.0) / 6.0)
    else:
        lux = 0.2
    lux *= 1 + 0.05 * gauss(state.key, tick.second, 6)
    return {
        "power_w": round(power, 2),
        "voltage_v": round(min(voltage, 300.0), 1),
        "current_a": round(min(current, 10.0), 3),
        "power_factor": round(min(power_factor, 1.0), 3),
        "energy_kwh": round(state.energy_kwh, 4),
        "lamp_on": lamp.lamp_on,
        "dimming_pct": round(lamp.dim if lamp.lamp_on else 0.0, 1),
        "ambient_lux": round(min(max(lux, 0.0), 200_000.0), 1),
        "lamp_temp_c": round(min(max(lamp.case_temp_c, -50.0), 150.0), 1),
        "faults": [fault.value for fault in lamp.faults],
    }
