"""The auto-opener: alert changes open incidents, join them, and confirm a spill's stations."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import datetime

from alerts import Alert, AlertChange, ChangeKind
from command.core import SYSTEM_ACTOR, IncidentBase, alert_detail, next_text
from command.model import TimelineKind
from command.rules import Opener
from command.store import Entry

__all__ = ["AlertOpening"]

log = logging.getLogger(__name__)
_SEVERITY_RANK = {"info": 0, "warning": 1, "critical": 2}


class AlertOpening(IncidentBase):
    """The service's side that listens to the rule engine (a ``Notifier``)."""

    async def notify(self, change: AlertChange) -> None:
        """An alert changed: it joins the open incident of its type and group, or opens one
        when an incident rule says so; its later changes are recorded on its incidents."""
        if self._latest_event is None or change.at > self._latest_event:
            self._latest_event = change.at
        await asyncio.to_thread(self._on_change, change)

    def _on_change(self, change: AlertChange) -> None:
        alert = change.alert
        if change.change is not ChangeKind.FIRING:
            for incident_id in self.store.incident_of_alert(alert.fingerprint):
                text = f"alert {alert.rule} {change.change.value}: {alert.summary}"
                detail = {**alert_detail(alert), "change": change.change.value}
                entry = self._entry(SYSTEM_ACTOR, TimelineKind.ALERT, text, detail, at=change.at)
                self.store.update(incident_id, [entry])
            return
        for opener in self.rules.openers:
            if not opener.matches(alert) or not self._upstream_of_intake(opener, alert):
                continue
            placement = opener.placement(alert)
            group_key = ",".join(f"{k}={placement[k]}" for k in sorted(placement))
            existing = self.store.find_open(opener.type, group_key)
            if existing is not None:
                self._join(existing, alert, change.at)
            else:
                self._open_from(opener, alert, placement, change.at)

    def _upstream_of_intake(self, opener: Opener, alert: Alert) -> bool:
        if not opener.upstream_of_intake:
            return True
        river, section = alert.labels.get("river"), alert.labels.get("section")
        if not river or not section:
            return False
        return self._course(river).has_intake_below(section)

    def _open_from(
        self, opener: Opener, alert: Alert, placement: Mapping[str, str], at: datetime
    ) -> None:
        forecast = None
        device = alert.labels.get("device")
        if opener.forecast == "spill" and device:
            forecast = self._course(placement["river"]).forecast(device, at)
        latitude, longitude = self._where(placement, alert.district, device)
        incident_id = self._create(
            incident_type=opener.type,
            severity=alert.severity,
            title=opener.title_for(alert),
            district=alert.district,
            placement=placement,
            latitude=latitude,
            longitude=longitude,
            plan=self.plans.get(opener.plan) if opener.plan else self.plan_for(opener.type),
            at=at,
            by=SYSTEM_ACTOR,
            alert=alert,
            forecast=forecast,
        )
        log.info(
            "incident_opened",
            extra={"incident": incident_id, "type": opener.type, "rule": alert.rule},
        )

    def _join(self, incident_id: int, alert: Alert, at: datetime) -> None:
        entry = self._entry(
            SYSTEM_ACTOR,
            TimelineKind.ALERT,
            f"alert {alert.rule} joined: {alert.summary}",
            alert_detail(alert),
            at=at,
        )
        if not self.store.join_alert(incident_id, alert.fingerprint, entry):
            # one of its own alerts firing again after it resolved is worth a line; the same
            # announcement twice is not
            about = [
                e
                for e in self.store.get(incident_id).timeline
                if e.detail.get("fingerprint") == alert.fingerprint
            ]
            if about and about[-1].detail.get("change") == ChangeKind.RESOLVED.value:
                again = f"alert {alert.rule} firing again: {alert.summary}"
                self.store.update(
                    incident_id,
                    [
                        self._entry(
                            SYSTEM_ACTOR, TimelineKind.ALERT, again, alert_detail(alert), at=at
                        )
                    ],
                )
            return
        incident = self.store.get(incident_id)
        fields: dict[str, object] = {}
        entries: list[Entry] = []
        if _SEVERITY_RANK.get(alert.severity, 0) > _SEVERITY_RANK.get(incident.severity, 0):
            fields["severity"] = alert.severity
        device = alert.labels.get("device")
        if incident.forecast is not None and device:
            course = self._course(incident.forecast.river)
            updated = course.confirm(incident.forecast, device, at)
            if updated != incident.forecast:
                fields["forecast"] = updated
                entries.append(
                    self._entry(
                        SYSTEM_ACTOR,
                        TimelineKind.FORECAST,
                        f"{device} confirms the spill; " + next_text(updated),
                        {"station": device},
                        at=at,
                    )
                )
        if fields or entries:
            self.store.update(incident_id, entries, fields=fields)
