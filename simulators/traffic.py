"""Traffic signals: demand with peaks, queues answering the red/green cycle, modes and faults.

Each junction runs a two-phase cycle (phase 1: approaches 0 and 2, the main road; phase 2:
approaches 1 and 3), with an intergreen (amber and all-red) after each green. Vehicles arrive at
the approach's demand; during red they queue, during green the queue discharges at the
saturation flow (1,800 vehicles an hour a lane, a usual design figure for mixed traffic; the
HCM's base is 1,900 passenger cars), so a queue builds on red and empties on green, and what is
left at the end of a green (``residual_queue_veh``) is what the junction could not serve: the
sign of a jam, where a long queue at the end of a red is not. The queue is a fluid model, exact
for a constant arrival rate within a simulation step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time
from typing import Any

from devices import DeviceRecord, SignalFault, SignalMode, in_local_span, parse_local_span
from simulators.context import Tick
from simulators.rand import gauss, uniform
from simulators.scenario import ActiveIncidents

__all__ = [
    "PLANS",
    "Plan",
    "TrafficState",
    "green_phase_at",
    "new_traffic",
    "scheduled_mode",
    "step_traffic",
]

_SATURATION_VEH_H = 1_800.0  # per lane of green
_LANES_PER_APPROACH = 2
_QUEUE_MAX = 500


@dataclass(frozen=True, slots=True)
class Plan:
    """A signal timing plan: cycle length and the green share of each of two phases; the rest
    of the cycle is the two intergreens (amber and all-red), split evenly."""

    plan_id: int
    cycle_s: float
    green_share: tuple[float, float]  # phase 1 (approaches 0, 2), phase 2 (1, 3)

    def boundaries_s(self, shares: tuple[float, float] | None = None) -> tuple[float, ...]:
        """Where in the cycle phase 1's green ends, phase 2's starts and ends, the cycle ends."""
        first, second = shares or self.green_share
        intergreen = (1.0 - first - second) * self.cycle_s / 2.0
        one_end = first * self.cycle_s
        two_start = one_end + intergreen
        return (one_end, two_start, two_start + second * self.cycle_s, self.cycle_s)


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
    offset_s: float  # where the junction's cycle starts (coordination offset)
    flash_span: tuple[time, time] | None = None  # the registry's flash_schedule, parsed
    plan_id: int | None = None  # set by a command; None: the time-of-day schedule
    mode_override: SignalMode | None = None
    # what it reports as raised: (fault, approach, detail)
    faults: frozenset[tuple[SignalFault, str | None, str]] = field(default_factory=frozenset)
    mode: SignalMode = SignalMode.ACTUATED  # what it ran at its last step (cameras read it)
    shares: tuple[float, float] = (0.45, 0.45)  # the green split it ran at its last step
    plan: Plan = field(default_factory=lambda: PLANS[1])  # the plan it ran at its last step
    volume: list[float] = field(default_factory=list)  # served since the last report
    residual: list[float] = field(default_factory=list)  # left at the end of the last green
    period_s: float = 0.0  # simulated seconds since the last report


def new_traffic(record: DeviceRecord, key: int) -> TrafficState:
    """A junction whose approaches carry different peak demand (main road vs side road)."""
    approaches = record.approaches or ("north", "east", "south", "west")
    demand = tuple(
        (900.0 if index % 2 == 0 else 550.0) * (0.8 + 0.4 * uniform(key, 10 + index))
        for index in range(len(approaches))
    )
    count = len(approaches)
    schedule = record.flash_schedule
    return TrafficState(
        record,
        key,
        [0.0] * count,
        demand,
        offset_s=uniform(key, 9) * 3_600.0,
        flash_span=parse_local_span(schedule) if schedule else None,
        volume=[0.0] * count,
        residual=[0.0] * count,
    )


def scheduled_plan(local_hour: float, weekday: int) -> int:
    """The time-of-day plan: peak plan in commuter hours, short cycle in the evening."""
    if weekday < 5 and (7.0 <= local_hour < 9.5 or 17.0 <= local_hour < 19.5):
        return 2
    if local_hour >= 21.0 or local_hour < 6.0:
        return 3
    return 1


def scheduled_mode(local_hour: float, flash_span: tuple[time, time] | None) -> SignalMode:
    """Flashing amber in the junction's own flash schedule (the registry's ``flash_schedule``:
    the night hours its traffic is too light to hold anyone at red); a junction without one,
    a busy arterial, runs its cycle around the clock."""
    if flash_span is None:
        return SignalMode.ACTUATED
    second = round(local_hour * 3_600.0) % 86_400  # whole seconds: no float edge at 05:00
    moment = time(second // 3_600, second % 3_600 // 60, second % 60)
    return SignalMode.FLASH if in_local_span(moment, *flash_span) else SignalMode.ACTUATED


def green_phase_at(
    t: float, plan: Plan, offset_s: float, shares: tuple[float, float] | None = None
) -> int | None:
    """Which phase (1 or 2) has green at epoch second ``t``; ``None`` in an intergreen."""
    return _green_at_position((t + offset_s) % plan.cycle_s, plan.boundaries_s(shares))


def _green_at_position(position: float, edges: tuple[float, ...]) -> int | None:
    one_end, two_start, two_end, _ = edges
    if position < one_end:
        return 1
    if two_start <= position < two_end:
        return 2
    return None


def _segments(
    start: float, end: float, plan: Plan, offset_s: float, shares: tuple[float, float]
) -> list[tuple[float, int | None, bool]]:
    """(length, green phase, ends its green) for each stretch of constant signal in
    [start, end). Worked in seconds from ``start``: epoch seconds are too coarse a float to
    step across a boundary a nanosecond away."""
    out: list[tuple[float, int | None, bool]] = []
    edges = plan.boundaries_s(shares)
    cycle = plan.cycle_s
    first = (start + offset_s) % cycle
    total = end - start
    elapsed = 0.0
    while elapsed < total - 1e-6:
        position = (first + elapsed) % cycle
        boundary = next((edge for edge in edges if edge > position + 1e-6), cycle)
        length = min(total - elapsed, boundary - position)
        if length <= 1e-6:  # on a boundary already: step over it
            length = min(total - elapsed, 1e-3)
        green = _green_at_position((position + length / 2) % cycle, edges)
        at_boundary = length == boundary - position
        out.append((length, green, green is not None and at_boundary))
        elapsed += length
    return out


def step_traffic(
    state: TrafficState, tick: Tick, now: ActiveIncidents, *, report: bool = True
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Telemetry fields (when ``report``) and fault events (raised or cleared) at this tick.

    Queues move at every step; a report gives each approach's queue now, the vehicles served
    since the last report, and the queue its last green left behind.
    """
    record = state.record
    key, second = state.key, tick.second
    approaches = record.approaches or ("north", "east", "south", "west")
    junction = record.junction or ""
    faults = frozenset(now.signal_faults.get(record.id, []) + now.signal_faults.get(junction, []))
    events: list[dict[str, Any]] = []
    for fault, approach, detail in sorted(faults - state.faults, key=str):
        events.append(_fault_event(fault, approach, detail, active=True))
    for fault, approach, detail in sorted(state.faults - faults, key=str):
        events.append(_fault_event(fault, approach, detail, active=False))
    state.faults = faults
    active = {fault for fault, _, _ in faults}

    mode = now.signal_modes.get(record.id) or now.signal_modes.get(junction)
    if SignalFault.CONFLICT in active:
        mode = SignalMode.FLASH  # a conflict monitor forces flash: the safe state
    elif mode is None:
        mode = state.mode_override
    if mode is None:
        mode = scheduled_mode(tick.local_hour, state.flash_span)
    state.mode = mode
    plan = PLANS[state.plan_id or scheduled_plan(tick.local_hour, tick.weekday)]
    state.plan = plan
    capacity_factor = now.jams.get(junction, 1.0)
    flashing = mode in (SignalMode.FLASH, SignalMode.OFF)
    shares = plan.green_share
    if mode is SignalMode.ACTUATED:
        # the detectors lend green to the phase with the longer queues, within 10 % of the cycle
        main = max(state.queues[0::2], default=0.0)
        side = max(state.queues[1::2], default=0.0)
        lean = 0.10 * (main - side) / max(main + side, 10.0)
        shares = (shares[0] + lean, shares[1] - lean)
    state.shares = shares
    state.period_s += tick.dt_s
    saturation_veh_s = _SATURATION_VEH_H * _LANES_PER_APPROACH * capacity_factor / 3_600.0
    start = tick.t - tick.dt_s
    segments = [] if flashing else _segments(start, tick.t, plan, state.offset_s, shares)

    figures = []
    for index, name in enumerate(approaches):
        arrivals_mean = state.demand_veh_h[index] * tick.demand * tick.dt_s / 3_600.0
        arrivals = max(0.0, arrivals_mean + (arrivals_mean**0.5) * gauss(key, second, 20 + index))
        rate = arrivals / max(tick.dt_s, 1.0)
        queue = state.queues[index]
        served = 0.0
        if flashing:
            # everyone yields in turn: a poor, shared capacity
            capacity = 0.35 * saturation_veh_s * tick.dt_s
            served = min(queue + arrivals, capacity)
            queue = queue + arrivals - served
        else:
            mine = 1 + index % 2
            for length, green, ends_green in segments:
                if green == mine:
                    after = max(0.0, queue + (rate - saturation_veh_s) * length)
                    served += queue + rate * length - after
                    queue = after
                    if ends_green:
                        state.residual[index] = min(float(_QUEUE_MAX), queue)
                else:
                    queue += rate * length
        queue = min(float(_QUEUE_MAX), queue)
        state.queues[index] = queue
        state.volume[index] += served
        if not report:
            continue
        detector_dead = any(
            fault is SignalFault.DETECTOR_FAILURE and approach in (None, name)
            for fault, approach, _ in faults
        )
        period_s = max(state.period_s, 1.0)
        flow_share = state.volume[index] / period_s / (2 * _SATURATION_VEH_H / 3_600.0)
        occupancy = min(100.0, 100.0 * (0.35 * flow_share + queue / (queue + 25.0)))
        figures.append(
            {
                "approach": name,
                "queue_veh": 0 if detector_dead else round(queue),
                "residual_queue_veh": 0 if detector_dead else round(state.residual[index]),
                "volume_veh": 0 if detector_dead else min(10_000, round(state.volume[index])),
                "occupancy_pct": 0.0 if detector_dead else round(occupancy, 1),
            }
        )
        state.volume[index] = 0.0
    if not report:
        return {}, events
    state.period_s = 0.0
    cycle = 0.0 if flashing else plan.cycle_s
    phase = 0
    if not flashing:
        # in an intergreen, the phase whose green just ended
        position = (tick.t + state.offset_s) % plan.cycle_s
        phase = green_phase_at(tick.t, plan, state.offset_s, shares) or (
            1 if position < plan.boundaries_s(shares)[1] else 2
        )
    telemetry = {
        "mode": mode.value,
        "plan_id": plan.plan_id,
        "phase": phase,
        "cycle_s": cycle,
        "approaches": figures,
    }
    return telemetry, events


def _fault_event(
    fault: SignalFault, approach: str | None, detail: str, *, active: bool
) -> dict[str, Any]:
    """A controller's fault event; the clearing one repeats what the raising one named, so
    the platform can pair them (a red lamp out on the north approach, then back)."""
    event: dict[str, Any] = {"event": "fault", "fault": fault.value, "active": active}
    if approach is not None:
        event["approach"] = approach
    if detail:
        event["detail"] = detail
    return event
