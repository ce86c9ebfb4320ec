"""The incident routes' bodies: what an operator sends, and the incident as the API shows it
(frozen pydantic models; OpenAPI is drawn from them). Times are UTC, written with ``Z``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from alerts import Severity
from command import Incident, StepStatus

__all__ = [
    "CloseIn",
    "EscalateIn",
    "ForecastOut",
    "IncidentIn",
    "IncidentOut",
    "IncidentSummaryOut",
    "NoteIn",
    "StatusIn",
    "StepDoneIn",
    "StepOut",
    "TakeIn",
    "TimelineEntryOut",
    "WaypointOut",
]

_FROZEN = ConfigDict(frozen=True)
# read from the service's frozen dataclasses by attribute: the field names are the same
_FROM_SERVICE = ConfigDict(frozen=True, from_attributes=True)
_BODY = ConfigDict(extra="forbid", frozen=True)


def _not_blank(text: str) -> str:
    if not text.strip():
        raise ValueError("must not be blank")
    return text.strip()


Text = Annotated[str, Field(min_length=1, max_length=2_000), AfterValidator(_not_blank)]


# --- what an operator sends -------------------------------------------------------------------


class IncidentIn(BaseModel):
    """An incident opened by hand; its plan is the type's plan (``config/plans``)."""

    model_config = _BODY

    type: str = Field(
        pattern=r"^[a-z][a-z0-9_-]{0,31}$", description="lighting, environmental, traffic, ..."
    )
    title: Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_not_blank)]
    district: str = Field(pattern=r"^[a-z0-9-]{1,32}$", description="one of the city's districts")
    severity: Severity = Severity.WARNING
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)


class TakeIn(BaseModel):
    """Taking an incident needs nothing but the token: the caller becomes its assignee."""

    model_config = _BODY


class NoteIn(BaseModel):
    """A note for the timeline."""

    model_config = _BODY

    text: Text


class StepDoneIn(BaseModel):
    """A plan step marked done, with an optional word on how."""

    model_config = _BODY

    comment: str = Field(default="", max_length=2_000)


class EscalateIn(BaseModel):
    """An escalation by hand: one level up, and the plan's escalation team told why."""

    model_config = _BODY

    reason: Text


class StatusIn(BaseModel):
    """A move along the workflow; closing is ``POST /incidents/{id}/close`` (it needs a report)."""

    model_config = _BODY

    status: Literal["dispatched", "on_site", "resolved"]
    comment: str = Field(default="", max_length=2_000)


class CloseIn(BaseModel):
    """Closing a resolved incident, with its short report."""

    model_config = _BODY

    report: Text


# --- what the API answers ---------------------------------------------------------------------


class StepOut(BaseModel):
    """A plan step as it stands in one incident."""

    model_config = _FROM_SERVICE

    step_id: str
    position: int
    title: str
    performer: str = Field(description="person or platform")
    action: str = Field(description="person, notify or command")
    due_at: datetime | None
    status: str = Field(description="pending, running, done or failed")
    done_by: str | None
    done_at: datetime | None
    comment: str
    result: str
    escalated_at: datetime | None


class TimelineEntryOut(BaseModel):
    """One thing that happened: when, who (a token's name, or ``platform``), what."""

    model_config = _FROM_SERVICE

    id: int
    at: datetime
    actor: str
    kind: str = Field(
        description="opened, alert, notification, command, note, step, status, assigned,"
        " escalation or forecast"
    )
    text: str
    detail: dict[str, str]


class WaypointOut(BaseModel):
    """A station or intake downstream of a spill, and when the spill should reach it."""

    model_config = _FROM_SERVICE

    name: str
    kind: str = Field(description="station or intake")
    section: str
    km_from_origin: float
    expected_at: datetime | None = Field(description="null: the river's lengths are unknown")
    state: str = Field(description="expected, confirmed or missed")
    seen_at: datetime | None


class ForecastOut(BaseModel):
    """Where a spill goes next, from the first station that saw it, in river order."""

    model_config = _FROM_SERVICE

    river: str
    origin: str
    origin_section: str
    seen_at: datetime
    flow_m_s: float | None
    waypoints: list[WaypointOut]


class IncidentSummaryOut(BaseModel):
    """An incident in a list: what, where, who has it, and how far its plan has come."""

    model_config = _FROZEN

    id: int
    type: str
    severity: str
    title: str
    district: str
    status: str = Field(description="open, dispatched, on_site, resolved or closed")
    assignee: str | None
    plan: str | None = Field(description='the plan and its version, "cabinet-power-cut@1"')
    opened_at: datetime
    updated_at: datetime
    escalation_level: int
    latitude: float | None
    longitude: float | None
    placement: dict[str, str] = Field(description='what it is about: {"cabinet": "C-02"}')
    steps_done: int
    steps_total: int
    next_due_at: datetime | None = Field(description="the earliest deadline of a step not done")

    @staticmethod
    def fields_of(incident: Incident) -> dict[str, object]:
        """The summary's fields, for this model and the full one."""
        open_deadlines = [
            step.due_at
            for step in incident.steps
            if step.due_at is not None and step.status is not StepStatus.DONE
        ]
        return {
            "id": incident.id,
            "type": incident.type,
            "severity": incident.severity,
            "title": incident.title,
            "district": incident.district,
            "status": incident.status.value,
            "assignee": incident.assignee,
            "plan": incident.plan,
            "opened_at": incident.opened_at,
            "updated_at": incident.updated_at,
            "escalation_level": incident.escalation_level,
            "latitude": incident.latitude,
            "longitude": incident.longitude,
            "placement": dict(incident.placement),
            "steps_done": sum(1 for s in incident.steps if s.status is StepStatus.DONE),
            "steps_total": len(incident.steps),
            "next_due_at": min(open_deadlines, default=None),
        }

    @classmethod
    def of(cls, incident: Incident) -> IncidentSummaryOut:
        """From the service's value."""
        return cls.model_validate(cls.fields_of(incident))


class IncidentOut(IncidentSummaryOut):
    """An incident whole: the summary, its alerts, steps, timeline and spill forecast."""

    opened_by: str
    closed_at: datetime | None
    report: str
    alerts: list[str] = Field(description="the fingerprints of its alerts, in joining order")
    steps: list[StepOut]
    timeline: list[TimelineEntryOut]
    forecast: ForecastOut | None

    @classmethod
    def of(cls, incident: Incident) -> IncidentOut:
        """From the service's value."""
        return cls.model_validate(
            {
                **IncidentSummaryOut.fields_of(incident),
                "opened_by": incident.opened_by,
                "closed_at": incident.closed_at,
                "report": incident.report,
                "alerts": list(incident.alerts),
                "steps": incident.steps,
                "timeline": incident.timeline,
                "forecast": incident.forecast,
            }
        )
