"""The plans' automatic steps: notifications and downlink commands, tracked to their result."""

from __future__ import annotations

import asyncio
import logging
import uuid

from command.core import SYSTEM_ACTOR, IncidentBase
from command.executors import StepNotification
from command.model import Incident, StepState, StepStatus, TimelineKind
from command.plans import PlanStep
from devices import CommandAction, DeviceRecord, Kind

__all__ = ["StepRunning"]

log = logging.getLogger(__name__)
_COMMAND_KIND = {
    CommandAction.DIM: Kind.STREETLIGHT,
    CommandAction.SET_PLAN: Kind.TRAFFIC_SIGNAL,
    CommandAction.SET_MODE: Kind.TRAFFIC_SIGNAL,
}


class StepRunning(IncidentBase):
    """The service's side that carries out platform steps and tells teams."""

    async def _run_step(self, incident: Incident, step: StepState) -> None:
        plan_step = self._plan_step(incident, step.step_id)
        if plan_step is None:  # the plan was edited under a running incident
            reason = f"no longer in plan {incident.plan}: do it by hand"
            entry = self._entry(
                SYSTEM_ACTOR, TimelineKind.STEP, f"step {step.step_id!r} {reason}", {}
            )
            await asyncio.to_thread(
                self.store.update_step,
                incident.id,
                step.step_id,
                [entry],
                fields={"status": StepStatus.FAILED, "result": reason},
                only_if="status = 'pending'",
            )
            return
        claimed = await asyncio.to_thread(
            self.store.update_step,
            incident.id,
            step.step_id,
            [],
            fields={"status": StepStatus.RUNNING},
            only_if="status = 'pending'",
        )
        if not claimed:
            return
        if plan_step.notify is not None:
            kind, ok, result, detail = await self._notify_step(incident, plan_step)
        else:
            kind, ok, result, detail = await self._command_step(incident, plan_step)
        at = self._clock()
        entry = self._entry(
            SYSTEM_ACTOR, kind, f"step {step.step_id!r}: {result}", {"step": step.step_id, **detail}
        )
        await asyncio.to_thread(
            self.store.update_step,
            incident.id,
            step.step_id,
            [entry],
            fields={
                "status": StepStatus.DONE if ok else StepStatus.FAILED,
                "result": result,
                "done_by": SYSTEM_ACTOR,
                "done_at": at,
            },
            only_if="status = 'running'",
        )
        log.info(
            "incident_step_run",
            extra={"incident": incident.id, "step": step.step_id, "ok": ok},
        )

    async def _notify_step(
        self, incident: Incident, step: PlanStep
    ) -> tuple[TimelineKind, bool, str, dict[str, str]]:
        assert step.notify is not None
        if self._notifications is None:
            return TimelineKind.NOTIFICATION, False, "no notification channel is wired", {}
        text = step.notify.text.format_map(_Placement(incident.placement))
        try:
            result = await self._notifications.send(
                self._notification(incident, step.notify.team, text, step.id)
            )
        except Exception as exc:  # a failed step is recorded, and the ticker goes on
            log.warning("incident_notification_failed", extra={"incident": incident.id})
            return TimelineKind.NOTIFICATION, False, f"not sent: {exc}", {"team": step.notify.team}
        return TimelineKind.NOTIFICATION, True, result, {"team": step.notify.team}

    async def _command_step(
        self, incident: Incident, step: PlanStep
    ) -> tuple[TimelineKind, bool, str, dict[str, str]]:
        spec = step.command
        assert spec is not None
        if self._commands is None:
            return TimelineKind.COMMAND, False, "no command channel is wired", {}
        targets = self._targets(incident, spec.action, spec.targets)
        if not targets:
            return TimelineKind.COMMAND, False, f"no devices for {spec.targets}", {}
        command = spec.build(f"inc{incident.id}-{uuid.uuid4().hex[:12]}")
        try:
            outcomes = await self._commands.send(targets, command, timeout_s=spec.timeout_s)
        except Exception as exc:  # a failed step is recorded, and the ticker goes on
            log.warning("incident_command_failed", extra={"incident": incident.id})
            return TimelineKind.COMMAND, False, f"not sent: {exc}", {}
        done = [o.device_id for o in outcomes if o.ok]
        failed = [f"{o.device_id} ({o.detail})" for o in outcomes if not o.ok]
        result = f"{spec.action.value} on {len(done)}/{len(outcomes)} devices confirmed"
        if failed:
            result += "; failed: " + ", ".join(failed)
        detail = {"command_id": command.command_id, "confirmed": ",".join(done)}
        return TimelineKind.COMMAND, not failed, result, detail

    async def _tell_escalation(self, incident: Incident, reason: str, *, step_id: str) -> None:
        plan = self._plan(incident)
        team = plan.escalate_to if plan is not None else "duty-officer"
        text = f"Incident #{incident.id} ({incident.title}) escalated: {reason}"
        try:
            if self._notifications is None:
                raise RuntimeError("no notification channel is wired")
            result = await self._notifications.send(
                self._notification(incident, team, text, step_id)
            )
            entry = self._entry(
                SYSTEM_ACTOR,
                TimelineKind.NOTIFICATION,
                f"escalation: {result}",
                {"team": team},
            )
        except Exception as exc:  # recorded on the timeline; the escalation itself stands
            entry = self._entry(
                SYSTEM_ACTOR,
                TimelineKind.NOTIFICATION,
                f"escalation not sent: {exc}",
                {"team": team},
            )
        await asyncio.to_thread(self.store.update, incident.id, [entry])

    def _targets(self, incident: Incident, action: CommandAction, which: str) -> list[DeviceRecord]:
        kind = _COMMAND_KIND.get(action)
        tag = next((t for t in ("cabinet", "junction") if t in incident.placement), None)
        if tag is None:
            return []
        value = incident.placement[tag]
        found = []
        for record in self.registry.values():
            if kind is not None and record.kind is not kind:
                continue
            own = getattr(record, tag)
            if own is None:
                continue
            if (which == "incident_group" and own == value) or (
                which == "neighbouring_groups"
                and own != value
                and (record.district == incident.district)
            ):
                found.append(record)
        return found

    def _notification(
        self, incident: Incident, team: str, text: str, step_id: str
    ) -> StepNotification:
        kinds = {
            "lighting": Kind.STREETLIGHT,
            "environmental": Kind.WATER_QUALITY,
            "traffic": Kind.TRAFFIC_SIGNAL,
        }
        return StepNotification(
            incident_id=incident.id,
            incident_type=incident.type,
            severity=incident.severity,
            district=incident.district,
            kind=kinds.get(incident.type),
            team=team,
            text=text,
            step_id=step_id,
            at=self._clock(),
            placement=dict(incident.placement),
        )


class _Placement(dict[str, str]):
    """Plan texts name the incident's group (``{cabinet}``); an unknown name stays as written."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"
