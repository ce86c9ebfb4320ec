"""Alert lifecycle: pending → firing → resolved, and acknowledged by an operator.

The ``AlertBook`` holds the active alerts, by fingerprint and by (rule, subject). ``settle``
takes a verdict about a subject and moves its alert along; what changed comes back as
``Transition`` values, in order.
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


class AlertBook:
    """The active alerts and the moves between their states."""

    def __init__(self, gates: TimeGates) -> None:
        self.rules: Mapping[str, CompiledRule] = {}
        self.gates = gates
        self._alerts: dict[str, Alert] = {}
        self._by_subject: dict[tuple[str, str], str] = {}
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
    ) -> None:
        """Apply a verdict: raise, update, fire or end the subject's alert of this rule."""
        rule = item.rule
        key = (rule.name, subject.id)
        active = verdict.active
        if not active and key not in self._by_subject:
            return  # the common case: nothing wrong, nothing to do
        fp = self._by_subject.get(key)
        current = self._alerts.get(fp) if fp is not None else None
        if active and rule.when is not None and not self.gates.open(rule.when, at):
            active = False
        if not active:
            if current is not None:
                self.end(out, current, key, at)
            return
        if current is None:
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
            out.append(Transition(current, None))
        elif current.state is AlertState.PENDING:
            current = replace(
                current, value=verdict.value, summary=render(rule, current.labels, verdict)
            )
            self._alerts[current.fingerprint] = current
        if current.state is AlertState.PENDING:
            self.maybe_fire(out, current, at)

    def maybe_fire(self, out: list[Transition], alert: Alert, at: datetime) -> None:
        """Fire a pending alert whose ``for:`` has run out, unless it is inhibited."""
        item = self.rules.get(alert.rule)
        if item is None or at - alert.active_since < item.rule.for_:
            return
        if inhibited(item, alert, self._alerts.values()):
            return
        fired = replace(alert, state=AlertState.FIRING, fired_at=at)
        self._alerts[alert.fingerprint] = fired
        out.append(Transition(fired, ChangeKind.FIRING))

    def fire_due(self, out: list[Transition], at: datetime) -> None:
        """Fire every pending alert whose ``for:`` has run out."""
        for alert in self.values():
            if alert.state is AlertState.PENDING:
                self.maybe_fire(out, alert, at)

    def end(self, out: list[Transition], alert: Alert, key: tuple[str, str], at: datetime) -> None:
        """Resolve a firing alert; drop a pending one (its condition let go before ``for:``)."""
        del self._alerts[alert.fingerprint]
        self._by_subject.pop(key, None)
        if alert.state is AlertState.PENDING:
            out.append(Transition(alert, None, dropped=True))
            return
        resolved = replace(alert, state=AlertState.RESOLVED, resolved_at=max(at, alert.starts_at))
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
