"""Alerts as the engine hands them over, for the notification tests."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from alerts import (
    Alert,
    AlertChange,
    AlertmanagerConfig,
    AlertState,
    ChangeKind,
    fingerprint,
)
from devices import Kind


def make_alert(
    rule: str,
    labels: dict[str, str],
    *,
    kind: Kind = Kind.STREETLIGHT,
    severity: str = "warning",
    team: str = "lighting",
    summary: str | None = None,
    at: datetime | None = None,
) -> Alert:
    """A firing alert of ``rule`` with the engine's labels (team, kind, district included)."""
    at = at or datetime.now(UTC)
    full = {"team": team, "district": labels.get("district", "centre"), "kind": kind.value}
    full.update(labels)
    return Alert(
        fingerprint=fingerprint(rule, full),
        rule=rule,
        kind=kind,
        district=full["district"],
        severity=severity,
        labels=full,
        state=AlertState.FIRING,
        active_since=at,
        fired_at=at,
        resolved_at=None,
        value=1.0,
        summary=summary or f"{rule} {labels}",
        runbook=f"https://runbooks.smartcity.example/{rule}",
    )


def fired(alert: Alert) -> AlertChange:
    """The engine's announcement that ``alert`` fires."""
    return AlertChange(alert, ChangeKind.FIRING, alert.starts_at)


def resolved(alert: Alert, at: datetime | None = None) -> AlertChange:
    """The engine's announcement that ``alert`` resolved."""
    at = at or datetime.now(UTC)
    done = replace(alert, state=AlertState.RESOLVED, resolved_at=at)
    return AlertChange(done, ChangeKind.RESOLVED, at)


def cabinet_alert(cabinet: str, lights: int) -> Alert:
    """cabinet-power-lost as the engine raises it: one alert for the cabinet."""
    return make_alert(
        "cabinet-power-lost",
        {"cabinet": cabinet},
        severity="critical",
        summary=f"Cabinet {cabinet}: {lights} of {lights} lights without power (100 %)",
    )


def lamp_alert(device: str, cabinet: str, rule: str = "streetlight-offline") -> Alert:
    """A lamp's own alert, as it would fire if the cabinet's alert did not hold it back."""
    return make_alert(
        rule,
        {"device": device, "cabinet": cabinet},
        severity="info",
        summary=f"Light {device} offline",
    )


def notifier_config(*urls: str, resend_interval_s: float = 60.0) -> AlertmanagerConfig:
    """Quick retries, so a test's outage is short."""
    return AlertmanagerConfig(
        urls=urls,
        queue_max=10_000,
        batch_max=256,
        resend_interval_s=resend_interval_s,
        timeout_s=2.0,
        retry_initial_s=0.2,
        retry_max_s=1.0,
        shutdown_timeout_s=5.0,
    )
