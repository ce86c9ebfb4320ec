"""Traffic signals: demand with peaks, queues answering the phase plan, modes and faults."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from devices import DeviceRecord, SignalFault, SignalMode
from simulators.context import Tick
from simulators.rand import gauss, uniform
from simulators.scenario import ActiveIncidents

__all__ = ["PLANS", "Plan", "TrafficState", "new_traffic", "step_traffic"]

_SATURATION_VEH_H = 1_800.0  # per lane of green
_LANES_PER_APPROACH = 2
_QUEUE_MAX = 500


@dataclass(frozen=True, slots=True)
class Plan:
    """A signal timing plan: cycle length and the green share of each of two phases."""

    plan_id: int
    cycle_s: float
    green_share: tuple[float, float]  # phase 1 (approaches 0, 2), phase 2 (1, 3)


PLANS: dict[int, Plan] = {
    1: Plan(1, 90.0, (0.45, 0.45)),  # day
    2: Plan(2, 120.0, (0.50, 0.42)),  # peak, favouring the main road
    3: Plan(3, 60.0, (0.42, 0.42)),  # off-peak, short cycle
}


@dataclass(slots=True)
class TrafficState:
    """A junction controller: queues per approach, its plan and what the platform set."""

    record: DeviceRecord
    key: int
    queues: list[float]
    demand_veh_h: tuple[float, ...]
    plan_id: int | None = None  # set by a command; None: the time-of-day schedule
    mode_override: SignalMode | None = None
    faults: frozenset[tuple[SignalFault, str | None]] = field(default_factory=frozenset)


def new_traffic(record: DeviceRecord, key: int) -> TrafficState:
    """A junction whose approaches carry different peak demand (main road vs side road)."""
    approaches = record.approaches or ("north", "east", "south", "west")
    demand = tuple(
        (900.0 if index % 2 == 0 else 550.0) * (0.8 + 0.4 * uniform(key, 10 + index))
        for index in range(len(approaches))
    )
    return TrafficState(record, key, [0.0] * len(approaches), demand)


def scheduled_plan(local_hour: float, weekday: int) -> int:
    """The time-of-day plan: peak plan in commuter hours, short cycle in the evening."""
    if weekday < 5 and (7.0 <= local_hour < 9.5 or 17.0 <= local_hour < 19.5):
        return 2
    if local_hour >= 21.0 or local_hour < 6.0:
        return 3
    return 1


def step_traffic(
    state: TrafficState, tick: Tick, now: ActiveIncidents
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Telemetry fields and fault events (raised or cleared) at this tick."""
    record = state.record
    key, second = state.key, tick.second
    approaches = record.approaches or ("north", "east", "south", "west")
    junction = record.junction or ""
    faults = frozenset(now.signal_faults.get(record.id, []) + now.signal_faults.get(junction, []))
    events: list[dict[str, Any]] = []
    for fault, approach in sorted(faults - state.faults, key=str):
        events.append(_fault_event(fault, approach, active=True))
    for fault, approach in sorted(state.faults - faults, key=str):
        events.append(_fault_event(fault, approach, active=False))
    state.faults = faults
    active = {fault for fault, _ in faults}

    mode = now.signal_modes.get(record.id) or now.signal_modes.get(junction)
    if SignalFault.CONFLICT in active:
        mode = SignalMode.FLASH  # a conflict monitor forces flash: the safe state
    elif mode is None:
        mode = state.mode_override
    if mode is None:
        mode = SignalMode.FLASH if 1.0 <= tick.local_hour < 5.0 else SignalMode.ACTUATED
    plan = PLANS[state.plan_id or scheduled_plan(tick.local_hour, tick.weekday)]
    capacity_factor = now.jams.get(junction, 1.0)

    figures = []
    for index, name in enumerate(approaches):
        arrivals_mean = state.demand_veh_h[index] * tick.demand * tick.dt_s / 3_600.0
        arrivals = max(0.0, arrivals_mean + (arrivals_mean**0.5) * gauss(key, second, 20 + index))
        if mode in (SignalMode.FLASH, SignalMode.OFF):
            green = 0.35  # everyone yields: a poor, shared capacity
        elif mode is SignalMode.MANUAL:
            green = 0.40
        else:
            green = plan.green_share[index % 2]
            if mode is SignalMode.ACTUATED:
                green = min(0.6, green * (1.0 + 0.2 * min(1.0, state.queues[index] / 40.0)))
        capacity = _SATURATION_VEH_H * _LANES_PER_APPROACH * green * capacity_factor
        served = min(state.queues[index] + arrivals, capacity * tick.dt_s / 3_600.0)
        queue = min(float(_QUEUE_MAX), state.queues[index] + arrivals - served)
        state.queues[index] = queue
        detector_dead = any(
            fault is SignalFault.DETECTOR_FAILURE and approach in (None, name)
            for fault, approach in faults
        )
        flow_share = served / max(tick.dt_s, 1.0) * 3_600.0 / (_SATURATION_VEH_H * 2)
        occupancy = min(100.0, 100.0 * (0.35 * flow_share + queue / (queue + 25.0)))
        figures.append(
            {
                "approach": name,
                "queue_veh": 0 if detector_dead else round(queue),
                "volume_veh": 0 if detector_dead else min(10_000, round(served)),
                "occupancy_pct": 0.0 if detector_dead else round(occupancy, 1),
            }
        )
    flashing = mode in (SignalMode.FLASH, SignalMode.OFF)
    cycle = 0.0 if flashing else plan.cycle_s
    phase = 0 if flashing else 1 + int((tick.t % plan.cycle_s) / plan.cycle_s * 2)
    telemetry = {
        "mode": mode.value,
        "plan_id": plan.plan_id,
        "phase": phase,
        "cycle_s": cycle,
        "approaches": figures,
    }
    return telemetry, events


def _fault_event(fault: SignalFault, approach: str | None, *, active: bool) -> dict[str, Any]:
    event: dict[str, Any] = {"event": "fault", "fault": fault.value, "active": active}
    if approach is not None:
        event["approach"] = approach
    return event
