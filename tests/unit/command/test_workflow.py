"""An incident's life: the status workflow, notes, steps, closing, and what a restart keeps."""

from __future__ import annotations

import asyncio

import pytest

from command import (
    IncidentInvalid,
    IncidentNotFound,
    IncidentStatus,
    IncidentUnchangeable,
    StepNotFound,
    StepStatus,
    TimelineKind,
    TransitionRefused,
)
from tests.unit.command.factory import FakeClock, service


async def opened(tmp_path, clock):
    incidents = service(tmp_path / "incidents.sqlite", clock)
    incident = await incidents.open_incident(
        "lighting",
        title="Cabinet C-02 dark",
        district="centre",
        by="li.wei",
        placement={"cabinet": "C-02"},
    )
    return incidents, incident


async def test_an_incident_goes_from_open_to_closed_and_the_timeline_shows_every_change(tmp_path):
    clock = FakeClock()
    incidents, incident = await opened(tmp_path, clock)
    assert incident.status is IncidentStatus.OPEN
    assert incident.plan == "cabinet-power-cut@1"
    await incidents.take(incident.id, by="li.wei")
    clock.advance(minutes=1)
    await incidents.set_status(incident.id, IncidentStatus.DISPATCHED, by="li.wei")
    await incidents.note(incident.id, by="li.wei", text="van 3 on the way")
    await incidents.step_done(incident.id, "send-crew", by="li.wei", comment="van 3")
    await incidents.set_status(incident.id, IncidentStatus.ON_SITE, by="zhang.min")
    await incidents.set_status(incident.id, IncidentStatus.RESOLVED, by="zhang.min")
    closed = await incidents.close(incident.id, by="li.wei", report="fuse replaced at 02:45")

    assert closed.status is IncidentStatus.CLOSED
    assert closed.report == "fuse replaced at 02:45"
    assert closed.assignee == "li.wei"
    assert [(e.actor, e.kind.value, e.text) for e in closed.timeline] == [
        ("li.wei", "opened", "opened: Cabinet C-02 dark, plan cabinet-power-cut@1"),
        ("li.wei", "assigned", "li.wei took the incident"),
        ("li.wei", "status", "status open → dispatched"),
        ("li.wei", "note", "van 3 on the way"),
        ("li.wei", "step", "step 'send-crew' done: Send a crew to the cabinet (van 3)"),
        ("zhang.min", "status", "status dispatched → on_site"),
        ("zhang.min", "status", "status on_site → resolved"),
        ("li.wei", "status", "closed: fuse replaced at 02:45"),
    ]
    step = closed.step("send-crew")
    assert step is not None
    assert (step.status, step.done_by, step.comment) == (StepStatus.DONE, "li.wei", "van 3")


async def test_a_status_change_out_of_order_is_refused_naming_what_is_allowed(tmp_path):
    incidents, incident = await opened(tmp_path, FakeClock())
    with pytest.raises(TransitionRefused) as refused:
        await incidents.set_status(incident.id, IncidentStatus.ON_SITE, by="li.wei")
    assert str(refused.value) == (
        f"incident #{incident.id} is open: cannot go to on_site (allowed: dispatched, resolved)"
    )
    with pytest.raises(TransitionRefused, match="cannot go to closed"):
        await incidents.close(incident.id, by="li.wei", report="done")
    assert incidents.get(incident.id).status is IncidentStatus.OPEN


async def test_closing_needs_a_report_and_a_closed_incident_takes_no_more_changes(tmp_path):
    incidents, incident = await opened(tmp_path, FakeClock())
    await incidents.set_status(incident.id, IncidentStatus.RESOLVED, by="li.wei")
    with pytest.raises(IncidentUnchangeable, match="closing needs a short report"):
        await incidents.close(incident.id, by="li.wei", report="  ")
    await incidents.close(incident.id, by="li.wei", report="false alarm: feeder test")
    with pytest.raises(IncidentUnchangeable, match="it is closed"):
        await incidents.note(incident.id, by="li.wei", text="late note")
    with pytest.raises(TransitionRefused, match=r"allowed: none: the incident is closed"):
        await incidents.set_status(incident.id, IncidentStatus.DISPATCHED, by="li.wei")


async def test_a_resolved_incident_whose_trouble_returns_goes_out_again(tmp_path):
    incidents, incident = await opened(tmp_path, FakeClock())
    await incidents.set_status(incident.id, IncidentStatus.RESOLVED, by="li.wei")
    again = await incidents.set_status(
        incident.id, IncidentStatus.DISPATCHED, by="li.wei", comment="dark again"
    )
    assert again.status is IncidentStatus.DISPATCHED
    assert again.timeline[-1].text == "status resolved → dispatched: dark again"


async def test_unknown_steps_and_incidents_are_named(tmp_path):
    incidents, incident = await opened(tmp_path, FakeClock())
    with pytest.raises(StepNotFound) as missing:
        await incidents.step_done(incident.id, "fly-drone", by="li.wei")
    assert str(missing.value) == (
        f"incident #{incident.id} has no step 'fly-drone'; its steps: notify-lighting-crew,"
        " dim-neighbours-full, send-crew, confirm-restored"
    )
    with pytest.raises(IncidentNotFound, match="no incident #99"):
        incidents.get(99)
    await incidents.step_done(incident.id, "send-crew", by="li.wei")
    with pytest.raises(IncidentUnchangeable, match=r"'send-crew' was done by li\.wei already"):
        await incidents.step_done(incident.id, "send-crew", by="zhang.min")


async def test_a_restart_in_the_middle_of_an_incident_loses_nothing_of_its_timeline(tmp_path):
    clock = FakeClock()
    incidents, incident = await opened(tmp_path, clock)
    await incidents.take(incident.id, by="li.wei")
    await incidents.set_status(incident.id, IncidentStatus.DISPATCHED, by="li.wei")
    await incidents.note(incident.id, by="li.wei", text="crew left the depot")
    before = incidents.get(incident.id)
    incidents.store.close()

    restarted = service(tmp_path / "incidents.sqlite", clock)
    after = restarted.get(incident.id)
    assert after == before
    assert [e.kind for e in after.timeline] == [
        TimelineKind.OPENED,
        TimelineKind.ASSIGNED,
        TimelineKind.STATUS,
        TimelineKind.NOTE,
    ]
    await restarted.set_status(incident.id, IncidentStatus.ON_SITE, by="li.wei")
    assert restarted.get(incident.id).status is IncidentStatus.ON_SITE


async def test_an_overdue_step_escalates_once_not_once_per_tick_or_restart(tmp_path):
    clock = FakeClock()
    incidents, incident = await opened(tmp_path, clock)
    clock.advance(minutes=31)  # send-crew is due 30 min after opening; the others earlier
    await incidents.tick()
    await incidents.tick()
    incidents.store.close()
    for _ in range(3):  # three restarts, each ticking twice
        restarted = service(tmp_path / "incidents.sqlite", clock)
        clock.advance(minutes=1)
        await restarted.tick()
        await restarted.tick()
        restarted.store.close()

    final = service(tmp_path / "incidents.sqlite", clock).get(incident.id)
    escalations = [e.text for e in final.timeline if e.kind is TimelineKind.ESCALATION]
    assert escalations == [
        "step 'notify-lighting-crew' overdue since 18:12:00: Tell the lighting maintenance crew",
        "step 'dim-neighbours-full' overdue since 18:15:00: Neighbouring cabinets' lights to 100 %",
        "step 'send-crew' overdue since 18:40:00: Send a crew to the cabinet",
    ]
    assert final.escalation_level == 3


async def test_a_step_done_in_time_does_not_escalate(tmp_path):
    clock = FakeClock()
    incidents, incident = await opened(tmp_path, clock)
    await incidents.step_done(incident.id, "send-crew", by="li.wei")
    clock.advance(hours=1)
    await incidents.tick()
    escalated = {
        e.detail["step"]
        for e in incidents.get(incident.id).timeline
        if e.kind is TimelineKind.ESCALATION
    }
    assert "send-crew" not in escalated
    assert "confirm-restored" not in escalated  # due after 2 h


async def test_a_manual_escalation_raises_the_level_and_is_recorded(tmp_path):
    incidents, incident = await opened(tmp_path, FakeClock())
    escalated = await incidents.escalate(incident.id, by="li.wei", reason="second cabinet dark")
    assert escalated.escalation_level == 1
    assert escalated.timeline[-2].text == "escalated by hand: second cabinet dark"
    # nothing wired to tell the duty officer: said so on the timeline, not hidden
    assert escalated.timeline[-1].kind is TimelineKind.NOTIFICATION


async def test_a_platform_step_cut_off_by_a_restart_is_marked_failed_not_sent_again(tmp_path):
    clock = FakeClock()
    incidents, incident = await opened(tmp_path, clock)
    # the platform claimed the dimming step and stopped before it finished
    assert incidents.store.update_step(
        incident.id,
        "dim-neighbours-full",
        [],
        fields={"status": StepStatus.RUNNING},
        only_if="status = 'pending'",
    )
    incidents.store.close()

    restarted = service(tmp_path / "incidents.sqlite", clock)
    runner = asyncio.create_task(restarted.run())
    try:
        async with asyncio.timeout(5):
            step = restarted.get(incident.id).step("dim-neighbours-full")
            while step is not None and step.status is StepStatus.RUNNING:
                await asyncio.sleep(0.01)  # a row in SQLite: nothing to wait on but time
                step = restarted.get(incident.id).step("dim-neighbours-full")
    finally:
        runner.cancel()
    step = restarted.get(incident.id).step("dim-neighbours-full")
    assert (step.status, step.result) == (StepStatus.FAILED, "cut off by a restart")
    texts = [e.text for e in restarted.get(incident.id).timeline]
    assert "step 'dim-neighbours-full' was cut off by a restart: do it by hand" in texts
    # a person can still do it
    done = await restarted.step_done(incident.id, "dim-neighbours-full", by="li.wei")
    assert done.step("dim-neighbours-full").status is StepStatus.DONE


async def test_an_incident_with_an_unknown_severity_is_refused_naming_the_field(tmp_path):
    incidents = service(tmp_path / "incidents.sqlite", FakeClock())
    with pytest.raises(IncidentInvalid) as refused:
        await incidents.open_incident(
            "lighting", title="dark", district="centre", by="li.wei", severity="urgent"
        )
    assert str(refused.value) == "severity: 'urgent' is not one of info, warning, critical"
    assert incidents.list_incidents() == []
