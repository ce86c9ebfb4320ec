"""The pure pieces of condition evaluation: selecting devices, reading fields, thresholds with
hysteresis, state matches, windows and their aggregates, local-time spans."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from alerts.rules import EventRate, Rule, State, Threshold
from devices import DeviceRecord, Payload

__all__ = [
    "Window",
    "aggregate",
    "crosses",
    "read_field",
    "selects",
    "state_holds",
    "within",
]


@dataclass(slots=True)
class Window:
    """Samples (sample time, value) of one rule and device, oldest first, one per time."""

    times: list[datetime] = field(default_factory=list)
    values: list[float] = field(default_factory=list)

    def add(self, at: datetime, value: float) -> None:
        """Insert a sample in time order; a sample at the same time replaces it."""
        index = bisect.bisect_left(self.times, at)
        if index < len(self.times) and self.times[index] == at:
            self.values[index] = value  # a redelivered sample overwrites itself
            return
        self.times.insert(index, at)
        self.values.insert(index, value)

    def trim(self, end: datetime, span: timedelta) -> None:
        """Forget samples outside (end - span, end]."""
        cut = bisect.bisect_right(self.times, end - span)
        if cut:
            del self.times[:cut]
            del self.values[:cut]

    def end(self) -> datetime | None:
        """The newest sample time, if any."""
        return self.times[-1] if self.times else None


def selects(rule: Rule, device_id: str, district: str, record: DeviceRecord | None) -> bool:
    """Whether a rule's selector takes this device."""
    select = rule.select
    if select.devices and device_id not in select.devices:
        return False
    if select.districts and district not in select.districts:
        return False
    for name, wanted in select.attributes.items():
        if record is None:
            return False
        actual = getattr(record, name, None)
        if actual is None or str(actual) != wanted:
            return False
    return True


def read_field(payload: Payload, path: str, reduce: str) -> Any:
    """A payload field by (dotted) name; a list field is reduced to one number."""
    head, _, rest = path.partition(".")
    value = getattr(payload, head, None)
    if not rest:
        return value
    items = [getattr(item, rest, None) for item in value or ()]
    numbers = [float(item) for item in items if item is not None]
    if not numbers:
        return None
    if reduce == "max":
        return max(numbers)
    if reduce == "min":
        return min(numbers)
    if reduce == "sum":
        return sum(numbers)
    return sum(numbers) / len(numbers)


def crosses(condition: Threshold | EventRate, value: float, was_active: bool) -> bool:
    """Threshold with hysteresis: fire past the limit, let go only past ``clear``."""
    above = condition.above
    below = condition.below if isinstance(condition, Threshold) else None
    if above is not None:
        if was_active and condition.clear is not None:
            return value >= condition.clear
        return value > above
    assert below is not None
    if was_active and condition.clear is not None:
        return value <= condition.clear
    return value < below


def state_holds(condition: State, value: Any) -> bool:
    """Whether a field's value equals, differs from, or (a list) contains the wanted value."""
    if condition.contains is not None:
        return condition.contains in tuple(str(item) for item in value or ())
    wanted = condition.equals if condition.equals is not None else condition.not_equals
    actual: Any = value.value if hasattr(value, "value") else value
    equal = bool(actual == wanted) if not isinstance(wanted, str) else str(actual) == wanted
    return equal if condition.equals is not None else not equal


def aggregate(window: Window, how: str) -> float | None:
    """The window's mean, max, min, delta (last - first) or rate per minute."""
    values = window.values
    if not values:
        return None
    if how == "mean":
        return sum(values) / len(values)
    if how == "max":
        return max(values)
    if how == "min":
        return min(values)
    delta = values[-1] - values[0]
    if how == "delta":
        return delta
    span_min = (window.times[-1] - window.times[0]).total_seconds() / 60
    return delta / span_min if span_min > 0 else 0.0


def within(moment: Any, start: Any, end: Any) -> bool:
    """Whether a local time falls in [start, end), a span that may wrap midnight."""
    if start <= end:
        return bool(start <= moment < end)
    return bool(moment >= start or moment < end)
