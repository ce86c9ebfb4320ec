"""The pure pieces of condition evaluation: selecting devices, reading fields, thresholds with
hysteresis, state matches, windows and their aggregates (a delta over the last N samples among
them)."""

from __future__ import annotations

import bisect
from array import array
from datetime import UTC, datetime, timedelta
from typing import Any

from alerts.rules import EventRate, Rule, State, Threshold
from devices import DeviceRecord, Payload

__all__ = [
    "Window",
    "aggregate",
    "crosses",
    "epoch_us",
    "from_epoch_us",
    "read_field",
    "selects",
    "state_holds",
]


class Window:
    """Samples (sample time, value) of one rule and device, oldest first, one per time.

    Times are integer microseconds since the epoch (``epoch_us``), kept with the values in two
    flat arrays, not lists of ``datetime`` and ``float`` objects: a city has a window per
    windowed rule and device (hundreds of thousands), and an object per sample cost ~70 bytes
    where the arrays take 16.
    """

    __slots__ = ("times_us", "values")

    def __init__(self) -> None:
        self.times_us = array("q")
        self.values = array("d")

    def __len__(self) -> int:
        return len(self.times_us)

    def add(self, at_us: int, value: float) -> None:
        """Insert a sample in time order; a sample at the same time replaces it."""
        times = self.times_us
        if not times or at_us > times[-1]:  # the common case: the newest sample
            times.append(at_us)
            self.values.append(value)
            return
        index = bisect.bisect_left(times, at_us)
        if times[index] == at_us:
            self.values[index] = value  # a redelivered sample overwrites itself
            return
        times.insert(index, at_us)
        self.values.insert(index, value)

    def trim(self, end_us: int, span_us: int) -> None:
        """Forget samples outside (end - span, end]."""
        cut = bisect.bisect_right(self.times_us, end_us - span_us)
        if cut:
            del self.times_us[:cut]
            del self.values[:cut]

    def span_s(self) -> float:
        """Seconds from the oldest sample to the newest (0 for fewer than two)."""
        times = self.times_us
        return (times[-1] - times[0]) / 1e6 if len(times) > 1 else 0.0


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def epoch_us(at: datetime) -> int:
    """Exact microseconds since the epoch (a float timestamp would round)."""
    return (at - _EPOCH) // _MICROSECOND


def from_epoch_us(at_us: int) -> datetime:
    """The aware UTC time of ``epoch_us``."""
    return _EPOCH + timedelta(microseconds=at_us)


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


def aggregate(window: Window, how: str, samples: int | None = None) -> float | None:
    """The window's mean, max, min, delta (last - first) or rate per minute; with ``samples``,
    the delta from the sample ``samples - 1`` before the newest (``None`` until there are as
    many in the window)."""
    values = window.values
    if not values:
        return None
    if samples is not None:
        return values[-1] - values[-samples] if len(values) >= samples else None
    if how == "mean":
        return sum(values) / len(values)
    if how == "max":
        return max(values)
    if how == "min":
        return min(values)
    delta = values[-1] - values[0]
    if how == "delta":
        return delta
    span_min = window.span_s() / 60
    return delta / span_min if span_min > 0 else 0.0
