"""Streetlights: on when the sun is down, dimmed after midnight, ageing, failing, cabinets."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from devices import SUNRISE_ELEVATION_DEG, DeviceRecord, StreetlightFault
from simulators.context import Tick
from simulators.rand import gauss, uniform
from simulators.scenario import ActiveIncidents

__all__ = [
    "MAINS_V",
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
# China's mains: 220 V single-phase, ±7 % at the customer's terminals (GB/T 12325-2008 allows
# +7 %/−10 %); the evening peak pulls a street's voltage a few volts down.
MAINS_V = 220.0


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


def streetlight_signature(
    state: StreetlightState, tick: Tick, now: ActiveIncidents
) -> tuple[bool, bool, bool, float]:
    """What a controller reports at once when it changes: mains, failure, dark, dimming."""
    record = state.record
    failed = record.id in now.lamps_failed or lamp_failure(state.key, tick.t) is not None
    dim = state.dim_override if state.dim_override is not None else dimming_pct(tick.local_hour)
    return (
        record.cabinet not in now.cabinets_off,
        failed,
        tick.sun_elevation_deg < SUNRISE_ELEVATION_DEG,
        dim,
    )


def step_streetlight(state: StreetlightState, tick: Tick, now: ActiveIncidents) -> dict[str, Any]:
    """The controller's telemetry fields at this tick (without ts and seq).

    Energy and burning hours count the time since the controller's previous report.
    """
    record = state.record
    rated = record.rated_power_w or 100.0
    second = tick.second
    dt_s = tick.dt_s if state.last_report_t is None else max(0.0, tick.t - state.last_report_t)
    state.last_report_t = tick.t
    powered = record.cabinet not in now.cabinets_off
    own_failure = lamp_failure(state.key, tick.t)
    failed = record.id in now.lamps_failed or own_failure is not None
    dark = tick.sun_elevation_deg < SUNRISE_ELEVATION_DEG
    faults: list[StreetlightFault] = []
    if state.dim_override is not None and tick.t >= state.dim_until_s:
        state.dim_override = None
    dim = state.dim_override if state.dim_override is not None else dimming_pct(tick.local_hour)
    lamp_on = powered and dark and not failed and dim > 0
    if not powered:
        faults.append(StreetlightFault.POWER_LOSS)
        voltage = 0.0
    else:
        voltage = MAINS_V + 2.5 * gauss(state.key, second, 3)
    if failed and powered and dark:
        faults.append(own_failure or StreetlightFault.LAMP_FAILURE)
    # LED drivers draw a little more as the lamp ages (lumen maintenance)
    ageing = 1.0 + 0.06 * min(1.0, state.burn_h / 50_000.0)
    if lamp_on:
        power = (
            rated * (0.12 + 0.88 * dim / 100.0) * ageing * (1 + 0.012 * gauss(state.key, second, 4))
        )
        power_factor = 0.90 + 0.06 * dim / 100.0
        state.burn_h += dt_s / 3_600.0
    elif powered:
        power = 0.4 + 0.05 * uniform(state.key, second, 5)  # the controller's own standby draw
        power_factor = 0.5
    else:
        power, power_factor = 0.0, 0.0
    power = min(max(power, 0.0), 1_000.0)
    state.energy_kwh += power * dt_s / 3.6e6
    current = power / (voltage * power_factor) if voltage > 0 and power_factor > 0 else 0.0
    elevation = tick.sun_elevation_deg
    if elevation > 0:
        lux = 1_000.0 + 110_000.0 * math.sin(math.radians(elevation))
    elif elevation > -6:
        lux = 10 ** (3.0 * (elevation + 6.0) / 6.0)
    else:
        lux = 0.2
    lux *= 1 + 0.05 * gauss(state.key, second, 6)
    lamp_temp = (
        tick.air_temp_c + (0.35 * power if lamp_on else 0.0) + 0.3 * gauss(state.key, second, 7)
    )
    return {
        "power_w": round(power, 2),
        "voltage_v": round(min(voltage, 300.0), 1),
        "current_a": round(min(current, 10.0), 3),
        "power_factor": round(min(power_factor, 1.0), 3),
        "energy_kwh": round(state.energy_kwh, 4),
        "lamp_on": lamp_on,
        "dimming_pct": round(dim if lamp_on else 0.0, 1),
        "ambient_lux": round(min(max(lux, 0.0), 200_000.0), 1),
        "lamp_temp_c": round(min(max(lamp_temp, -50.0), 150.0), 1),
        "faults": [fault.value for fault in faults],
    }
