"""An alert as one JSON-ready document: what MQTT subscribers, webhooks and ``smartcity alerts
list --json`` all receive, built in one place so they never drift apart."""

from __future__ import annotations

from typing import Any

from alerts.model import Alert, AlertChange

__all__ = ["alert_document", "change_document"]


def alert_document(alert: Alert, *, silenced: bool | None = None) -> dict[str, Any]:
    """The alert as it is: who, what, since when; times are ISO 8601 with their offset.

    ``silenced`` is Alertmanager's verdict where it is known (``smartcity alerts list``): the
    engine itself keeps no silences, so a change announced by the engine carries none."""
    document = {
        "fingerprint": alert.fingerprint,
        "rule": alert.rule,
        "state": alert.state.value,
        "severity": alert.severity,
        "district": alert.district,
        "kind": alert.kind.value,
        "labels": dict(alert.labels),
        "summary": alert.summary,
        "runbook": alert.runbook,
        "value": alert.value,
        "active_since": alert.active_since.isoformat(),
        "starts_at": alert.fired_at.isoformat() if alert.fired_at else None,
        "ends_at": alert.resolved_at.isoformat() if alert.resolved_at else None,
        "acknowledged_by": alert.acknowledged_by,
    }
    if silenced is not None:
        document["silenced"] = silenced
    return document


def change_document(change: AlertChange) -> dict[str, Any]:
    """An announced change: what changed and when, then the alert's document."""
    return {
        "change": change.change.value,
        "at": change.at.isoformat(),
        "reannounced": change.reannounced,
        **alert_document(change.alert),
    }
