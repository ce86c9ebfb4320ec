"""An alert as one JSON-ready document: what MQTT subscribers, webhooks and ``smartcity alerts
list --json`` all receive, built in one place so they never drift apart; and read back
(``parse_change_document``) by whoever takes the changes from MQTT (emergency command)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, ValidationError

from alerts.errors import AlertDocumentInvalid
from alerts.model import Alert, AlertChange, AlertState, ChangeKind
from devices import Kind, describe_validation_error

__all__ = ["alert_document", "change_document", "parse_change_document"]


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


class _ChangeDocument(BaseModel):
    """``change_document``'s shape, read back; fields added later are let through."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    change: ChangeKind
    at: datetime
    reannounced: bool = False
    fingerprint: str
    rule: str
    state: AlertState
    severity: str
    district: str
    kind: Kind
    labels: dict[str, str]
    summary: str
    runbook: str
    value: float | None
    active_since: datetime
    starts_at: datetime | None
    ends_at: datetime | None
    acknowledged_by: str | None = None


def parse_change_document(payload: bytes, *, source: str) -> AlertChange:
    """An announced change from its JSON (``change_document``'s output); anything else raises
    ``AlertDocumentInvalid`` naming ``source`` (the topic) and the field."""
    try:
        raw = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise AlertDocumentInvalid(source, f"not JSON: {exc}") from exc
    try:
        document = _ChangeDocument.model_validate(raw)
    except ValidationError as exc:
        raise AlertDocumentInvalid(source, describe_validation_error(exc)) from exc
    for name in ("at", "active_since", "starts_at", "ends_at"):
        moment = getattr(document, name)
        if moment is not None and moment.tzinfo is None:
            raise AlertDocumentInvalid(source, f"{name}: needs a UTC offset")
    alert = Alert(
        fingerprint=document.fingerprint,
        rule=document.rule,
        kind=document.kind,
        district=document.district,
        severity=document.severity,
        labels=document.labels,
        state=document.state,
        active_since=document.active_since,
        fired_at=document.starts_at,
        resolved_at=document.ends_at,
        value=document.value,
        summary=document.summary,
        runbook=document.runbook,
        acknowledged_by=document.acknowledged_by,
    )
    return AlertChange(alert, document.change, document.at, document.reannounced)
