"""Per-condition judgement: pure functions from a reading (or a window, or a group) to a
``Verdict``. No state is kept here; ``was_active`` carries the hysteresis in."""

from __future__ import annotations

from typing import Any

from alerts.conditions import Window, aggregate, crosses, read_field, state_holds
from alerts.evaluate.compile import GroupState
from alerts.evaluate.subject import QUIET, Verdict
from alerts.rules import EventRate, Fault, Group, State, Threshold, WaterClassBelowTarget
from devices import (
    DeviceRecord,
    Payload,
    Reading,
    WaterBodyType,
    WaterQualityTelemetry,
    classify_water,
)

__all__ = [
    "event_matches",
    "judge_events",
    "judge_fault",
    "judge_group",
    "judge_latest",
    "judge_window",
    "member_matches",
    "window_sample",
]


def judge_latest(
    condition: Threshold | State | WaterClassBelowTarget,
    payload: Payload,
    record: DeviceRecord | None,
    was_active: bool,
    deciding: str | None = None,
) -> Verdict | None:
    """A condition on the device's latest reading; ``None`` when the reading cannot say, and
    ``QUIET`` (not a new value: this runs for every reading and rule) when it does not hold
    and did not before.

    ``deciding``: the parameter that decided an active water-class alert. A reading that does
    not measure it (an hourly probe-only sample between two 4-hourly analyses) cannot clear
    the alert, nor count as a sample for it, unless it finds the class below target itself.
    """
    if isinstance(condition, Threshold):
        raw = read_field(payload, condition.field, condition.reduce)
        if raw is None:
            return None
        value = float(raw)
        active = crosses(condition, value, was_active)
        return Verdict(active, value) if active or was_active else QUIET
    if isinstance(condition, State):
        raw = read_field(payload, condition.field, "max")
        active = state_holds(condition, raw)
        if not active and not was_active:
            return QUIET
        return Verdict(active, float(raw) if isinstance(raw, int | float) else None)
    if record is None or record.target_class is None:
        return None
    assert isinstance(payload, WaterQualityTelemetry)
    # lakes and reservoirs grade total phosphorus by their own, stricter limits
    found = classify_water(payload, water_body=record.water_body or WaterBodyType.RIVER)
    extras = {
        "graded": found.coverage,
        "parameter": found.deciding_field,
        "water_class": found.water_class.value,
        "target_class": record.target_class.value,
    }
    active = found.water_class.rank > record.target_class.rank
    if not active and not was_active:
        return QUIET
    if not active and deciding is not None and getattr(payload, deciding, None) is None:
        return None
    return Verdict(active, found.deciding_value, extras)


def window_sample(condition: Threshold, payload: Payload) -> float | None:
    """The number a windowed threshold adds to its window from one reading, if it has one."""
    raw = read_field(payload, condition.field, condition.reduce)
    return None if raw is None else float(raw)


def judge_window(condition: Threshold, window: Window, was_active: bool) -> Verdict:
    """A windowed threshold: the window's aggregate against the limit."""
    value = aggregate(window, condition.aggregate, condition.samples)
    active = value is not None and crosses(condition, value, was_active)
    return Verdict(active, value) if active or was_active else QUIET


def event_matches(condition: EventRate | Fault, payload: Reading) -> bool:
    """Whether an event is of the sort the rule counts or latches on (its measurement and
    ``where`` fields)."""
    if payload.measurement != condition.event:
        return False
    for name, wanted in condition.where.items():
        actual: Any = getattr(payload, name, None)
        actual = getattr(actual, "value", actual)
        if (str(actual) != wanted) if isinstance(wanted, str) else (actual != wanted):
            return False
    return True


def judge_events(condition: EventRate, window: Window, was_active: bool) -> Verdict:
    """An event rate: the number of events in the window against the limit."""
    count = float(len(window.values))
    active = crosses(condition, count, was_active)
    return Verdict(active, count) if active or was_active else QUIET


def judge_fault(payload: Reading) -> Verdict:
    """A latched fault: raised by ``active: true``, cleared by ``active: false``."""
    active = bool(getattr(payload, "active", False))
    approach = getattr(payload, "approach", None)
    extras = {"approach": approach or "", "detail": getattr(payload, "detail", "")}
    return Verdict(active, None, extras)


def member_matches(member: Threshold | State, payload: Payload) -> bool:
    """Whether one member's latest reading meets a group rule's member condition."""
    if isinstance(member, Threshold):
        raw = read_field(payload, member.field, member.reduce)
        return raw is not None and crosses(member, float(raw), False)
    return state_holds(member, read_field(payload, member.field, "max"))


def judge_group(condition: Group, group: GroupState) -> Verdict:
    """A group: the share of its members meeting the member condition."""
    total = len(group.members)
    matching = len(group.matching)
    pct = 100.0 * matching / total
    active = total >= condition.min_devices and pct >= condition.at_least_pct
    return Verdict(active, pct, {"members": total, "matching": matching, "pct": pct})
