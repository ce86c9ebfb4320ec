"""The evaluator: readings in, alert transitions out. Synchronous and clock-free.

Time is always passed in (``observe(observation, now)``, ``tick(now)``), so tests and rule tests
drive it with a fake clock. Two clocks meet here, and each has its job:

- the *sample time* of a reading is its ``ts`` — unless the device's clock disagrees with the
  arrival time by more than ``max_clock_skew``, when the arrival time stands in for it (a device
  an hour fast must not fire a ``for: 10m`` at once). Windows and ``for:`` use sample time.
- the *engine clock* (``now``) drives what no reading announces: absence, windows emptying, a
  pending ``for:`` running out, the sun setting.

With ``max_clock_skew=None`` the evaluator runs on *event time*: device clocks are trusted and
the engine clock is the latest sample time seen (the watermark). That is for simulated or
replayed time (a scenario run at 600× speed), where arrival time means nothing.

A reading older than the device's latest (out of order) still enters windows and counts, but does
not overwrite the latest state; an exact repeat (same ``ts`` and ``seq``) is ignored.

Long because: not yet split along its seams (compilation, judgement, lifecycle, gates,
inhibition); issue 9 splits it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from alerts.conditions import (
    Window,
    aggregate,
    crosses,
    read_field,
    selects,
    state_holds,
    within,
)
from alerts.interface import Observation
from alerts.model import Alert, AlertState, ChangeKind, fingerprint
from alerts.rules import (
    Absent,
    EventRate,
    Group,
    Offline,
    Rule,
    RuleSet,
    State,
    Threshold,
    WaterClassBelowTarget,
    When,
)
from devices import (
    Channel,
    DeviceRecord,
    Kind,
    Payload,
    Reading,
    Registry,
    Status,
    WaterQualityTelemetry,
    classify_water,
)

__all__ = ["Evaluator", "Transition"]

log = logging.getLogger(__name__)

_TELEMETRY_CONDITIONS = (Threshold, State, WaterClassBelowTarget, Group)
_SETTLE = timedelta(minutes=10)  # how long a restored group alert waits for its members


@dataclass(frozen=True, slots=True)
class Transition:
    """An alert after a change. ``change`` is set for announced changes; ``dropped`` marks a
    pending alert whose condition let go before ``for:`` ran out (persisted, not announced)."""

    alert: Alert
    change: ChangeKind | None
    dropped: bool = False


@dataclass(slots=True)
class _GroupState:
    """One group of one group rule: its members and those meeting the member condition."""

    district: str
    members: tuple[str, ...]
    matching: set[str] = field(default_factory=set)
    heard: set[str] = field(default_factory=set)  # members heard from since the state began


@dataclass(slots=True)
class _Compiled:
    """A rule with what evaluation needs precomputed."""

    rule: Rule
    inhibitors: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    groups: dict[str, _GroupState] = field(default_factory=dict)
    member_group: dict[str, str] = field(default_factory=dict)
    selected: tuple[str, ...] = ()


@dataclass(slots=True)
class _DeviceRules:
    telemetry: tuple[_Compiled, ...]
    event: tuple[_Compiled, ...]
    status: tuple[_Compiled, ...]
    absent: tuple[_Compiled, ...]


class _Missing(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "?"


class Evaluator:
    """Rules applied to readings: keeps per-device state and the alerts, returns transitions."""

    def __init__(
        self,
        rules: RuleSet,
        registry: Registry,
        *,
        max_clock_skew: timedelta | None,
        started_at: datetime | None,
        alerts: Iterable[Alert] = (),
    ) -> None:
        self._registry = registry
        self._max_skew = max_clock_skew
        self._started_at = started_at
        self._state_since: datetime | None = started_at
        self.watermark: datetime | None = None
        try:
            self._zone: ZoneInfo | None = ZoneInfo(registry.city.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            self._zone = None
        self._sun_cache: tuple[int, float] = (-1, 0.0)
        self._alerts: dict[str, Alert] = {}
        self._by_subject: dict[tuple[str, str], str] = {}
        self._last_received: dict[str, datetime] = {}
        self._latest: dict[tuple[str, Channel], tuple[datetime, int | None]] = {}
        self._windows: dict[tuple[str, str], Window] = {}
        self._rules: dict[str, _Compiled] = {}
        self._device_rules: dict[str, _DeviceRules] = {}
        self._orphans: list[str] = []
        self.set_rules(rules)
        for alert in alerts:
            self._alerts[alert.fingerprint] = alert
            subject = self._subject_of(alert)
            if subject is not None:
                self._by_subject[(alert.rule, subject)] = alert.fingerprint
            else:
                self._orphans.append(alert.fingerprint)

    # --- rules -----------------------------------------------------------------------------

    def set_rules(self, rules: RuleSet) -> None:
        """Swap in a new rule set; alerts of rules that are gone resolve at the next tick."""
        compiled = {rule.name: _Compiled(rule) for rule in rules}
        for source in compiled.values():
            inhibit = source.rule.inhibits
            for target in inhibit.rules if inhibit else ():
                if target in compiled and inhibit is not None:
                    compiled[target].inhibitors.append((source.rule.name, inhibit.equal))
        for item in compiled.values():
            condition = item.rule.condition
            if not isinstance(condition, Absent | Group):
                continue
            devices = [
                record
                for record in self._registry.of_kind(item.rule.kind)
                if selects(item.rule, record.id, record.district, record)
            ]
            if isinstance(condition, Absent):
                item.selected = tuple(record.id for record in devices)
            if isinstance(condition, Group):
                members: dict[str, list[DeviceRecord]] = {}
                for record in devices:
                    key = getattr(record, condition.by)
                    if key is not None:
                        members.setdefault(str(key), []).append(record)
                for key, records in members.items():
                    item.groups[key] = _GroupState(
                        records[0].district, tuple(record.id for record in records)
                    )
                    for record in records:
                        item.member_group[record.id] = key
        if self._rules:
            self._state_since = None  # windows and groups start again: set at next evaluation
        self._rules = compiled
        # candidates by (kind, district), "" for rules on every district: a device's rules are
        # then found among a handful, not among every rule of the city
        self._candidates: dict[tuple[Kind, str], list[_Compiled]] = {}
        for item in compiled.values():
            for district in item.rule.select.districts or ("",):
                self._candidates.setdefault((item.rule.kind, district), []).append(item)
        self._device_rules = {}
        self._windows = {}
        self._orphans.extend(
            fp for fp, alert in self._alerts.items() if alert.rule not in self._rules
        )

    def _rules_for(self, device_id: str, kind: Kind, district: str) -> _DeviceRules:
        found = self._device_rules.get(device_id)
        if found is not None:
            return found
        record = self._registry.get(device_id)
        candidates = [
            *self._candidates.get((kind, ""), ()),
            *self._candidates.get((kind, district), ()),
        ]
        chosen = [item for item in candidates if selects(item.rule, device_id, district, record)]
        found = _DeviceRules(
            telemetry=tuple(
                c for c in chosen if isinstance(c.rule.condition, _TELEMETRY_CONDITIONS)
            ),
            event=tuple(c for c in chosen if isinstance(c.rule.condition, EventRate)),
            status=tuple(c for c in chosen if isinstance(c.rule.condition, Offline)),
            absent=tuple(c for c in chosen if isinstance(c.rule.condition, Absent)),
        )
        self._device_rules[device_id] = found
        return found

    # --- reading -----------------------------------------------------------------------------

    def active(self) -> list[Alert]:
        """Alerts pending or firing, oldest first."""
        return sorted(self._alerts.values(), key=lambda alert: alert.active_since)

    def get(self, fp: str) -> Alert | None:
        """The active alert with this fingerprint, if any."""
        return self._alerts.get(fp)

    def observe(self, observation: Observation) -> list[Transition]:
        """Evaluate every rule that one observation concerns."""
        message = observation.message
        topic = message.topic
        payload = message.payload
        device_id = topic.device_id
        record = observation.device
        district = record.district if record is not None else topic.district
        received_at = observation.received_at
        at = self._sample_time(payload, received_at)
        if self._max_skew is None:
            received_at = at  # event time: arrival is when the device says
            if self.watermark is None or at > self.watermark:
                self.watermark = at
            if self._started_at is None:
                self._started_at = at
        previous_seen = self._last_received.get(device_id)
        if previous_seen is None or received_at > previous_seen:
            self._last_received[device_id] = received_at
        if self._state_since is None:
            self._state_since = at
        rules = self._rules_for(device_id, topic.kind, district)
        out: list[Transition] = []
        for item in rules.absent:
            self._settle(out, item, device_id, record, district, False, None, {}, received_at)
        if isinstance(payload, Status):
            for item in rules.status:
                self._settle(
                    out, item, device_id, record, district, not payload.online, None, {}, at
                )
            # a member that says it is offline counts in its group; back online, its next
            # reading decides again
            for item in rules.telemetry:
                if isinstance(item.rule.condition, Group):
                    self._mark_member(
                        out, item, item.rule.condition, device_id, not payload.online, at
                    )
            return out
        assert isinstance(payload, Reading)
        latest_key = (device_id, topic.channel)
        latest = self._latest.get(latest_key)
        if latest is not None and latest == (at, payload.seq):
            return out  # an exact repeat: a redelivery
        in_order = latest is None or at >= latest[0]
        if in_order:
            self._latest[latest_key] = (at, payload.seq)
        if topic.channel is Channel.EVENT:
            for item in rules.event:
                self._observe_event(out, item, device_id, record, district, payload, at)
            return out
        for item in rules.telemetry:
            condition = item.rule.condition
            if isinstance(condition, Threshold) and condition.window is not None:
                self._observe_window(out, item, condition, device_id, record, district, payload, at)
            elif not in_order:
                continue
            elif isinstance(condition, Group):
                self._observe_member(out, item, condition, device_id, payload, at)
            else:
                self._observe_latest(out, item, device_id, record, district, payload, at)
        return out

    def _sample_time(self, payload: Payload, received_at: datetime) -> datetime:
        ts: datetime | None = getattr(payload, "ts", None)
        if self._max_skew is None:
            return ts or self.watermark or received_at
        if ts is None or abs(ts - received_at) > self._max_skew:
            return received_at
        return ts

    def _observe_latest(
        self,
        out: list[Transition],
        item: _Compiled,
        device_id: str,
        record: DeviceRecord | None,
        district: str,
        payload: Payload,
        at: datetime,
    ) -> None:
        condition = item.rule.condition
        extras: dict[str, Any] = {}
        value: float | None = None
        if isinstance(condition, Threshold):
            raw = read_field(payload, condition.field, condition.reduce)
            if raw is None:
                return
            value = float(raw)
            was = (item.rule.name, device_id) in self._by_subject
            active = crosses(condition, value, was)
        elif isinstance(condition, State):
            raw = read_field(payload, condition.field, "max")
            active = state_holds(condition, raw)
            value = float(raw) if isinstance(raw, int | float) else None
        elif isinstance(condition, WaterClassBelowTarget):
            if record is None or record.target_class is None:
                return
            assert isinstance(payload, WaterQualityTelemetry)
            found = classify_water(payload)
            active = found.water_class.rank > record.target_class.rank
            value = found.deciding_value
            extras = {
                "parameter": found.deciding_field,
                "water_class": found.water_class.value,
                "target_class": record.target_class.value,
            }
        else:  # pragma: no cover - dispatched by type above
            return
        self._settle(out, item, device_id, record, district, active, value, extras, at)

    def _observe_window(
        self,
        out: list[Transition],
        item: _Compiled,
        condition: Threshold,
        device_id: str,
        record: DeviceRecord | None,
        district: str,
        payload: Payload,
        at: datetime,
    ) -> None:
        raw = read_field(payload, condition.field, condition.reduce)
        if raw is None:
            return
        key = (item.rule.name, device_id)
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = Window()
        window.add(at, float(raw))
        end = window.end()
        assert end is not None
        assert condition.window is not None
        window.trim(end, condition.window)
        self._judge_window(out, item, condition, device_id, record, district, window, end)

    def _judge_window(
        self,
        out: list[Transition],
        item: _Compiled,
        condition: Threshold,
        device_id: str,
        record: DeviceRecord | None,
        district: str,
        window: Window,
        at: datetime,
    ) -> None:
        value = aggregate(window, condition.aggregate)
        was = (item.rule.name, device_id) in self._by_subject
        active = value is not None and crosses(condition, value, was)
        assert condition.window is not None
        if not active and self._holding(item.rule.name, device_id, at, condition.window):
            return
        self._settle(out, item, device_id, record, district, active, value, {}, at)

    def _observe_event(
        self,
        out: list[Transition],
        item: _Compiled,
        device_id: str,
        record: DeviceRecord | None,
        district: str,
        payload: Reading,
        at: datetime,
    ) -> None:
        condition = item.rule.condition
        assert isinstance(condition, EventRate)
        if payload.measurement != condition.event:
            return
        for name, wanted in condition.where.items():
            actual: Any = getattr(payload, name, None)
            actual = getattr(actual, "value", actual)
            if (str(actual) != wanted) if isinstance(wanted, str) else (actual != wanted):
                return
        key = (item.rule.name, device_id)
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = Window()
        window.add(at, 1.0)
        end = window.end()
        assert end is not None
        window.trim(end, condition.window)
        self._judge_events(out, item, condition, device_id, record, district, window, end)

    def _judge_events(
        self,
        out: list[Transition],
        item: _Compiled,
        condition: EventRate,
        device_id: str,
        record: DeviceRecord | None,
        district: str,
        window: Window,
        at: datetime,
    ) -> None:
        count = float(len(window.values))
        was = (item.rule.name, device_id) in self._by_subject
        active = crosses(condition, count, was)
        if not active and self._holding(item.rule.name, device_id, at, condition.window):
            return
        self._settle(out, item, device_id, record, district, active, count, {}, at)

    def _observe_member(
        self,
        out: list[Transition],
        item: _Compiled,
        condition: Group,
        device_id: str,
        payload: Payload,
        at: datetime,
    ) -> None:
        member = condition.member
        if isinstance(member, Threshold):
            raw = read_field(payload, member.field, member.reduce)
            matches = raw is not None and crosses(member, float(raw), False)
        else:
            matches = state_holds(member, read_field(payload, member.field, "max"))
        self._mark_member(out, item, condition, device_id, matches, at)

    def _mark_member(
        self,
        out: list[Transition],
        item: _Compiled,
        condition: Group,
        device_id: str,
        matches: bool,
        at: datetime,
    ) -> None:
        key = item.member_group.get(device_id)
        if key is None:
            return
        group = item.groups[key]
        group.heard.add(device_id)
        if matches:
            group.matching.add(device_id)
        else:
            group.matching.discard(device_id)
        self._judge_group(out, item, condition, key, group, at)

    def _judge_group(
        self,
        out: list[Transition],
        item: _Compiled,
        condition: Group,
        key: str,
        group: _GroupState,
        at: datetime,
    ) -> None:
        total = len(group.members)
        matching = len(group.matching)
        pct = 100.0 * matching / total
        active = total >= condition.min_devices and pct >= condition.at_least_pct
        subject = f"{condition.by}={key}"
        if (
            not active
            and len(group.heard) < total
            and self._holding(item.rule.name, subject, at, condition.silent_after or _SETTLE)
        ):
            return  # not every member has spoken since the state began: too soon to clear
        extras = {"members": total, "matching": matching, "pct": pct}
        labels: dict[str, str] = {condition.by: key}
        self._settle_subject(out, item, subject, group.district, labels, active, pct, extras, at)

    # --- lifecycle ---------------------------------------------------------------------------

    def _settle(
        self,
        out: list[Transition],
        item: _Compiled,
        device_id: str,
        record: DeviceRecord | None,
        district: str,
        active: bool,
        value: float | None,
        extras: Mapping[str, Any],
        at: datetime,
    ) -> None:
        if not active and (item.rule.name, device_id) not in self._by_subject:
            return  # the common case: nothing wrong, nothing to do
        labels = record.tags() if record is not None else {"district": district}
        labels["device"] = device_id
        self._settle_subject(out, item, device_id, district, labels, active, value, extras, at)

    def _settle_subject(
        self,
        out: list[Transition],
        item: _Compiled,
        subject: str,
        district: str,
        subject_labels: Mapping[str, str],
        active: bool,
        value: float | None,
        extras: Mapping[str, Any],
        at: datetime,
    ) -> None:
        rule = item.rule
        key = (rule.name, subject)
        fp = self._by_subject.get(key)
        current = self._alerts.get(fp) if fp is not None else None
        if active and rule.when is not None and not self._gate_open(rule.when, at):
            active = False
        if not active:
            if current is None:
                return
            self._end(out, current, key, at)
            return
        if current is None:
            labels = {**rule.labels, **subject_labels, "district": district}
            labels["kind"] = rule.kind.value
            fp = fingerprint(rule.name, labels)
            current = Alert(
                fingerprint=fp,
                rule=rule.name,
                kind=rule.kind,
                district=district,
                severity=rule.severity.value,
                labels=labels,
                state=AlertState.PENDING,
                active_since=at,
                fired_at=None,
                resolved_at=None,
                value=value,
                summary=self._render(rule, labels, value, extras),
                runbook=rule.runbook,
            )
            self._alerts[fp] = current
            self._by_subject[key] = fp
            out.append(Transition(current, None))
        elif current.state is AlertState.PENDING:
            current = replace(
                current, value=value, summary=self._render(rule, current.labels, value, extras)
            )
            self._alerts[current.fingerprint] = current
        if current.state is AlertState.PENDING:
            self._maybe_fire(out, current, at)

    def _maybe_fire(self, out: list[Transition], alert: Alert, at: datetime) -> None:
        item = self._rules.get(alert.rule)
        if item is None or at - alert.active_since < item.rule.for_:
            return
        if self._inhibited(item, alert):
            return
        fired = replace(alert, state=AlertState.FIRING, fired_at=at)
        self._alerts[alert.fingerprint] = fired
        out.append(Transition(fired, ChangeKind.FIRING))

    def _end(self, out: list[Transition], alert: Alert, key: tuple[str, str], at: datetime) -> None:
        del self._alerts[alert.fingerprint]
        self._by_subject.pop(key, None)
        if alert.state is AlertState.PENDING:
            out.append(Transition(alert, None, dropped=True))
            return
        resolved = replace(alert, state=AlertState.RESOLVED, resolved_at=max(at, alert.starts_at))
        out.append(Transition(resolved, ChangeKind.RESOLVED))

    def _inhibited(self, item: _Compiled, alert: Alert) -> bool:
        for source, equal in item.inhibitors:
            for other in self._alerts.values():
                if (
                    other.rule == source
                    and other.state is AlertState.FIRING
                    and all(other.labels.get(name) == alert.labels.get(name) for name in equal)
                ):
                    return True
        return False

    def _render(
        self, rule: Rule, labels: Mapping[str, str], value: float | None, extras: Mapping[str, Any]
    ) -> str:
        context = _Missing(labels)
        context.update(extras)
        context.update(rule=rule.name, severity=rule.severity.value)
        context["value"] = value if value is not None else float("nan")
        try:
            return rule.summary.format_map(context)
        except (ValueError, TypeError):
            return rule.summary  # a format spec that does not fit the value: show the template

    def _gate_open(self, when: When, at: datetime) -> bool:
        if when.sun_above_deg is not None or when.sun_below_deg is not None:
            elevation = self._sun_at(at)
            if when.sun_above_deg is not None and elevation <= when.sun_above_deg:
                return False
            if when.sun_below_deg is not None and elevation >= when.sun_below_deg:
                return False
        local = at.astimezone(self._zone).time() if self._zone else at.time()
        inside = when.span("local_time")
        if inside is not None and not within(local, *inside):
            return False
        outside = when.span("outside_local_time")
        return outside is None or not within(local, *outside)

    def _sun_at(self, at: datetime) -> float:
        minute = int(at.timestamp() // 60)
        if self._sun_cache[0] != minute:
            self._sun_cache = (minute, self._registry.city.sun_elevation_deg(at))
        return self._sun_cache[1]

    def _holding(self, rule: str, subject: str, at: datetime, span: timedelta) -> bool:
        """Whether an alert older than the evaluator's state must wait before it may clear.

        After a restart or a reload, windows and groups start empty; an alert restored from
        before must not resolve (and be announced again later) just because they are empty.
        """
        fp = self._by_subject.get((rule, subject))
        alert = self._alerts.get(fp) if fp is not None else None
        if alert is None:
            return False
        if self._state_since is None:
            self._state_since = at
        return alert.active_since < self._state_since and at - self._state_since < span

    def _subject_of(self, alert: Alert) -> str | None:
        item = self._rules.get(alert.rule)
        if item is None:
            return None
        condition = item.rule.condition
        if isinstance(condition, Group):
            value = alert.labels.get(condition.by)
            return None if value is None else f"{condition.by}={value}"
        return alert.labels.get("device")

    # --- time --------------------------------------------------------------------------------

    def tick(self, now: datetime) -> list[Transition]:
        """What time alone changes: absence, windows emptying, ``for:`` running out, the sun."""
        out: list[Transition] = []
        if self._state_since is None:
            self._state_since = now
        for fp in self._orphans:
            alert = self._alerts.get(fp)
            if alert is not None and alert.rule not in self._rules:
                key = (alert.rule, self._subject_of(alert) or "")
                self._end(out, alert, key, now)
        self._orphans = []
        # due for: timers first, so an alert that inhibits others (camera offline) fires before
        # the symptoms it covers (camera silent) can be raised in this same pass
        for alert in list(self._alerts.values()):
            if alert.state is AlertState.PENDING:
                self._maybe_fire(out, alert, now)
        for item in self._rules.values():
            condition = item.rule.condition
            if isinstance(condition, Absent):
                self._tick_absent(out, item, condition, now)
            elif isinstance(condition, Group):
                self._tick_group(out, item, condition, now)
        for alert in list(self._alerts.values()):
            if alert.fingerprint not in self._alerts:
                continue
            compiled = self._rules.get(alert.rule)
            if compiled is not None:
                self._tick_alert(out, compiled, alert, now)
        for alert in list(self._alerts.values()):
            if alert.state is AlertState.PENDING:
                self._maybe_fire(out, alert, now)
        return out

    def _tick_alert(
        self, out: list[Transition], item: _Compiled, alert: Alert, now: datetime
    ) -> None:
        rule = item.rule
        condition = rule.condition
        subject = self._subject_of(alert)
        if subject is None:
            return
        key = (rule.name, subject)
        if rule.when is not None and not self._gate_open(rule.when, now):
            self._end(out, alert, key, now)
            return
        if isinstance(condition, Threshold | EventRate) and (
            not isinstance(condition, Threshold) or condition.window is not None
        ):
            window = self._windows.get(key) or Window()
            span = condition.window
            assert span is not None
            window.trim(now, span)
            record = self._registry.get(subject)
            if isinstance(condition, Threshold):
                self._judge_window(
                    out, item, condition, subject, record, alert.district, window, now
                )
            else:
                self._judge_events(
                    out, item, condition, subject, record, alert.district, window, now
                )

    def _tick_absent(
        self, out: list[Transition], item: _Compiled, condition: Absent, now: datetime
    ) -> None:
        baseline = self._started_at or now
        for device_id in item.selected:
            seen = self._last_received.get(device_id)
            if seen is None and (item.rule.name, device_id) in self._by_subject:
                continue  # restored from before a restart: silent still, until it speaks
            last = seen or baseline
            silent = now - last
            if silent > condition.after or (item.rule.name, device_id) in self._by_subject:
                record = self._registry.get(device_id)
                district = record.district if record else ""
                active = silent > condition.after
                extras = {"silent_s": silent.total_seconds()}
                self._settle(
                    out,
                    item,
                    device_id,
                    record,
                    district,
                    active,
                    silent.total_seconds(),
                    extras,
                    last + condition.after if active else now,
                )

    def _tick_group(
        self, out: list[Transition], item: _Compiled, condition: Group, now: datetime
    ) -> None:
        for key, group in item.groups.items():
            if condition.silent_after is not None:
                for device_id in group.members:
                    last = self._last_received.get(device_id, self._started_at or now)
                    if now - last > condition.silent_after:
                        group.matching.add(device_id)
            if group.matching or (item.rule.name, f"{condition.by}={key}") in self._by_subject:
                self._judge_group(out, item, condition, key, group, now)

    # --- operators ---------------------------------------------------------------------------

    def acknowledge(self, fp: str, by: str, at: datetime) -> Transition | None:
        """Mark a firing alert acknowledged; ``None`` when it is not firing (or already acked)."""
        alert = self._alerts.get(fp)
        if alert is None or alert.state is not AlertState.FIRING or alert.acknowledged_by:
            return None
        acked = replace(alert, acknowledged_by=by, acknowledged_at=at)
        self._alerts[fp] = acked
        return Transition(acked, ChangeKind.ACKNOWLEDGED)
