"""The two small values that cross the evaluator's seams: whom a judgement is about, and what
it found."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

from devices import DeviceRecord

__all__ = ["NO_EXTRAS", "QUIET", "Subject", "Verdict", "approach_id", "group_id"]

NO_EXTRAS: Mapping[str, Any] = MappingProxyType({})


class Subject(NamedTuple):
    """Whom an alert is about: one device, or one group of a group rule.

    ``id`` is the key of the alert within its rule: the device id, or ``district/by=value`` for
    a group (cabinet ids repeat across districts: each district's ``C-01`` is its own group).
    Labels are built only when an alert is raised (most judgements find nothing wrong). A
    named tuple, not a frozen dataclass: one is made for every reading, and a tuple is made
    several times faster.
    """

    id: str
    district: str
    record: DeviceRecord | None = None
    group: tuple[str, str] | None = None  # (by, value) for a group rule's subject
    approach: str | None = None  # a latched fault of one approach of a junction's signal

    @classmethod
    def device(cls, device_id: str, record: DeviceRecord | None, district: str) -> Subject:
        """A device, with its registry record when it has one."""
        return cls(device_id, district, record, None)

    @classmethod
    def of_approach(
        cls, device_id: str, record: DeviceRecord | None, district: str, approach: str | None
    ) -> Subject:
        """A device, or one approach of it (its faults latch per approach)."""
        if approach is None:
            return cls(device_id, district, record, None)
        return cls(approach_id(device_id, approach), district, record, None, approach)

    @classmethod
    def of_group(cls, by: str, value: str, district: str) -> Subject:
        """One group of a group rule (``cabinet=C-01`` in its district)."""
        return cls(group_id(by, value, district), district, None, (by, value))

    def labels(self) -> dict[str, str]:
        """The labels this subject gives its alerts (the rule adds its own and ``kind``)."""
        if self.group is not None:
            by, value = self.group
            return {by: value}
        labels = self.record.tags() if self.record is not None else {"district": self.district}
        if self.approach is not None:
            labels["device"] = self.id.partition(_APPROACH)[0]
            labels["approach"] = self.approach
            return labels
        labels["device"] = self.id
        return labels


_APPROACH = "#"  # not in a device id's [A-Za-z0-9_-]


def approach_id(device_id: str, approach: str) -> str:
    """The subject id of one approach of a device."""
    return f"{device_id}{_APPROACH}{approach}"


def group_id(by: str, value: str, district: str) -> str:
    """The subject id of a group: the attribute's value within its district."""
    return f"{district}/{by}={value}"


class Verdict(NamedTuple):
    """What judging a condition found: whether it holds, the value that decided, and what else
    the summary may name (``{pct}``, ``{water_class}``, ``{silent_s}``). A named tuple: one is
    made for every rule a reading concerns."""

    active: bool
    value: float | None
    extras: Mapping[str, Any] = NO_EXTRAS


QUIET = Verdict(False, None)  # nothing wrong, nothing to say
