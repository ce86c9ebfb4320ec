"""Checkpoint cameras: vehicle passes as a Poisson process, violations, health, storage.

Violations follow what the camera can see:

- **speeding** is a small share of drivers, not the tail of everyone's speed: fixed cameras in
  China are signposted ahead and a fine starts only 10 % over the limit, so drivers brake for
  them. We take 0.4 % of drivers driving ~18 % over the limit and the rest at ~80 % of it, which
  gives about 0.3 % of passes captured (a decided figure, well under 1 %; the simulator before
  this had 2–10 %, a speed distribution with no regard for the camera);
- **red light** only when the camera's approach has red in a running cycle: never while the
  junction flashes or is dark, never on green, never at a camera with no signal;
- **a blind camera** (``camera_blind``: lens covered, recogniser hung) stays online and
  healthy but reads no plate: no pass, no violation, 0 vehicles a minute;
- **illegal parking** only for a vehicle that stopped and stayed: a few passing vehicles stop at
  the kerb (drop-offs, deliveries); one still there after ``PARKING_DWELL_S`` is captured then,
  with its dwell; a moving vehicle never is.

Plates are Dongguan's: mostly 粤S, some from the rest of Guangdong and from the provinces its
workers come from; about one in seven is a green new-energy plate of eight characters
(粤S + D or F + five more).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from devices import DeviceRecord, VehicleClass
from simulators.context import Tick
from simulators.rand import gauss, tick_random, uniform
from simulators.scenario import ActiveIncidents

__all__ = ["PARKING_DWELL_S", "CheckpointState", "new_checkpoint", "plate", "step_checkpoint"]

_PEAK_VEH_MIN_PER_LANE = 12.0
_CLASSES = (
    (VehicleClass.CAR, 0.72),
    (VehicleClass.VAN, 0.10),
    (VehicleClass.TRUCK, 0.07),
    (VehicleClass.BUS, 0.04),
    (VehicleClass.MOTORCYCLE, 0.06),
    (VehicleClass.OTHER, 0.01),
)
_RED_LIGHT_RATE = 0.003  # per pass on red: the few who run it
_SPEEDING_MARGIN = 1.10  # a fine starts 10 % over the limit
_SPEEDER_SHARE = 0.004  # drivers who do not slow for the camera
_STOP_RATE = 0.004  # passing vehicles that stop at the kerb in the camera's view
_LONG_STAY_SHARE = 0.25  # of those, the ones who stay (parked), not a drop-off
PARKING_DWELL_S = 300.0  # stationary this long in a no-stopping zone: captured
# Where the plates come from (decided): Dongguan's own 粤S, the rest of Guangdong, and the
# provinces its migrant workforce comes from.
_PLATE_PREFIXES = (
    ("粤S", 0.78),
    ("粤A", 0.04),
    ("粤B", 0.04),
    ("粤E", 0.02),
    ("粤L", 0.02),
    ("湘", 0.03),
    ("桂", 0.02),
    ("赣", 0.02),
    ("川", 0.015),
    ("豫", 0.015),
)
_NEW_ENERGY_SHARE = 0.15
_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # no I or O on Chinese plates
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
    # vehicles that stopped and are still there: (captured at, plate, lane, dwell) by due time
    parked: list[tuple[float, str, int, float]] = field(default_factory=list)
    passes_since_report: int = 0
    period_s: float = 0.0


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


def plate(rng: random.Random) -> str:
    """A plate as Dongguan's cameras see them: 7 characters, or 8 for new energy."""
    pick = rng.random()
    prefix = "粤S"
    for candidate, share in _PLATE_PREFIXES:
        pick -= share
        if pick < 0:
            prefix = candidate
            break
    if len(prefix) == 1:
        prefix += rng.choice(_LETTERS)
    if rng.random() < _NEW_ENERGY_SHARE:
        # small new-energy car: D (battery) or F (hybrid), a letter or digit, four digits
        tail = rng.choice(_ALNUM) + "".join(rng.choice("0123456789") for _ in range(4))
        return f"{prefix}{rng.choice('DF')}{tail}"
    return prefix + "".join(rng.choice(_ALNUM) for _ in range(5))


def _vehicle_class(rng: random.Random) -> VehicleClass:
    pick = rng.random()
    for vehicle_class, share in _CLASSES:
        pick -= share
        if pick < 0:
            return vehicle_class
    return VehicleClass.CAR


def step_checkpoint(
    state: CheckpointState,
    tick: Tick,
    now: ActiveIncidents,
    jammed: float,
    *,
    red_at: Callable[[float], bool] | None = None,
    report: bool = True,
) -> tuple[dict[str, Any] | None, list[tuple[float, dict[str, Any]]]]:
    """Health telemetry (when ``report``) and the events, with their own times, of this step.

    ``jammed`` is the capacity left at the camera's junction (1.0 free-flowing): a jam slows
    vehicles down and lets fewer through. ``red_at(t)`` says whether the camera's approach has
    red at ``t`` in a running cycle; ``None``: no signal in view, or one flashing or dark.
    """
    record = state.record
    lanes = record.lanes or 2
    limit = record.speed_limit_kmh or 60.0
    rng = tick_random(state.key, tick.second, 1)
    rate_min = _PEAK_VEH_MIN_PER_LANE * lanes * tick.demand * (0.3 + 0.7 * jammed)
    count = _poisson(rng, rate_min * tick.dt_s / 60.0)
    # a covered lens or a hung recogniser: the camera is up and streams video, but reads no
    # plate, so it reports no pass, no violation and 0 vehicles a minute
    blind = record.id in now.cameras_blind
    if blind:
        count = 0
    events: list[tuple[float, dict[str, Any]]] = []
    flow = 0.25 + 0.75 * jammed
    for _ in range(count):
        at = tick.t - tick.dt_s * rng.random()
        number = plate(rng)
        lane = rng.randint(1, lanes)
        stops = rng.random() < _STOP_RATE
        if stops:
            speed = rng.uniform(3.0, 12.0)  # pulling in to the kerb
        elif rng.random() < _SPEEDER_SHARE:
            speed = rng.gauss(limit * 1.18 * flow, limit * 0.08)
        else:
            speed = rng.gauss(limit * (0.78 + 0.08 * (1 - tick.demand)) * flow, limit * 0.08)
        speed = max(3.0, speed)
        events.append(
            (
                at,
                {
                    "event": "vehicle_pass",
                    "plate": number,
                    "vehicle_class": _vehicle_class(rng).value,
                    "speed_kmh": round(min(speed, 350.0), 1),
                    "lane": lane,
                    "direction": "inbound" if rng.random() < 0.5 else "outbound",
                },
            )
        )
        if stops:
            long_stay = rng.random() < _LONG_STAY_SHARE
            dwell = rng.expovariate(1 / 1_200.0) if long_stay else rng.expovariate(1 / 90.0)
            if dwell >= PARKING_DWELL_S:
                state.parked.append((at + PARKING_DWELL_S, number, lane, PARKING_DWELL_S))
            continue
        violation = None
        if speed > limit * _SPEEDING_MARGIN:
            violation = "speeding"
        elif red_at is not None and red_at(at) and rng.random() < _RED_LIGHT_RATE:
            violation = "red_light"
        if violation is not None:
            body = _violation(state, at, violation, number, lane)
            if violation == "speeding":
                body["speed_kmh"] = round(min(speed, 350.0), 1)
                body["limit_kmh"] = limit
            events.append((at, body))
    due = [item for item in state.parked if item[0] <= tick.t and not blind]
    state.parked = [item for item in state.parked if item[0] > tick.t]
    for at, number, lane, dwell in due:
        body = _violation(state, at, "illegal_parking", number, lane)
        body["dwell_s"] = dwell
        events.append((at, body))
    if record.id in now.storage_full:
        state.storage_pct = min(100.0, state.storage_pct + 2.0 + count * 0.05)
    else:
        state.storage_pct += count * _STORAGE_PER_PASS_PCT
        if state.storage_pct >= _STORAGE_HIGH_PCT:
            state.storage_pct = _STORAGE_LOW_PCT
    events.sort(key=lambda item: item[0])
    state.passes_since_report += count
    state.period_s += tick.dt_s
    if not report:
        return None, events
    per_min = state.passes_since_report * 60.0 / max(state.period_s, 1.0)
    state.passes_since_report, state.period_s = 0, 0.0
    telemetry = {
        "online": True,
        "fps": round(min(240.0, max(0.0, 25.0 + 0.3 * gauss(state.key, tick.second, 2))), 2),
        "storage_used_pct": round(min(100.0, state.storage_pct), 2),
        "temp_c": round(
            min(120.0, max(-50.0, tick.air_temp_c + 14.0 + gauss(state.key, tick.second, 3))), 1
        ),
        "vehicles_per_min": round(min(1_000.0, per_min), 2),
    }
    return telemetry, events


def _violation(
    state: CheckpointState, at: float, violation: str, number: str, lane: int
) -> dict[str, Any]:
    state.evidence_no += 1
    return {
        "event": "violation",
        "violation": violation,
        "plate": number,
        "evidence_id": f"{state.record.id}.{int(at)}.{state.evidence_no}",
        "lane": lane,
    }
