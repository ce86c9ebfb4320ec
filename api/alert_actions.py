"""What an operator does to alerts from the page: acknowledge with a comment, silence for a
while, list the silences in force.

``StoreAlertActions`` does it the engine's way, as ``smartcity alerts ack|silence`` do: an
acknowledgement is queued in the engine's SQLite state and the running engine applies and
announces it on its next tick; a silence is stored there and mutes matching alerts' notifications
(they still fire and show). When the alert operations move to Alertmanager (``alerts``'
operations, issue 10), another ``AlertActions`` takes this one's place behind the same routes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from alerts import AlertState, AlertStore

__all__ = ["AlertActions", "AlertNotFiring", "SilenceView", "StoreAlertActions"]


class AlertNotFiring(Exception):
    """No firing alert has that fingerprint (it resolved, is pending, or never was)."""

    def __init__(self, fingerprint: str) -> None:
        super().__init__(f"no firing alert {fingerprint}")
        self.fingerprint = fingerprint


@dataclass(frozen=True, slots=True)
class SilenceView:
    """A silence in force, and the active alerts it mutes now."""

    id: str
    matchers: Mapping[str, str]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str
    mutes: tuple[str, ...]


class AlertActions(Protocol):
    """Acknowledge and silence; blocking, called from a thread."""

    def acknowledge(self, fingerprint: str, by: str, comment: str) -> None:
        """Someone is on it; ``AlertNotFiring`` when no firing alert has that fingerprint."""
        ...

    def silence(
        self, matchers: Mapping[str, str], duration: timedelta, by: str, comment: str
    ) -> SilenceView:
        """Mute notifications of alerts matching every label from now for ``duration``."""
        ...

    def silences(self) -> Sequence[SilenceView]:
        """Silences in force now."""
        ...


class StoreAlertActions:
    """``AlertActions`` on the engine's own state file (``alerts.AlertStore``)."""

    def __init__(self, store: AlertStore) -> None:
        self._store = store

    def acknowledge(self, fingerprint: str, by: str, comment: str) -> None:
        """Queue the acknowledgement; the engine applies and announces it on its next tick."""
        firing = [
            alert
            for alert in self._store.alerts()
            if alert.fingerprint == fingerprint and alert.state is AlertState.FIRING
        ]
        if not firing:
            raise AlertNotFiring(fingerprint)
        self._store.add_ack(fingerprint, by, comment, datetime.now(UTC))

    def silence(
        self, matchers: Mapping[str, str], duration: timedelta, by: str, comment: str
    ) -> SilenceView:
        """Store the silence; the engine mutes matching alerts' notifications from now."""
        now = datetime.now(UTC)
        made = self._store.add_silence(matchers, now, now + duration, by, comment)
        return self._view(made.id, now)

    def silences(self) -> Sequence[SilenceView]:
        """Silences in force, each with the active alerts it mutes."""
        now = datetime.now(UTC)
        active = self._store.alerts()
        return [
            SilenceView(
                id=str(silence.id),
                matchers=dict(silence.matchers),
                starts_at=silence.starts_at,
                ends_at=silence.ends_at,
                created_by=silence.created_by,
                comment=silence.comment,
                mutes=tuple(a.fingerprint for a in active if silence.mutes(a, now)),
            )
            for silence in self._store.silences(now)
        ]

    def _view(self, silence_id: int, now: datetime) -> SilenceView:
        for view in self.silences():
            if view.id == str(silence_id):
                return view
        raise LookupError(f"silence {silence_id} ended as it was made")  # pragma: no cover
