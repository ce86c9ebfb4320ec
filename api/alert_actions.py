"""What an operator does to alerts from the page: acknowledge with a comment, silence for a
while, list the silences in force.

``OperationsAlertActions`` does it through ``alerts.AlertOperations``, the one implementation
the ``smartcity alerts`` commands use too: an acknowledgement silences exactly that alert in
Alertmanager until it resolves and records who is on it in the engine (which announces it on its
next tick); a silence lives in Alertmanager and mutes notifications of matching alerts, which
still fire and show. Which alerts a silence mutes is Alertmanager's own verdict.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from alerts import (
    AlertNotFound,
    AlertOperations,
    Matcher,
    acknowledged_fingerprint,
)

__all__ = ["AlertActions", "AlertNotFiring", "OperationsAlertActions", "SilenceView"]

# The platform's names for two labels that Alertmanager holds under its own (as
# ``alerts.alertmanager_labels`` renames them; ``smartcity alerts silence --match`` takes both)
_ALERTMANAGER_NAMES = {"rule": "alertname", "device": "device_id"}


class AlertNotFiring(Exception):
    """No firing alert has that fingerprint (it resolved, is pending, or never was)."""

    def __init__(self, fingerprint: str) -> None:
        super().__init__(f"no firing alert {fingerprint}")
        self.fingerprint = fingerprint


@dataclass(frozen=True, slots=True)
class SilenceView:
    """A silence in force, the active alerts it mutes now, and the alert it acknowledges (an
    acknowledgement's own silence) if any."""

    id: str
    matchers: Mapping[str, str]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str
    mutes: tuple[str, ...]
    acknowledges: str | None


class AlertActions(Protocol):
    """Acknowledge and silence."""

    async def acknowledge(self, fingerprint: str, by: str, comment: str) -> None:
        """Someone is on it; ``AlertNotFiring`` when no firing alert has that fingerprint."""
        ...

    async def silence(
        self, matchers: Mapping[str, str], duration: timedelta, by: str, comment: str
    ) -> SilenceView:
        """Mute notifications of alerts matching every label from now for ``duration``."""
        ...

    async def silences(self) -> Sequence[SilenceView]:
        """Silences in force now."""
        ...


class OperationsAlertActions:
    """``AlertActions`` through ``alerts.AlertOperations`` (the engine's state + Alertmanager).

    Alertmanager errors pass through: ``AlertmanagerUnavailable`` (none configured, or none
    answers), ``AlertmanagerRefused`` (a matcher or time it will not take)."""

    def __init__(self, operations: AlertOperations) -> None:
        self._operations = operations

    async def acknowledge(self, fingerprint: str, by: str, comment: str) -> None:
        """Silence exactly that alert until it resolves and record who is on it."""
        try:
            await self._operations.acknowledge(fingerprint, by, comment)
        except AlertNotFound as exc:
            raise AlertNotFiring(fingerprint) from exc

    async def silence(
        self, matchers: Mapping[str, str], duration: timedelta, by: str, comment: str
    ) -> SilenceView:
        """A silence in Alertmanager from now for ``duration``; ``rule`` and ``device`` may name
        ``alertname`` and ``device_id``."""
        now = datetime.now(UTC)
        named = {_ALERTMANAGER_NAMES.get(name, name): value for name, value in matchers.items()}
        made = await self._operations.silence(
            [Matcher(name, value) for name, value in sorted(named.items())],
            starts_at=now,
            ends_at=now + duration,
            created_by=by,
            comment=comment,
        )
        for view in await self.silences():
            if view.id == made:
                return view
        # in force from now, so it is listed; if a cluster member has not heard of it yet:
        return SilenceView(made, named, now, now + duration, by, comment, (), None)

    async def silences(self) -> Sequence[SilenceView]:
        """Silences in force, each with the active alerts Alertmanager says it mutes."""
        found = await self._operations.silences()
        active = await self._operations.active()
        return [
            SilenceView(
                id=silence.id,
                matchers={m.name: m.value for m in silence.matchers},
                starts_at=silence.starts_at,
                ends_at=silence.ends_at,
                created_by=silence.created_by,
                comment=silence.comment,
                mutes=tuple(
                    view.alert.fingerprint
                    for view in active
                    if view.status is not None and silence.id in view.status.silenced_by
                ),
                acknowledges=acknowledged_fingerprint(silence),
            )
            for silence in found
        ]
