"""The incident service's shared base: state, and the helpers its parts build on."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Protocol

from alerts import Alert
from command.errors import IncidentUnchangeable, StepNotFound, TransitionRefused
from command.executors import CommandSender, NotificationSender
from command.model import (
    ALLOWED_TRANSITIONS,
    Incident,
    IncidentStatus,
    Performer,
    SpillForecast,
    StepState,
    TimelineKind,
    WaypointState,
)
from command.plans import Plan, PlanStep
from command.rules import IncidentRules
from command.spill import RiverCourse, river_course
from command.store import Entry, IncidentStore, NewStep, TimelineRow
from devices import DeviceRecord, Registry

__all__ = ["SYSTEM_ACTOR", "AnnotationSink", "IncidentBase", "alert_detail", "next_text"]

SYSTEM_ACTOR = "platform"
_GROUP_TAGS = ("cabinet", "junction", "section", "river")


class AnnotationSink(Protocol):
    """Takes timeline entries for the dashboards (the assembly's InfluxDB recorder)."""

    async def record(self, rows: Sequence[TimelineRow]) -> None:
        """Store a batch; raise on failure (the ticker retries them on its next tick)."""
        ...


class IncidentBase:
    """What the parts of the service share: the store, plans, rules, registry and clock, and
    the helpers that build incidents and timeline entries."""

    def __init__(
        self,
        store: IncidentStore,
        plans: Mapping[str, Plan],
        rules: IncidentRules,
        registry: Registry,
        *,
        notifications: NotificationSender | None = None,
        commands: CommandSender | None = None,
        annotations: AnnotationSink | None = None,
        tick_interval_s: float = 5.0,
        clock: Callable[[], datetime] | None = None,
        event_time: bool = False,
    ) -> None:
        self.store = store
        self.plans = dict(plans)
        self.rules = rules
        self.registry = registry
        self._notifications = notifications
        self._commands = commands
        self._annotations = annotations
        self._tick_interval_s = tick_interval_s
        self._clock = clock or (lambda: datetime.now(UTC))
        self._courses: dict[str, RiverCourse] = {}
        # with event time (a replay), whether a station missed the spill is judged by the
        # latest alert's time, not the wall clock: the replayed river runs on its own clock
        self._event_time = event_time
        self._latest_event: datetime | None = None

    def plan_for(self, incident_type: str) -> Plan | None:
        """The response plan for an incident type (the first by name)."""
        return next(
            (p for _, p in sorted(self.plans.items()) if p.incident_type == incident_type), None
        )

    # --- helpers ---------------------------------------------------------------------------------

    def _create(
        self,
        *,
        incident_type: str,
        severity: str,
        title: str,
        district: str,
        placement: Mapping[str, str],
        latitude: float | None,
        longitude: float | None,
        plan: Plan | None,
        at: datetime,
        by: str,
        alert: Alert | None,
        forecast: SpillForecast | None,
    ) -> int:
        # deadlines run from when the control room learns of it: the alert's time, or now for
        # an alert of a replayed past (its deadlines would all have passed already)
        basis = max(at, self._clock())
        steps = [
            NewStep(
                step_id=step.id,
                title=step.title,
                performer=Performer.PERSON if step.do == "person" else Performer.PLATFORM,
                action=step.do,
                due_at=basis + step.within if step.within is not None else None,
            )
            for step in (plan.steps if plan else ())
        ]
        plan_text = f", plan {plan.reference}" if plan else ", no plan"
        entries: list[Entry] = [
            (at, by, TimelineKind.OPENED, f"opened: {title}{plan_text}", {"type": incident_type})
        ]
        if alert is not None:
            entries.append(
                (
                    at,
                    SYSTEM_ACTOR,
                    TimelineKind.ALERT,
                    f"alert {alert.rule}: {alert.summary}",
                    alert_detail(alert),
                )
            )
        if forecast is not None:
            entries.append(
                (
                    at,
                    SYSTEM_ACTOR,
                    TimelineKind.FORECAST,
                    f"first seen at {forecast.origin}; " + next_text(forecast),
                    {"station": forecast.origin},
                )
            )
        return self.store.create(
            type_=incident_type,
            severity=severity,
            title=title,
            district=district,
            placement=placement,
            group_key=",".join(f"{k}={placement[k]}" for k in sorted(placement)),
            latitude=latitude,
            longitude=longitude,
            plan=plan.reference if plan else None,
            at=at,
            by=by,
            steps=steps,
            entries=entries,
            fingerprint=alert.fingerprint if alert is not None else None,
            forecast=forecast,
        )

    def _entry(
        self,
        actor: str,
        kind: TimelineKind,
        text: str,
        detail: Mapping[str, str],
        *,
        at: datetime | None = None,
    ) -> Entry:
        return (at or self._clock(), actor, kind, text, dict(detail))

    def _changeable(self, incident_id: int) -> Incident:
        incident = self.store.get(incident_id)
        if incident.status is IncidentStatus.CLOSED:
            raise IncidentUnchangeable(incident_id, "it is closed")
        return incident

    @staticmethod
    def _check_transition(incident: Incident, wanted: IncidentStatus) -> None:
        allowed = ALLOWED_TRANSITIONS[incident.status]
        if wanted not in allowed:
            raise TransitionRefused(
                incident.id, incident.status.value, wanted.value, tuple(s.value for s in allowed)
            )

    @staticmethod
    def _step(incident: Incident, step_id: str) -> StepState:
        step = incident.step(step_id)
        if step is None:
            raise StepNotFound(incident.id, step_id, tuple(s.step_id for s in incident.steps))
        return step

    def _plan(self, incident: Incident) -> Plan | None:
        if incident.plan is None:
            return None
        return self.plans.get(incident.plan.split("@")[0])

    def _plan_step(self, incident: Incident, step_id: str) -> PlanStep | None:
        plan = self._plan(incident)
        return next((s for s in plan.steps if s.id == step_id), None) if plan else None

    def _course(self, river: str) -> RiverCourse:
        course = self._courses.get(river)
        if course is None:
            course = river_course(
                self.registry, river, intakes=self.rules.intakes, fallback=self.rules.water(river)
            )
            self._courses[river] = course
        return course

    def _members(self, placement: Mapping[str, str]) -> list[DeviceRecord]:
        tag = next((t for t in _GROUP_TAGS if t in placement), None)
        if tag is None:
            return []
        return [r for r in self.registry.values() if getattr(r, tag) == placement[tag]]

    def _where(
        self, placement: Mapping[str, str], district: str, device: str | None
    ) -> tuple[float | None, float | None]:
        """The incident's place on the map: its device's, or the middle of its group."""
        records = [self.registry[device]] if device and device in self.registry else []
        records = [r for r in records or self._members(placement) if r.latitude is not None]
        if not records:
            return None, None
        latitude = sum(r.latitude or 0.0 for r in records) / len(records)
        longitude = sum(r.longitude or 0.0 for r in records) / len(records)
        return round(latitude, 6), round(longitude, 6)


def alert_detail(alert: Alert) -> dict[str, str]:
    detail = {"fingerprint": alert.fingerprint, "rule": alert.rule, "severity": alert.severity}
    device = alert.labels.get("device")
    if device:
        detail["device"] = device
    return detail


def next_text(forecast: SpillForecast) -> str:
    upcoming = forecast.next_expected()
    if upcoming is None:
        return "no place downstream left to reach"
    when = f" about {upcoming.expected_at:%H:%M} UTC" if upcoming.expected_at else ""
    places = [w for w in forecast.waypoints if w.state is WaypointState.EXPECTED]
    return f"next: {upcoming.name} ({upcoming.kind}){when}; {len(places)} place(s) downstream"
