"""The incident service: the one interface the platform, the API and the CLI use.

::

    store = IncidentStore(settings.incidents_state_path)
    service = IncidentService(store, plans, rules, registry,
                              notifications=..., commands=..., annotations=...)
    engine = AlertEngine(..., listeners=[..., service])      # the auto-opener: a Notifier
    async with asyncio.TaskGroup() as group:
        group.create_task(service.run())                       # steps, deadlines, forecasts

    incident = await service.open_incident("lighting", title="Cabinet C-02 dark",
                                           district="centre", by="li.wei")
    await service.take(incident.id, by="li.wei")
    await service.note(incident.id, by="li.wei", text="crew on the way")
    await service.step_done(incident.id, "send-crew", by="li.wei", comment="van 3")
    await service.set_status(incident.id, IncidentStatus.DISPATCHED, by="li.wei")
    await service.escalate(incident.id, by="li.wei", reason="second cabinet down")
    await service.close(incident.id, by="li.wei", report="fuse replaced at 03:05")
    service.get(incident.id); service.list_incidents()   # frozen values; quick blocking reads

Every change is written to the store (SQLite) before it is announced; the platform's ticker
(``run``/``tick``) runs the plans' automatic steps, escalates overdue steps once, marks spill
stations missed, and exports new timeline entries to the annotation sink. Refusals raise
``command.errors`` (``TransitionRefused``, ``IncidentUnchangeable``, ``StepNotFound``,
``IncidentNotFound``, ``UnknownPlan``), whose text names what is allowed: an API answers them
with a 4xx carrying that text. ``command.incident_document`` is the incident as JSON.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import datetime

from alerts import Severity
from command.core import SYSTEM_ACTOR, AnnotationSink, IncidentBase
from command.errors import IncidentInvalid, IncidentUnchangeable, UnknownPlan
from command.model import (
    Incident,
    IncidentStatus,
    Performer,
    StepState,
    StepStatus,
    TimelineKind,
)
from command.opening import AlertOpening
from command.steps import StepRunning

__all__ = ["SYSTEM_ACTOR", "AnnotationSink", "IncidentService"]

log = logging.getLogger(__name__)
_EXPORT_KEY = "annotations_exported_to"


class IncidentService(AlertOpening, StepRunning, IncidentBase):
    """Incidents: opened by hand or from alerts, worked through their plans, closed."""

    # --- reading -----------------------------------------------------------------------------

    def get(self, incident_id: int) -> Incident:
        """One incident with its steps, alerts, timeline and forecast."""
        return self.store.get(incident_id)

    def list_incidents(self, *, include_closed: bool = False) -> list[Incident]:
        """Every incident not closed (and closed ones when asked), oldest first."""
        return [self.store.get(i) for i in self.store.ids(include_closed=include_closed)]

    # --- the operators' actions ----------------------------------------------------------------

    async def open_incident(
        self,
        incident_type: str,
        *,
        title: str,
        district: str,
        by: str,
        severity: str = "warning",
        placement: Mapping[str, str] | None = None,
        plan: str | None = None,
        latitude: float | None = None,
        longitude: float | None = None,
    ) -> Incident:
        """Open an incident by hand; its plan is ``plan`` or the type's plan."""
        if severity not in set(Severity):
            choices = ", ".join(level.value for level in Severity)
            raise IncidentInvalid("severity", f"{severity!r} is not one of {choices}")
        chosen = self.plans.get(plan) if plan else self.plan_for(incident_type)
        if plan and chosen is None:
            raise UnknownPlan(plan, tuple(sorted(self.plans)))
        if latitude is None and placement:
            latitude, longitude = self._where(placement, district, None)
        at = self._clock()
        incident_id = await asyncio.to_thread(
            self._create,
            incident_type=incident_type,
            severity=severity,
            title=title,
            district=district,
            placement=dict(placement or {}),
            latitude=latitude,
            longitude=longitude,
            plan=chosen,
            at=at,
            by=by,
            alert=None,
            forecast=None,
        )
        return self.store.get(incident_id)

    async def take(self, incident_id: int, *, by: str) -> Incident:
        """``by`` takes the incident: it is theirs now."""
        incident = self._changeable(incident_id)
        text = f"{by} took the incident"
        if incident.assignee and incident.assignee != by:
            text += f" from {incident.assignee}"
        entry = self._entry(by, TimelineKind.ASSIGNED, text, {})
        await asyncio.to_thread(self.store.update, incident_id, [entry], fields={"assignee": by})
        return self.store.get(incident_id)

    async def note(self, incident_id: int, *, by: str, text: str) -> Incident:
        """Add a note to the timeline."""
        self._changeable(incident_id)
        if not text.strip():
            raise IncidentUnchangeable(incident_id, "a note needs text")
        entry = self._entry(by, TimelineKind.NOTE, text.strip(), {})
        await asyncio.to_thread(self.store.update, incident_id, [entry])
        return self.store.get(incident_id)

    async def step_done(
        self, incident_id: int, step_id: str, *, by: str, comment: str = ""
    ) -> Incident:
        """Mark a plan step done by a person (a platform step that failed may be done by hand)."""
        incident = self._changeable(incident_id)
        step = self._step(incident, step_id)
        if step.status is StepStatus.DONE:
            raise IncidentUnchangeable(
                incident_id, f"step {step_id!r} was done by {step.done_by} already"
            )
        at = self._clock()
        text = f"step {step_id!r} done: {step.title}" + (f" ({comment})" if comment else "")
        entry = self._entry(by, TimelineKind.STEP, text, {"step": step_id}, at=at)
        changed = await asyncio.to_thread(
            self.store.update_step,
            incident_id,
            step_id,
            [entry],
            fields={"status": StepStatus.DONE, "done_by": by, "done_at": at, "comment": comment},
            only_if="status != 'done' AND status != 'running'",
        )
        if not changed:
            raise IncidentUnchangeable(
                incident_id, f"step {step_id!r} is being carried out by the platform"
            )
        return self.store.get(incident_id)

    async def escalate(self, incident_id: int, *, by: str, reason: str) -> Incident:
        """Escalate by hand: one level up, recorded, and the plan's escalation team told."""
        incident = self._changeable(incident_id)
        entry = self._entry(by, TimelineKind.ESCALATION, f"escalated by hand: {reason}", {})
        await asyncio.to_thread(self.store.escalate, incident_id, [entry])
        await self._tell_escalation(incident, reason, step_id="manual")
        return self.store.get(incident_id)

    async def set_status(
        self, incident_id: int, status: IncidentStatus, *, by: str, comment: str = ""
    ) -> Incident:
        """Move the incident along its workflow; anything but an allowed step is refused."""
        if status is IncidentStatus.CLOSED:
            return await self.close(incident_id, by=by, report=comment)
        incident = self.store.get(incident_id)
        self._check_transition(incident, status)
        text = f"status {incident.status.value} → {status.value}"
        if comment:
            text += f": {comment}"
        entry = self._entry(by, TimelineKind.STATUS, text, {"status": status.value})
        fields: dict[str, object] = {"status": status}
        if status is IncidentStatus.DISPATCHED and not incident.assignee:
            fields["assignee"] = by
        changed = await asyncio.to_thread(
            self.store.update, incident_id, [entry], fields=fields, expect_status=incident.status
        )
        if not changed:  # someone else moved it meanwhile: judge again against what it is now
            return await self.set_status(incident_id, status, by=by, comment=comment)
        return self.store.get(incident_id)

    async def close(self, incident_id: int, *, by: str, report: str) -> Incident:
        """Close a resolved incident with its short report (required)."""
        incident = self.store.get(incident_id)
        self._check_transition(incident, IncidentStatus.CLOSED)
        if not report.strip():
            raise IncidentUnchangeable(incident_id, "closing needs a short report")
        at = self._clock()
        entry = self._entry(
            by, TimelineKind.STATUS, f"closed: {report.strip()}", {"status": "closed"}, at=at
        )
        changed = await asyncio.to_thread(
            self.store.update,
            incident_id,
            [entry],
            fields={"status": IncidentStatus.CLOSED, "report": report.strip(), "closed_at": at},
            expect_status=incident.status,
        )
        if not changed:
            return await self.close(incident_id, by=by, report=report)
        return self.store.get(incident_id)

    # --- the auto-opener: a Notifier of the rule engine --------------------------------------

    # --- the ticker ------------------------------------------------------------------------------

    async def run(self) -> None:
        """Tick until cancelled. Steps cut off by a stop are marked failed first (a command or
        notification is not sent twice); a person can do them by hand."""
        await asyncio.to_thread(self._recover)
        while True:
            try:
                await self.tick()
            except Exception:  # the ticker's loop goes on: one bad tick must not end it
                log.exception("incident_tick_failed")
            await asyncio.sleep(self._tick_interval_s)

    async def tick(self, now: datetime | None = None) -> None:
        """Run pending platform steps, escalate overdue steps once, judge spill forecasts,
        export new timeline entries."""
        moment = now or self._clock()
        for incident_id in await asyncio.to_thread(self.store.ids):
            incident = await asyncio.to_thread(self.store.get, incident_id)
            if incident.status is IncidentStatus.RESOLVED:
                continue
            for step in incident.steps:
                if step.performer is Performer.PLATFORM and step.status is StepStatus.PENDING:
                    await self._run_step(incident, step)
            for step in self.store.get(incident_id).steps:
                if (
                    step.due_at is not None
                    and step.due_at < moment
                    and step.status is not StepStatus.DONE
                    and step.escalated_at is None
                ):
                    await self._escalate_step(incident, step, moment)
            river_now = self._latest_event if self._event_time else moment
            if incident.forecast is not None and river_now is not None:
                await asyncio.to_thread(self._judge_forecast, incident_id, river_now)
        await self._withdraw_notifications(moment)
        await self._export()

    async def _withdraw_notifications(self, now: datetime) -> None:
        """Resolve the notifications of incidents resolved or closed (here or from the CLI)."""
        if self._notifications is None:
            return
        for incident_id in sorted(self._notifications.incidents()):
            incident = await asyncio.to_thread(self.store.get, incident_id)
            if incident.status in (IncidentStatus.RESOLVED, IncidentStatus.CLOSED):
                await self._notifications.withdraw(incident_id, now)

    def _recover(self) -> None:
        for incident_id in self.store.ids():
            for step in self.store.get(incident_id).steps:
                if step.status is StepStatus.RUNNING:
                    entry = self._entry(
                        SYSTEM_ACTOR,
                        TimelineKind.STEP,
                        f"step {step.step_id!r} was cut off by a restart: do it by hand",
                        {"step": step.step_id},
                    )
                    self.store.update_step(
                        incident_id,
                        step.step_id,
                        [entry],
                        fields={"status": StepStatus.FAILED, "result": "cut off by a restart"},
                        only_if="status = 'running'",
                    )

    async def _escalate_step(self, incident: Incident, step: StepState, now: datetime) -> None:
        text = f"step {step.step_id!r} overdue since {step.due_at:%H:%M:%S}: {step.title}"
        entry = self._entry(
            SYSTEM_ACTOR, TimelineKind.ESCALATION, text, {"step": step.step_id}, at=now
        )
        claimed = await asyncio.to_thread(
            self.store.update_step,
            incident.id,
            step.step_id,
            [entry],
            fields={"escalated_at": now},
            only_if="escalated_at IS NULL AND status != 'done'",
            escalate=True,
        )
        if not claimed:
            return
        log.warning("incident_step_overdue", extra={"incident": incident.id, "step": step.step_id})
        await self._tell_escalation(incident, text, step_id=step.step_id)

    def _judge_forecast(self, incident_id: int, now: datetime) -> None:
        incident = self.store.get(incident_id)
        if incident.forecast is None:
            return
        course = self._course(incident.forecast.river)
        updated = course.overdue(incident.forecast, now, self.rules.spill_margin)
        if updated == incident.forecast:
            return
        missed = [
            w.name
            for old, w in zip(incident.forecast.waypoints, updated.waypoints, strict=True)
            if old.state is not w.state
        ]
        entry = self._entry(
            SYSTEM_ACTOR,
            TimelineKind.FORECAST,
            f"{', '.join(missed)} did not confirm the spill by the expected time",
            {"missed": ",".join(missed)},
            at=now,
        )
        self.store.update(incident_id, [entry], fields={"forecast": updated})

    async def _export(self) -> None:
        if self._annotations is None:
            return
        after = int(await asyncio.to_thread(self.store.meta, _EXPORT_KEY) or 0)
        rows = await asyncio.to_thread(self.store.timeline_after, after, 500)
        if not rows:
            return
        await self._annotations.record(rows)
        await asyncio.to_thread(self.store.set_meta, _EXPORT_KEY, str(rows[-1].entry.id))
