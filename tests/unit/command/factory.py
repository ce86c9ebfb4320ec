"""Building the incident service for tests: the shipped plans and rules, the demo registry,
a clock the test moves by hand, alert changes as the rule engine announces them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

from alerts import Alert, AlertChange, AlertState, ChangeKind, fingerprint
from command import IncidentService, IncidentStore, load_incident_rules, load_plans
from devices import Kind, Registry, load_registry

ROOT = Path(__file__).resolve().parents[3]
T0 = datetime(2024, 6, 20, 18, 10, tzinfo=UTC)


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def fleet() -> Registry:
    return load_registry(ROOT / "config" / "fleet.yaml")


def service(
    path: Path, clock: FakeClock, registry: Registry | None = None, *, event_time: bool = False
) -> IncidentService:
    """A service on the store at ``path`` with the shipped plans and incident rules."""
    plans = load_plans(ROOT / "config" / "plans")
    rules = load_incident_rules(ROOT / "config" / "incidents.yaml", plans)
    return IncidentService(
        IncidentStore(path),
        plans,
        rules,
        registry or fleet(),
        clock=clock,
        tick_interval_s=0.01,
        event_time=event_time,
    )


def change(
    rule: str,
    labels: Mapping[str, str],
    *,
    at: datetime,
    kind: Kind = Kind.STREETLIGHT,
    severity: str = "critical",
    district: str = "centre",
    what: ChangeKind = ChangeKind.FIRING,
) -> AlertChange:
    """An alert change as the engine announces it."""
    resolved = what is ChangeKind.RESOLVED
    alert = Alert(
        fingerprint=fingerprint(rule, labels),
        rule=rule,
        kind=kind,
        district=district,
        severity=severity,
        labels=dict(labels),
        state=AlertState.RESOLVED if resolved else AlertState.FIRING,
        active_since=at,
        fired_at=at,
        resolved_at=at if resolved else None,
        value=None,
        summary=f"{rule} {dict(labels)}",
        runbook="",
    )
    return AlertChange(alert=alert, change=what, at=at)


def power_cut(at: datetime, cabinet: str = "C-02", **extra: str) -> AlertChange:
    return change("cabinet-power-lost", {"team": "lighting", "cabinet": cabinet, **extra}, at=at)


def water(rule: str, station: str, section: str, at: datetime) -> AlertChange:
    labels = {
        "team": "environment",
        "device": station,
        "river": "zhongtang-waterway",
        "section": section,
    }
    return change(rule, labels, at=at, kind=Kind.WATER_QUALITY, district="zhongtang")
