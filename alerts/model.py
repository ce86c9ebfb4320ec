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
    # why a firing alert stands while its ``when:`` gate is closed ("gate closed at 06:12; held
    # until the gate opens"), and why a resolved one resolved when it was not its condition
    # letting go ("reading stale: none since 05:40"); kept in memory, not in the alert store
    held: str | None = None
    resolution: str | None = None

    @property
    def starts_at(self) -> datetime:
        """When the alert started firing (or, still pending, when its condition began)."""
        return self.fired_at or self.active_since


@dataclass(frozen=True, slots=True)
class AlertChange:
    """An announced change: the alert as it is after the change, what changed, and when.

    ``reannounced`` marks a change said again (on the engine's timer, or on demand) to a
    listener that already had it: the same ``at``, so whoever stores it overwrites itself.
    """

    alert: Alert
    change: ChangeKind
    at: datetime
    reannounced: bool = False


class Notifier(Protocol):
    """Whatever takes alert changes: MQTT publishing, the InfluxDB writer, notifications.

    The engine calls ``notify`` from a task of the listener's own, one change at a time and in
    order, never while it evaluates; a slow listener delays only itself. Raise on failure (or
    take longer than the engine's notify timeout): the engine logs it, and once the listener
    takes changes again it gets every change it missed and the current state of every firing
    alert (``reannounced``), oldest first. So ``notify`` must be idempotent: the same change may
    come twice (after a failure, and on the engine's re-announce timer).

    A listener whose ``notify`` may rightly take longer than the engine's notify timeout (the
    InfluxDB recorder waits for a write, then spools) says so with an optional attribute
    ``notify_timeout_s: float``.
    """

    async def notify(self, change: AlertChange) -> None:
        """Take one change; raise on failure (the engine logs it, and tells it again later)."""
        ...
