"""An incident as one JSON-ready document: what ``smartcity incidents show --json`` prints and
what the operators' API can return, built in one place so they never drift apart."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from command.model import Incident, SpillForecast

__all__ = ["incident_document"]


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _forecast(forecast: SpillForecast | None) -> dict[str, Any] | None:
    if forecast is None:
        return None
    upcoming = forecast.next_expected()
    return {
        "river": forecast.river,
        "origin": forecast.origin,
        "origin_section": forecast.origin_section,
        "seen_at": _iso(forecast.seen_at),
        "flow_m_s": forecast.flow_m_s,
        "next": upcoming.name if upcoming is not None else None,
        "waypoints": [
            {
                "name": w.name,
                "kind": w.kind,
                "section": w.section,
                "km_from_origin": w.km_from_origin,
                "expected_at": _iso(w.expected_at),
                "state": w.state.value,
                "seen_at": _iso(w.seen_at),
            }
            for w in forecast.waypoints
        ],
    }


def incident_document(incident: Incident, *, timeline: bool = True) -> dict[str, Any]:
    """The incident with its steps, alerts, forecast and (unless asked not to) its timeline."""
    done = sum(1 for step in incident.steps if step.status.value == "done")
    document: dict[str, Any] = {
        "id": incident.id,
        "type": incident.type,
        "severity": incident.severity,
        "title": incident.title,
        "status": incident.status.value,
        "district": incident.district,
        "placement": dict(incident.placement),
        "latitude": incident.latitude,
        "longitude": incident.longitude,
        "assignee": incident.assignee,
        "plan": incident.plan,
        "progress": {"done": done, "total": len(incident.steps)},
        "escalation_level": incident.escalation_level,
        "opened_at": _iso(incident.opened_at),
        "opened_by": incident.opened_by,
        "updated_at": _iso(incident.updated_at),
        "closed_at": _iso(incident.closed_at),
        "report": incident.report,
        "alerts": list(incident.alerts),
        "steps": [
            {
                "id": step.step_id,
                "title": step.title,
                "performer": step.performer.value,
                "action": step.action,
                "status": step.status.value,
                "due_at": _iso(step.due_at),
                "done_by": step.done_by,
                "done_at": _iso(step.done_at),
                "comment": step.comment,
                "result": step.result,
                "escalated_at": _iso(step.escalated_at),
            }
            for step in incident.steps
        ],
        "forecast": _forecast(incident.forecast),
    }
    if timeline:
        document["timeline"] = [
            {
                "id": entry.id,
                "at": _iso(entry.at),
                "actor": entry.actor,
                "kind": entry.kind.value,
                "text": entry.text,
                "detail": dict(entry.detail),
            }
            for entry in incident.timeline
        ]
    return document
