"""Alert lifecycle: pending → firing → resolved, and acknowledged by an operator.

The ``AlertBook`` holds the active alerts, by fingerprint and by (rule, subject). ``settle``
takes a verdict about a subject and moves its alert along; what changed comes back as
``Transition`` values, in order. The moves, as Prometheus' ``rules/alerting.go`` makes them
with sparse samples in mind:

- a pending alert fires once ``for:`` has run out *and* ``for_samples`` matching samples came in
  a row, on a fresh sample (a tick fires only conditions that hold as time passes: absence,
  offline, a latched fault, a rate, a group); a sample that does not match resets it;
- a firing alert whose condition stops holding stays firing ``keep_firing_for`` (nothing is
  announced if it holds again meanwhile), then resolves;
- a ``when:`` gate that closes resets a pending alert; a firing one whose last judged sample
  still matched is *held* (same alert, ack kept) until the gate opens and a fresh sample
  decides;
- a last-value reading older than ``stale_after`` no longer counts: pending resets, firing
  resolves (after ``keep_firing_for``) saying the reading went stale.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from alerts.evaluate.compile import CompiledRule
from alerts.evaluate.gates import TimeGates
from alerts.evaluate.inhibit import inhibited
from alerts.evaluate.subject import Subject, Verdict
from alerts.model import Alert, AlertState, ChangeKind, fingerprint
from alerts.rules import Rule

__all__ = ["AlertBook", "Transition"]


@dataclass(frozen=True, slots=True)
class Transition:
    """An alert after a change. ``change`` is set for announced changes; ``dropped`` marks a
    pending alert whose condition let go before ``for:`` ran out (persisted, not announced)."""

    alert: Alert
    change: ChangeKind | None
    dropped: bool = False


class _Missing(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "?"


class _Track:
    """What the book remembers of one active alert between judgements (not persisted: after a
    restart a firing alert starts with a fresh track)."""

    __slots__ = ("cleared_at", "matched", "samples")

    def __init__(self, samples: int) -> None:
        self.samples = samples  # matching samples in a row (pending)
        self.matched = True  # whether the latest judgement found the condition holding
        self.cleared_at: datetime | None = None  # when a firing alert's condition let go


class AlertBook:
    """The active alerts and the moves between their states."""

    def __init__(self, gates: TimeGates) -> None:
        self.rules: Mapping[str, CompiledRule] = {}
        self.gates = gates
        self._alerts: dict[str, Alert] = {}
        self._by_subject: dict[tuple[str, str], str] = {}
        self._tracks: dict[str, _Track] = {}  # by fingerprint
        # (rule, subject id) of every active alert, for the evaluator's hot path (read only)
        self.keys: Mapping[tuple[str, str], str] = self._by_subject

    # --- reading -----------------------------------------------------------------------------

    def __contains__(self, key: tuple[str, str]) -> bool:
        """Whether (rule, subject id) has an active alert."""
        return key in self._by_subject

    def of(self, rule: str, subject_id: str) -> Alert | None:
        """The active alert of a rule about a subject, if any."""
        fp = self._by_subject.get((rule, subject_id))
        return self._alerts.get(fp) if fp is not None else None

    def get(self, fp: str) -> Alert | None:
        """The active alert with this fingerprint, if any."""
        return self._alerts.get(fp)

    def values(self) -> list[Alert]:
        """Every active alert (a copy: settling may change the book)."""
        return list(self._alerts.values())

    def restore(self, alert: Alert, subject_id: str | None) -> None:
        """Take back an alert from the persisted state."""
        self._alerts[alert.fingerprint] = alert
        if subject_id is not None:
            self._by_subject[(alert.rule, subject_id)] = alert.fingerprint

    # --- moves -------------------------------------------------------------------------------

    def settle(
        self,
        out: list[Transition],
        item: CompiledRule,
        subject: Subject,
        verdict: Verdict,
        at: datetime,
        *,
        fresh: bool = True,
    ) -> None:
        """Apply a verdict judged at ``at``: raise, update, fire, hold or end the subject's
        alert of this rule. ``fresh``: the verdict comes from a sample that just arrived (or,
        for conditions that hold as time passes, from the clock); ``False`` for a tick
        re-judging samples it already had."""
        rule = item.rule
        key = (rule.name, subject.id)
        fp = self._by_subject.get(key)
        if fp is None and not verdict.active:
            return  # the common case: nothing wrong, nothing to do
        current = self._alerts.get(fp) if fp is not None else None
        if rule.when is not None and not self.gates.open(rule.when, at, subject.record):
            if current is not None:
                self.close_gate(out, current, key, at)
            return
        if current is None:
            if fresh or item.fires_on_tick:
                self._raise(out, item, subject, verdict, at, key, samples=1 if fresh else 0)
            return
        track = self._track(current.fingerprint)
        if not verdict.active:
            if current.state is AlertState.PENDING:
                self.end(out, current, key, at)
            elif fresh or current.held is None:  # a held alert waits for a fresh sample
                self._let_go(out, item, current, track, key, at)
            return
        track.matched = True
        track.cleared_at = None
        if current.state is AlertState.PENDING:
            if fresh:
                track.samples += 1
            current = replace(
                current, value=verdict.value, summary=render(rule, current.labels, verdict)
            )
            self._alerts[current.fingerprint] = current
            self.maybe_fire(out, current, at, fresh=fresh)
        elif current.held is not None and fresh:
            # the gate opened and a fresh sample says the cause is still there: firing goes on
            opened = replace(current, held=None, value=verdict.value)
            self._alerts[current.fingerprint] = opened
            out.append(Transition(opened, None))

    def _raise(
        self,
        out: list[Transition],
        item: CompiledRule,
        subject: Subject,
        verdict: Verdict,
        at: datetime,
        key: tuple[str, str],
        *,
        samples: int,
    ) -> None:
        rule = item.rule
        labels = {**rule.labels, **subject.labels(), "district": subject.district}
        labels["kind"] = rule.kind.value
        fp = fingerprint(rule.name, labels)
        current = Alert(
            fingerprint=fp,
            rule=rule.name,
            kind=rule.kind,
            district=subject.district,
            severity=rule.severity.value,
            labels=labels,
            state=AlertState.PENDING,
            active_since=at,
            fired_at=None,
            resolved_at=None,
            value=verdict.value,
            summary=render(rule, labels, verdict),
            runbook=rule.runbook,
        )
        self._alerts[fp] = current
        self._by_subject[key] = fp
        self._tracks[fp] = _Track(samples)
        out.append(Transition(current, None))
        self.maybe_fire(out, current, at, fresh=True)

    def _track(self, fp: str) -> _Track:
        track = self._tracks.get(fp)
        if track is None:  # restored from the store
            track = self._tracks[fp] = _Track(0)
        return track

    def _let_go(
        self,
        out: list[Transition],
        item: CompiledRule,
        alert: Alert,
        track: _Track,
        key: tuple[str, str],
        at: datetime,
        resolution: str | None = None,
    ) -> None:
        """A firing alert's condition stopped holding: resolve it, or keep it firing for
        ``keep_firing_for`` from the moment it let go."""
        track.matched = False
        keep = item.rule.keep_firing_for
        if keep:
            if track.cleared_at is None:
                track.cleared_at = at
            if at - track.cleared_at < keep:
                return
        self.end(out, alert, key, at, resolution=resolution)

    def maybe_fire(
        self, out: list[Transition], alert: Alert, at: datetime, *, fresh: bool = False
    ) -> None:
        """Fire a pending alert whose ``for:`` has run out on enough samples in a row, unless
        it is inhibited. Without a fresh sample only time-held conditions fire."""
        item = self.rules.get(alert.rule)
        if item is None or (not fresh and not item.fires_on_tick):
            return
        rule = item.rule
        if at - alert.active_since < rule.for_:
            return
        if rule.for_samples > 1 and self._track(alert.fingerprint).samples < rule.for_samples:
            return
        if inhibited(item, alert, self._alerts.values()):
            return
        fired = replace(alert, state=AlertState.FIRING, fired_at=at)
        self._alerts[alert.fingerprint] = fired
        out.append(Transition(fired, ChangeKind.FIRING))

    def fire_due(self, out: list[Transition], at: datetime) -> None:
        """Fire every pending alert of a time-held condition whose ``for:`` has run out."""
        for alert in self.values():
            if alert.state is AlertState.PENDING:
                self.maybe_fire(out, alert, at)

    def close_gate(
        self, out: list[Transition], alert: Alert, key: tuple[str, str], at: datetime
    ) -> None:
        """The rule's gate is closed at ``at``: reset a pending alert; hold a firing one whose
        cause was still there (resolve it if its condition had already let go)."""
        if alert.state is AlertState.PENDING:
            self.end(out, alert, key, at)
            return
        if alert.held is not None:
            return
        track = self._tracks.get(alert.fingerprint)
        if track is not None and not track.matched:
            self.end(out, alert, key, at)
            return
        local = self.gates.local_time(at).strftime("%H:%M")
        held = replace(alert, held=f"gate closed at {local}; held until the gate opens")
        self._alerts[alert.fingerprint] = held
        out.append(Transition(held, None))

    def expire(
        self,
        out: list[Transition],
        item: CompiledRule,
        alert: Alert,
        key: tuple[str, str],
        now: datetime,
        stale_reading_at: datetime | None,
    ) -> None:
        """What the clock alone ends: ``keep_firing_for`` running out; the latest reading gone
        stale (``stale_reading_at``: its sample time, when it is older than ``stale_after``)."""
        track = self._tracks.get(alert.fingerprint)
        stale_after = item.rule.stale_after
        if stale_reading_at is not None and stale_after is not None:
            if alert.state is AlertState.PENDING:
                self.end(out, alert, key, now)
                return
            track = track or self._track(alert.fingerprint)
            stale_since = stale_reading_at + stale_after
            if track.cleared_at is None or stale_since < track.cleared_at:
                track.cleared_at = stale_since
            since = self.gates.local_time(stale_reading_at).strftime("%H:%M")
            reason = f"reading stale: none since {since}"
            self._let_go(out, item, alert, track, key, now, resolution=reason)
            return
        if (
            track is not None
            and track.cleared_at is not None
            and alert.state is AlertState.FIRING
            and now - track.cleared_at >= item.rule.keep_firing_for
        ):
            self.end(out, alert, key, now)

    def end(
        self,
        out: list[Transition],
        alert: Alert,
        key: tuple[str, str],
        at: datetime,
        *,
        resolution: str | None = None,
    ) -> None:
        """Resolve a firing alert; drop a pending one (its condition let go before ``for:``)."""
        del self._alerts[alert.fingerprint]
        self._by_subject.pop(key, None)
        self._tracks.pop(alert.fingerprint, None)
        if alert.state is AlertState.PENDING:
            out.append(Transition(alert, None, dropped=True))
            return
        resolved = replace(
            alert,
            state=AlertState.RESOLVED,
            resolved_at=max(at, alert.starts_at),
            held=None,
            resolution=resolution,
        )
        out.append(Transition(resolved, ChangeKind.RESOLVED))

    def acknowledge(self, fp: str, by: str, at: datetime) -> Transition | None:
        """Mark a firing alert acknowledged; ``None`` when it is not firing (or already acked)."""
        alert = self._alerts.get(fp)
        if alert is None or alert.state is not AlertState.FIRING or alert.acknowledged_by:
            return None
        acked = replace(alert, acknowledged_by=by, acknowledged_at=at)
        self._alerts[fp] = acked
        return Transition(acked, ChangeKind.ACKNOWLEDGED)


def render(rule: Rule, labels: Mapping[str, str], verdict: Verdict) -> str:
    """The alert's summary: the rule's template filled from labels, value and extras."""
    context = _Missing(labels)
    context.update(verdict.extras)
    context.update(rule=rule.name, severity=rule.severity.value)
    context["value"] = verdict.value if verdict.value is not None else float("nan")
    try:
        return rule.summary.format_map(context)
    except (ValueError, TypeError):
        return rule.summary  # a format spec that does not fit the value: show the template


def sorted_by_age(alerts: Iterable[Alert]) -> list[Alert]:
    """Alerts oldest first."""
    return sorted(alerts, key=lambda alert: alert.active_since)
