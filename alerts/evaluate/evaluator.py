"""The ``Evaluator``: readings and time in, transitions out; it keeps the per-device state
(latest reading times, windows, arrival times, fault latches) and routes each judgement to the
alert book.

Long because: each condition type has its path in (a reading, an event, a status) and its path
in time (a tick), and both need the same per-device state; the judging and the alert moves
themselves live in ``judge`` and ``lifecycle``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from alerts.conditions import Window, epoch_us, from_epoch_us
from alerts.evaluate.compile import CompiledRule, Mode, RuleIndex, compile_rules
from alerts.evaluate.gates import TimeGates
from alerts.evaluate.judge import (
    event_matches,
    judge_events,
    judge_fault,
    judge_group,
    judge_latest,
    judge_window,
    member_matches,
    window_sample,
)
from alerts.evaluate.lifecycle import AlertBook, Transition, sorted_by_age
from alerts.evaluate.subject import QUIET, Subject, Verdict, approach_id, group_id
from alerts.interface import Observation
from alerts.model import Alert
from alerts.rules import (
    Absent,
    EventRate,
    Fault,
    Group,
    RuleSet,
    State,
    Threshold,
    WaterClassBelowTarget,
)
from devices import Channel, Payload, Reading, Registry, Status

__all__ = ["Evaluator"]

_SETTLE = timedelta(minutes=10)  # how long a restored group alert waits for its members


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
        alerts = list(alerts)
        self._registry = registry
        self._max_skew = max_clock_skew
        self._started_at = started_at
        self._state_since: datetime | None = started_at
        # alerts active when the state (windows, groups) began: restored, or older than a reload
        self._carried: set[str] = {alert.fingerprint for alert in alerts}
        self.watermark: datetime | None = None
        self._book = AlertBook(TimeGates(registry.city))
        self._last_received: dict[str, datetime] = {}
        # per channel, per device: (sample time, seq) of the latest reading
        self._latest: dict[Channel, dict[str, tuple[datetime, int | None]]] = {
            channel: {} for channel in Channel
        }
        # per rule, per subject (nested, not keyed by a tuple: one tuple fewer per window)
        self._windows: dict[str, dict[str, Window]] = {}
        # per water-class rule and station: the parameter that decided its alert last
        self._deciding: dict[tuple[str, str], str] = {}
        # per fault rule, per subject: the sample time of the latest event that set or cleared it
        self._latched: dict[str, dict[str, datetime]] = {}
        self._rules: dict[str, CompiledRule] = {}
        self._index = RuleIndex({}, registry)
        self._orphans: list[str] = []
        self.set_rules(rules)
        for alert in alerts:
            subject_id = self._subject_of(alert)
            self._book.restore(alert, subject_id)
            if subject_id is None or not self._subject_exists(alert.rule, subject_id):
                # its rule, its device or its group is gone: it resolves at the next tick
                self._orphans.append(alert.fingerprint)

    # --- rules -----------------------------------------------------------------------------

    def set_rules(self, rules: RuleSet) -> None:
        """Swap in a new rule set; alerts of rules that are gone resolve at the next tick."""
        compiled = compile_rules(rules, self._registry)
        if self._rules:
            self._state_since = None  # windows and groups start again: set at next evaluation
            self._carried = {alert.fingerprint for alert in self._book.values()}
        self._rules = compiled
        self._book.rules = compiled
        self._index = RuleIndex(compiled, self._registry)
        self._windows = {}
        self._latched = {}
        self._orphans.extend(
            alert.fingerprint for alert in self._book.values() if alert.rule not in compiled
        )

    # --- reading -----------------------------------------------------------------------------

    def active(self) -> list[Alert]:
        """Alerts pending or firing, oldest first."""
        return sorted_by_age(self._book.values())

    def get(self, fp: str) -> Alert | None:
        """The active alert with this fingerprint, if any."""
        return self._book.get(fp)

    def observe(self, observation: Observation) -> list[Transition]:
        """Evaluate every rule that one observation concerns."""
        message = observation.message
        topic = message.topic
        payload = message.payload
        device_id = topic.device_id
        record = observation.device
        subject = Subject.device(
            device_id, record, record.district if record is not None else topic.district
        )
        received_at = observation.received_at
        at = self._sample_time(payload, received_at)
        if self._max_skew is None:
            received_at = at  # event time: arrival is when the device says
            if self.watermark is None or at > self.watermark:
                self.watermark = at
            if self._started_at is None:
                self._started_at = at
            now = self.watermark
        else:
            now = received_at  # the engine clock: a late reading is judged by its own age
        previous_seen = self._last_received.get(device_id)
        if previous_seen is None or received_at > previous_seen:
            self._last_received[device_id] = received_at
        if self._state_since is None:
            self._state_since = at
        rules = self._index.for_device(device_id, topic.kind, subject.district)
        book = self._book
        out: list[Transition] = []
        for item in rules.absent:
            book.settle(out, item, subject, QUIET, received_at)
        if isinstance(payload, Status):
            for item in rules.status:
                book.settle(out, item, subject, Verdict(not payload.online, None), at)
            # a member that says it is offline counts in its group; back online, its next
            # reading decides again
            for item in rules.telemetry:
                if isinstance(item.rule.condition, Group):
                    self._mark_member(out, item, device_id, not payload.online, at)
            return out
        assert isinstance(payload, Reading)
        latest_of = self._latest[topic.channel]
        latest = latest_of.get(device_id)
        if latest is not None and latest == (at, payload.seq):
            return out  # an exact repeat: a redelivery
        in_order = latest is None or at >= latest[0]
        if in_order:
            latest_of[device_id] = (at, payload.seq)
        if topic.channel is Channel.EVENT:
            for item in rules.event:
                if item.mode is Mode.FAULT:
                    self._observe_fault(out, item, subject, payload, at)
                else:
                    self._observe_event(out, item, subject, payload, at, now)
            return out
        active = book.keys
        for item in rules.telemetry:
            mode = item.mode
            if mode is Mode.WINDOW:
                self._observe_window(out, item, subject, payload, at, now)
            elif not in_order:
                continue  # an older reading never replaces the latest state
            elif item.stale_after is not None and now - at > item.stale_after:
                continue  # stale on arrival (a late upload): it no longer counts
            elif mode is Mode.LATEST:
                key = (item.rule.name, device_id)
                was = key in active
                # the mode says which: no per-reading isinstance (nor cast(), a call) on this path
                judged: Threshold | State | WaterClassBelowTarget = item.rule.condition  # type: ignore[assignment]
                deciding = self._deciding.get(key) if was else None
                verdict = judge_latest(judged, payload, record, was, deciding)
                if verdict is not None and verdict is not QUIET:
                    if verdict.active and verdict.extras:
                        parameter = verdict.extras.get("parameter")
                        # a sample that does not measure the deciding parameter (a probe-only
                        # hour) does not take the decision from it: the analysis still stands
                        measured = deciding is None or getattr(payload, deciding, None) is not None
                        if parameter is not None and measured:
                            self._deciding[key] = parameter
                    book.settle(out, item, subject, verdict, at)
            else:
                group: Group = item.rule.condition  # type: ignore[assignment]
                matches = member_matches(group.member, payload)
                self._mark_member(out, item, device_id, matches, at)
        return out

    def _sample_time(self, payload: Payload, received_at: datetime) -> datetime:
        """A reading's own time; arrival time for one ahead of arrival by more than the skew
        allowed (a clock running fast must not fire a ``for:`` at once). A reading behind its
        arrival (a buffered upload, a slow link) keeps its own time: the gateway has already
        refused any older than it accepts."""
        ts: datetime | None = getattr(payload, "ts", None)
        if self._max_skew is None:
            return ts or self.watermark or received_at
        if ts is None or ts - received_at > self._max_skew:
            return received_at
        return ts

    def _add_sample(
        self, item: CompiledRule, subject: Subject, at: datetime, value: float, now: datetime
    ) -> tuple[Window, datetime]:
        """Put a sample in the subject's window of the rule at its own time; the window as it
        stands at the engine clock (or at its newest sample, when that is later), and that
        time. A late sample counts only where it falls: an hour-old batch is spread over its
        hour, not piled up at "now"."""
        windows = self._windows.get(item.rule.name)
        if windows is None:
            windows = self._windows[item.rule.name] = {}
        window = windows.get(subject.id)
        if window is None:
            window = windows[subject.id] = Window()
        window.add(epoch_us(at), value)
        newest_us = window.times_us[-1]
        now_us = epoch_us(now)
        if now_us >= newest_us:
            window.trim(now_us, item.window_us)
            return window, now
        window.trim(newest_us, item.window_us)
        return window, from_epoch_us(newest_us)

    def _observe_window(
        self,
        out: list[Transition],
        item: CompiledRule,
        subject: Subject,
        payload: Payload,
        at: datetime,
        now: datetime,
    ) -> None:
        condition: Threshold = item.rule.condition  # type: ignore[assignment]
        raw = window_sample(condition, payload)
        if raw is not None:
            window, end = self._add_sample(item, subject, at, raw, now)
            self._judge_windowed(out, item, subject, window, end)

    def _observe_event(
        self,
        out: list[Transition],
        item: CompiledRule,
        subject: Subject,
        payload: Reading,
        at: datetime,
        now: datetime,
    ) -> None:
        condition: EventRate = item.rule.condition  # type: ignore[assignment]
        if event_matches(condition, payload):
            window, end = self._add_sample(item, subject, at, 1.0, now)
            self._judge_windowed(out, item, subject, window, end)

    def _observe_fault(
        self,
        out: list[Transition],
        item: CompiledRule,
        subject: Subject,
        payload: Reading,
        at: datetime,
    ) -> None:
        condition: Fault = item.rule.condition  # type: ignore[assignment]
        if not event_matches(condition, payload):
            return
        approach: str | None = getattr(payload, "approach", None)
        if approach is not None:
            subject = Subject.of_approach(subject.id, subject.record, subject.district, approach)
        latched = self._latched.get(item.rule.name)
        if latched is None:
            latched = self._latched[item.rule.name] = {}
        last = latched.get(subject.id)
        if last is not None and at < last:
            return  # an older event (a late upload) does not undo a newer one
        latched[subject.id] = at
        self._book.settle(out, item, subject, judge_fault(payload), at)

    def _judge_windowed(
        self,
        out: list[Transition],
        item: CompiledRule,
        subject: Subject,
        window: Window,
        at: datetime,
        *,
        fresh: bool = True,
    ) -> None:
        """A windowed threshold or an event rate, judged on its window as it is at ``at``."""
        condition = item.rule.condition
        was = (item.rule.name, subject.id) in self._book.keys
        if isinstance(condition, EventRate):
            verdict = judge_events(condition, window, was)
        else:
            assert isinstance(condition, Threshold)
            verdict = judge_window(condition, window, was)
        if not verdict.active and (
            not was or self._holding(item, subject.id, at, timedelta(microseconds=item.window_us))
        ):
            return
        self._book.settle(out, item, subject, verdict, at, fresh=fresh)

    def _mark_member(
        self, out: list[Transition], item: CompiledRule, device_id: str, matches: bool, at: datetime
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
        self._judge_group(out, item, key, at)

    def _judge_group(
        self, out: list[Transition], item: CompiledRule, key: str, at: datetime
    ) -> None:
        condition = item.rule.condition
        assert isinstance(condition, Group)
        group = item.groups[key]
        verdict = judge_group(condition, group)
        subject = Subject.of_group(condition.by, group.value, group.district)
        if (
            not verdict.active
            and len(group.heard) < len(group.members)
            and self._holding(item, subject.id, at, condition.silent_after or _SETTLE)
        ):
            return  # not every member has spoken since the state began: too soon to clear
        self._book.settle(out, item, subject, verdict, at)

    def _holding(self, item: CompiledRule, subject_id: str, at: datetime, span: timedelta) -> bool:
        """Whether an alert older than the evaluator's state must wait before it may clear.

        After a restart or a reload, windows and groups start empty; an alert restored from
        before must not resolve (and be announced again later) just because they are empty.
        """
        alert = self._book.of(item.rule.name, subject_id)
        if alert is None:
            return False
        if self._state_since is None:
            self._state_since = at
        return alert.fingerprint in self._carried and at - self._state_since < span

    def _subject_of(self, alert: Alert) -> str | None:
        item = self._rules.get(alert.rule)
        if item is None:
            return None
        condition = item.rule.condition
        if isinstance(condition, Group):
            value = alert.labels.get(condition.by)
            return None if value is None else group_id(condition.by, value, alert.district)
        device = alert.labels.get("device")
        approach = alert.labels.get("approach")
        if isinstance(condition, Fault) and device is not None and approach is not None:
            return approach_id(device, approach)
        return device

    def _subject_exists(self, rule: str, subject_id: str) -> bool:
        """Whether a rule's subject is still there: a device in the registry, a group with
        members."""
        item = self._rules.get(rule)
        if item is None:
            return False
        if isinstance(item.rule.condition, Group):
            return subject_id in item.groups
        return subject_id.partition("#")[0] in self._registry

    # --- time --------------------------------------------------------------------------------

    def tick(self, now: datetime) -> list[Transition]:
        """What time alone changes: absence, windows emptying, ``for:`` running out, the sun."""
        out: list[Transition] = []
        book = self._book
        if self._state_since is None:
            self._state_since = now
        for fp in self._orphans:
            alert = book.get(fp)
            if alert is None:
                continue
            subject_id = self._subject_of(alert)
            if subject_id is None or not self._subject_exists(alert.rule, subject_id):
                book.end(out, alert, (alert.rule, subject_id or ""), now)
        self._orphans = []
        # due for: timers first, so an alert that inhibits others (camera offline) fires before
        # the symptoms it covers (camera silent) can be raised in this same pass
        book.fire_due(out, now)
        for item in self._rules.values():
            condition = item.rule.condition
            if isinstance(condition, Absent):
                self._tick_absent(out, item, condition, now)
            elif isinstance(condition, Group):
                self._tick_group(out, item, condition, now)
        for alert in book.values():
            if book.get(alert.fingerprint) is None:
                continue
            compiled = self._rules.get(alert.rule)
            if compiled is not None:
                self._tick_alert(out, compiled, alert, now)
        book.fire_due(out, now)
        return out

    def _tick_alert(
        self, out: list[Transition], item: CompiledRule, alert: Alert, now: datetime
    ) -> None:
        rule = item.rule
        condition = rule.condition
        subject_id = self._subject_of(alert)
        if subject_id is None:
            return
        key = (rule.name, subject_id)
        book = self._book
        record = self._registry.get(subject_id.partition("#")[0])
        if rule.when is not None and not book.gates.open(rule.when, now, record):
            book.close_gate(out, alert, key, now)
            if book.get(alert.fingerprint) is None:
                return
        stale_reading_at = None
        if item.stale_after is not None and item.mode is Mode.LATEST:
            latest = self._latest[Channel.TELEMETRY].get(subject_id)
            if latest is not None and now - latest[0] > item.stale_after:
                stale_reading_at = latest[0]
        book.expire(out, item, alert, key, now, stale_reading_at)
        if book.get(alert.fingerprint) is None:
            return
        if isinstance(condition, Threshold | EventRate) and (
            not isinstance(condition, Threshold) or condition.window is not None
        ):
            window = self._windows.get(rule.name, {}).get(subject_id) or Window()
            window.trim(epoch_us(now), item.window_us)
            subject = Subject.device(subject_id, record, alert.district)
            self._judge_windowed(out, item, subject, window, now, fresh=False)

    def _tick_absent(
        self, out: list[Transition], item: CompiledRule, condition: Absent, now: datetime
    ) -> None:
        baseline = self._started_at or now
        name = item.rule.name
        for device_id in item.selected:
            seen = self._last_received.get(device_id)
            alerted = (name, device_id) in self._book
            if seen is None and alerted:
                continue  # restored from before a restart: silent still, until it speaks
            last = seen or baseline
            silent = now - last
            active = silent > condition.after
            if active or alerted:
                record = self._registry.get(device_id)
                subject = Subject.device(device_id, record, record.district if record else "")
                silent_s = silent.total_seconds()
                verdict = Verdict(active, silent_s, {"silent_s": silent_s})
                self._book.settle(
                    out, item, subject, verdict, last + condition.after if active else now
                )

    def _tick_group(
        self, out: list[Transition], item: CompiledRule, condition: Group, now: datetime
    ) -> None:
        latest = self._latest[Channel.TELEMETRY]
        for key, group in item.groups.items():
            if item.stale_after is not None:
                for device_id in tuple(group.matching):
                    seen = latest.get(device_id)
                    if seen is not None and now - seen[0] > item.stale_after:
                        group.matching.discard(device_id)  # its reading no longer counts
            if condition.silent_after is not None:
                for device_id in group.members:
                    last = self._last_received.get(device_id, self._started_at or now)
                    if now - last > condition.silent_after:
                        group.matching.add(device_id)
            if group.matching or (item.rule.name, key) in self._book:
                self._judge_group(out, item, key, now)

    # --- operators ---------------------------------------------------------------------------

    def acknowledge(self, fp: str, by: str, at: datetime) -> Transition | None:
        """Mark a firing alert acknowledged; ``None`` when it is not firing (or already acked)."""
        return self._book.acknowledge(fp, by, at)
