"""Rule compilation: a ``RuleSet`` turned into what evaluation needs precomputed.

Each rule gets its inhibitors, and the devices it watches where that must be known before any
of them speaks: an ``absent`` rule's selected devices, a group rule's groups and members. The
``RuleIndex`` finds a device's rules among a handful of candidates (by kind and district), not
among every rule of the city, and remembers the answer per device.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from enum import IntEnum

from alerts.conditions import selects
from alerts.evaluate.inhibit import link_inhibitors
from alerts.evaluate.subject import group_id
from alerts.rules import (
    Absent,
    EventRate,
    Fault,
    Group,
    Offline,
    Rule,
    RuleSet,
    State,
    Threshold,
    WaterClassBelowTarget,
)
from devices import DeviceRecord, Kind, Registry

__all__ = ["CompiledRule", "DeviceRules", "GroupState", "Mode", "RuleIndex", "compile_rules"]

_TELEMETRY_CONDITIONS = (Threshold, State, WaterClassBelowTarget, Group)
# conditions that hold between messages as time passes (absence, a status, a latched fault, a
# rate, a group with silent members): a tick may fire them once ``for:`` runs out. The others
# hold only as far as their samples say: they fire on a fresh matching sample.
_TIME_CONDITIONS = (Absent, Offline, EventRate, Fault, Group)
_MICROSECOND = timedelta(microseconds=1)


@dataclass(slots=True)
class GroupState:
    """One group of one group rule: its members and those meeting the member condition."""

    district: str
    value: str  # the group attribute's value: the cabinet id, the river, ...
    members: tuple[str, ...]
    matching: set[str] = field(default_factory=set)
    heard: set[str] = field(default_factory=set)  # members heard from since the state began


class Mode(IntEnum):
    """How a telemetry rule judges a reading: decided once, at compile time, not per reading."""

    LATEST = 0  # the latest reading alone (threshold, state, water class)
    WINDOW = 1  # a windowed aggregate of readings
    GROUP = 2  # a member's reading, judged with its group
    OTHER = 3  # events, status, absence: not judged from telemetry
    FAULT = 4  # a latched fault event


@dataclass(slots=True)
class CompiledRule:
    """A rule with what evaluation needs precomputed."""

    rule: Rule
    mode: Mode = Mode.OTHER
    window_us: int = 0  # a windowed rule's window (threshold or event rate), in microseconds
    inhibitors: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    groups: dict[str, GroupState] = field(default_factory=dict)  # by subject id
    member_group: dict[str, str] = field(default_factory=dict)  # device id -> subject id
    selected: tuple[str, ...] = ()
    fires_on_tick: bool = False  # may a tick fire it (see _TIME_CONDITIONS)
    # a last-value rule's ``stale_after``; None for every other rule
    stale_after: timedelta | None = None


@dataclass(frozen=True, slots=True)
class DeviceRules:
    """The rules that concern one device, by what wakes them."""

    telemetry: tuple[CompiledRule, ...]
    event: tuple[CompiledRule, ...]
    status: tuple[CompiledRule, ...]
    absent: tuple[CompiledRule, ...]


def group_key(by: str, record: DeviceRecord) -> str | None:
    """The group a device belongs to under ``by`` (its subject id, district included: two
    districts may each have a cabinet ``C-01``), or ``None`` when it has none."""
    value = getattr(record, by)
    return None if value is None else group_id(by, str(value), record.district)


def compile_rules(rules: RuleSet, registry: Registry) -> dict[str, CompiledRule]:
    """Every rule by name, with inhibitors linked and absent/group rules' devices selected."""
    compiled = {
        rule.name: CompiledRule(
            rule,
            *_mode(rule),
            fires_on_tick=isinstance(rule.condition, _TIME_CONDITIONS),
            stale_after=rule.stale_after,
        )
        for rule in rules
    }
    link_inhibitors(compiled)
    for item in compiled.values():
        condition = item.rule.condition
        if not isinstance(condition, Absent | Group):
            continue
        devices = [
            record
            for record in registry.of_kind(item.rule.kind)
            if selects(item.rule, record.id, record.district, record)
        ]
        if isinstance(condition, Absent):
            item.selected = tuple(record.id for record in devices)
            continue
        members: dict[str, list[DeviceRecord]] = {}
        for record in devices:
            key = group_key(condition.by, record)
            if key is not None:
                members.setdefault(key, []).append(record)
        for key, records in members.items():
            first = records[0]
            item.groups[key] = GroupState(
                first.district, str(getattr(first, condition.by)), tuple(r.id for r in records)
            )
            for record in records:
                item.member_group[record.id] = key
    return compiled


def _mode(rule: Rule) -> tuple[Mode, int]:
    condition = rule.condition
    if isinstance(condition, Group):
        return Mode.GROUP, 0
    if isinstance(condition, Threshold) and condition.window is not None:
        return Mode.WINDOW, condition.window // _MICROSECOND
    if isinstance(condition, EventRate):
        return Mode.OTHER, condition.window // _MICROSECOND
    if isinstance(condition, Fault):
        return Mode.FAULT, 0
    if isinstance(condition, _TELEMETRY_CONDITIONS):
        return Mode.LATEST, 0
    return Mode.OTHER, 0


class RuleIndex:
    """Finds the rules of a device; each device's answer is computed once."""

    def __init__(self, compiled: dict[str, CompiledRule], registry: Registry) -> None:
        self._registry = registry
        # candidates by (kind, district), "" for rules on every district
        self._candidates: dict[tuple[Kind, str], list[CompiledRule]] = {}
        for item in compiled.values():
            for district in item.rule.select.districts or ("",):
                self._candidates.setdefault((item.rule.kind, district), []).append(item)
        self._by_device: dict[str, DeviceRules] = {}
        # most devices of a kind and district share their rules: one DeviceRules for them all
        self._shared: dict[tuple[int, ...], DeviceRules] = {}

    def for_device(self, device_id: str, kind: Kind, district: str) -> DeviceRules:
        """The rules that concern this device."""
        found = self._by_device.get(device_id)
        if found is not None:
            return found
        record = self._registry.get(device_id)
        candidates = [
            *self._candidates.get((kind, ""), ()),
            *self._candidates.get((kind, district), ()),
        ]
        chosen = [item for item in candidates if selects(item.rule, device_id, district, record)]
        shared_key = tuple(id(item) for item in chosen)
        found = self._shared.get(shared_key)
        if found is not None:
            self._by_device[device_id] = found
            return found
        found = self._shared[shared_key] = DeviceRules(
            telemetry=tuple(
                c for c in chosen if isinstance(c.rule.condition, _TELEMETRY_CONDITIONS)
            ),
            event=tuple(c for c in chosen if isinstance(c.rule.condition, EventRate | Fault)),
            status=tuple(c for c in chosen if isinstance(c.rule.condition, Offline)),
            absent=tuple(c for c in chosen if isinstance(c.rule.condition, Absent)),
        )
        self._by_device[device_id] = found
        return found
