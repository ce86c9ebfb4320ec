"""Alerts and their changes: the values the engine hands to everyone downstream."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from devices import Kind

__all__ = ["Alert", "AlertChange", "AlertState", "ChangeKind", "Notifier", "fingerprint"]


class AlertState(StrEnum):
    """Where an alert is in its life: pending (waiting out ``for:``), firing, resolved."""

    PENDING = "pending"
    FIRING = "firing"
    RESOLVED = "resolved"


class ChangeKind(StrEnum):
    """What happened to an alert: the changes that are announced."""

    FIRING = "firing"
    RESOLVED = "resolved"
    ACKNOWLEDGED = "acknowledged"


def fingerprint(rule: str, labels: Mapping[str, str]) -> str:
    """A stable id from the rule and its labels: the same trouble gets the same fingerprint."""
    text = rule + "\x00" + "\x00".join(f"{key}={labels[key]}" for key in sorted(labels))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert: which rule, about whom (labels), since when, and the value that triggered it."""

    fingerprint: str
    rule: str
    kind: Kind
    district: str
    severity: str
    labels: Mapping[str, str]
    state: AlertState
    active_since: datetime
    fired_at: datetime | None
    resolved_at: datetime | None
    value: float | None
    summary: str
    runbook: str
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None

    @property
    def starts_at(self) -> datetime:
        """When the alert started firing (or, still pending, when its condition began)."""
        return self.fired_at or self.active_since


@dataclass(frozen=True, slots=True)
class AlertChange:
    """An announced change: the alert as it is after the change, what changed, and when."""

    alert: Alert
    change: ChangeKind
    at: datetime


class Notifier(Protocol):
    """Whatever takes alert changes: MQTT publishing, the InfluxDB writer, notifications."""

    async def notify(self, change: AlertChange) -> None:
        """Take one change; raise on failure (the engine logs it and goes on)."""
        ...
