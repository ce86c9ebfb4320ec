"""Checkpoint cameras: vehicle passes as a Poisson process, violations, health, storage."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

from devices import DeviceRecord, VehicleClass
from simulators.context import Tick
from simulators.rand import gauss, tick_random, uniform
from simulators.scenario import ActiveIncidents

__all__ = ["CheckpointState", "new_checkpoint", "step_checkpoint"]

_PEAK_VEH_MIN_PER_LANE = 12.0
_CLASSES = (
    (VehicleClass.CAR, 0.72),
    (VehicleClass.VAN, 0.10),
    (VehicleClass.TRUCK, 0.07),
    (VehicleClass.BUS, 0.04),
    (VehicleClass.MOTORCYCLE, 0.06),
    (VehicleClass.OTHER, 0.01),
)
_RED_LIGHT_RATE = 0.002  # per pass
_PARKING_RATE = 0.0004
_SPEEDING_MARGIN = 1.10  # enforcement tolerance above the limit
_PROVINCES = "沪京苏浙粤鲁川鄂"
_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
_ALNUM = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"
_STORAGE_PER_PASS_PCT = 0.0005
_STORAGE_HIGH_PCT = 88.0  # rotation deletes the oldest footage down to the low mark
_STORAGE_LOW_PCT = 60.0


@dataclass(slots=True)
class CheckpointState:
    """A camera: its storage, and whether it was rebooted lately."""

    record: DeviceRecord
    key: int
    storage_pct: float
    evidence_no: int = 0


def new_checkpoint(record: DeviceRecord, key: int) -> CheckpointState:
    """A camera somewhere in its storage rotation."""
    span = _STORAGE_HIGH_PCT - _STORAGE_LOW_PCT
    return CheckpointState(record, key, storage_pct=_STORAGE_LOW_PCT + span * uniform(key, 1))


def _poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0:
        return 0
    if mean > 50:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, product, count = math.exp(-mean), rng.random(), 0
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def _plate(rng: random.Random) -> str:
    tail = "".join(rng.choice(_ALNUM) for _ in range(5))
    return f"{rng.choice(_PROVINCES)}{rng.choice(_LETTERS)}{tail}"


def _vehicle_class(rng: random.Random) -> VehicleClass:
    pick = rng.random()
    for vehicle_class, share in _CLASSES:
        pick -= share
        if pick < 0:
            return vehicle_class
    return VehicleClass.CAR


def step_checkpoint(
    state: CheckpointState, tick: Tick, now: ActiveIncidents, jammed: float
) -> tuple[dict[str, Any], list[tuple[float, dict[str, Any]]]]:
    """Health telemetry and the events (with their own times) since the last report.

    ``jammed`` is the capacity left at the camera's junction (1.0 free-flowing): a jam slows
    vehicles down and lets fewer through.
    """
    record = state.record
    lanes = record.lanes or 2
    limit = record.speed_limit_kmh or 60.0
    rng = tick_random(state.key, tick.second, 1)
    rate_min = _PEAK_VEH_MIN_PER_LANE * lanes * tick.demand * (0.3 + 0.7 * jammed)
    count = _poisson(rng, rate_min * tick.dt_s / 60.0)
    events: list[tuple[float, dict[str, Any]]] = []
    for _ in range(count):
        at = tick.t - tick.dt_s * rng.random()
        plate = _plate(rng)
        lane = rng.randint(1, lanes)
        free_speed = limit * (0.85 + 0.1 * (1 - tick.demand))
        speed = max(3.0, rng.gauss(free_speed * (0.25 + 0.75 * jammed), limit * 0.12))
        events.append(
            (
                at,
                {
                    "event": "vehicle_pass",
                    "plate": plate,
                    "vehicle_class": _vehicle_class(rng).value,
                    "speed_kmh": round(min(speed, 350.0), 1),
                    "lane": lane,
                    "direction": "inbound" if rng.random() < 0.5 else "outbound",
                },
            )
        )
        violation = None
        if speed > limit * _SPEEDING_MARGIN:
            violation = "speeding"
        elif rng.random() < _RED_LIGHT_RATE:
            violation = "red_light"
        elif rng.random() < _PARKING_RATE:
            violation = "illegal_parking"
        if violation is not None:
            state.evidence_no += 1
            body: dict[str, Any] = {
                "event": "violation",
                "violation": violation,
                "plate": plate,
                "evidence_id": f"{record.id}.{int(at)}.{state.evidence_no}",
                "lane": lane,
            }
            if violation == "speeding":
                body["speed_kmh"] = round(min(speed, 350.0), 1)
                body["limit_kmh"] = limit
            events.append((at, body))
    if record.id in now.storage_full:
        state.storage_pct = min(100.0, state.storage_pct + 2.0 + count * 0.05)
    else:
        state.storage_pct += count * _STORAGE_PER_PASS_PCT
        if state.storage_pct >= _STORAGE_HIGH_PCT:
            state.storage_pct = _STORAGE_LOW_PCT
    events.sort(key=lambda item: item[0])
    telemetry = {
        "online": True,
        "fps": round(min(240.0, max(0.0, 25.0 + 0.3 * gauss(state.key, tick.second, 2))), 2),
        "storage_used_pct": round(min(100.0, state.storage_pct), 2),
        "temp_c": round(
            min(120.0, max(-50.0, tick.air_temp_c + 14.0 + gauss(state.key, tick.second, 3))), 1
        ),
        "vehicles_per_min": round(min(1_000.0, count * 60.0 / max(tick.dt_s, 1.0)), 2),
    }
    return telemetry, events
