"""Incidents and what happens to them: the values every caller of the service sees.

Status workflow::

    open ──▶ dispatched ──▶ on_site ──▶ resolved ──▶ closed (with a report)
      └──────────┴─────────────┴──────▶ resolved ──▶ dispatched (the trouble came back)

Anything else is refused (``TransitionRefused`` names what is allowed).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

__all__ = [
    "ALLOWED_TRANSITIONS",
    "Incident",
    "IncidentStatus",
    "Performer",
    "SpillForecast",
    "StepState",
    "StepStatus",
    "TimelineEntry",
    "TimelineKind",
    "Waypoint",
    "WaypointState",
]


class IncidentStatus(StrEnum):
    """Where an incident is in its life."""

    OPEN = "open"
    DISPATCHED = "dispatched"
    ON_SITE = "on_site"
    RESOLVED = "resolved"
    CLOSED = "closed"


ALLOWED_TRANSITIONS: Mapping[IncidentStatus, tuple[IncidentStatus, ...]] = {
    IncidentStatus.OPEN: (IncidentStatus.DISPATCHED, IncidentStatus.RESOLVED),
    IncidentStatus.DISPATCHED: (IncidentStatus.ON_SITE, IncidentStatus.RESOLVED),
    IncidentStatus.ON_SITE: (IncidentStatus.RESOLVED,),
    # a resolved incident whose trouble comes back goes out again; closing needs a report
    IncidentStatus.RESOLVED: (IncidentStatus.CLOSED, IncidentStatus.DISPATCHED),
    IncidentStatus.CLOSED: (),
}


class TimelineKind(StrEnum):
    """What a timeline entry records."""

    OPENED = "opened"
    ALERT = "alert"
    NOTIFICATION = "notification"
    COMMAND = "command"
    NOTE = "note"
    STEP = "step"
    STATUS = "status"
    ASSIGNED = "assigned"
    ESCALATION = "escalation"
    FORECAST = "forecast"


class Performer(StrEnum):
    """Who carries a plan step out: a person marks it done, the platform runs it."""

    PERSON = "person"
    PLATFORM = "platform"


class StepStatus(StrEnum):
    """A step's progress; ``running`` is a platform step under way (or cut off by a restart)."""

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One thing that happened to an incident: who, when, what."""

    id: int
    at: datetime
    actor: str
    kind: TimelineKind
    text: str
    detail: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StepState:
    """A plan step as it stands in one incident."""

    step_id: str
    position: int
    title: str
    performer: Performer
    action: str  # "person", "notify" or "command"
    due_at: datetime | None
    status: StepStatus
    done_by: str | None = None
    done_at: datetime | None = None
    comment: str = ""
    result: str = ""
    escalated_at: datetime | None = None


class WaypointState(StrEnum):
    """Whether a place downstream has seen the spill: expected, confirmed by its own alert,
    or missed (no alert by its expected time plus the margin)."""

    EXPECTED = "expected"
    CONFIRMED = "confirmed"
    MISSED = "missed"


@dataclass(frozen=True, slots=True)
class Waypoint:
    """A station or intake downstream of a spill and when the spill should reach it."""

    name: str
    kind: str  # "station" or "intake"
    section: str
    km_from_origin: float
    expected_at: datetime | None  # None: the river's lengths or flow are unknown
    state: WaypointState = WaypointState.EXPECTED
    seen_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class SpillForecast:
    """Where a spill goes next, from the first station that saw it, in river order."""

    river: str
    origin: str  # the first station that saw it
    origin_section: str
    seen_at: datetime
    flow_m_s: float | None
    waypoints: tuple[Waypoint, ...]

    def next_expected(self) -> Waypoint | None:
        """The first place downstream still waiting for the spill."""
        return next((w for w in self.waypoints if w.state is WaypointState.EXPECTED), None)


@dataclass(frozen=True, slots=True)
class Incident:
    """One incident: what, where, who has it, where it stands, and everything that happened."""

    id: int
    type: str
    severity: str
    title: str
    district: str
    placement: Mapping[str, str]  # the group it is about: {"cabinet": "C-02"}, {"river": "jade"}
    latitude: float | None
    longitude: float | None
    status: IncidentStatus
    assignee: str | None
    plan: str | None  # "cabinet-power-cut@1"
    opened_at: datetime
    opened_by: str
    updated_at: datetime
    closed_at: datetime | None = None
    report: str = ""
    escalation_level: int = 0
    alerts: tuple[str, ...] = ()  # fingerprints, in the order they joined
    steps: tuple[StepState, ...] = ()
    timeline: tuple[TimelineEntry, ...] = ()
    forecast: SpillForecast | None = None

    @property
    def group_key(self) -> str:
        """``cabinet=C-02``: with the type, what a new alert must share to join."""
        return ",".join(f"{key}={self.placement[key]}" for key in sorted(self.placement))

    def step(self, step_id: str) -> StepState | None:
        """One step by its plan id."""
        return next((s for s in self.steps if s.step_id == step_id), None)
