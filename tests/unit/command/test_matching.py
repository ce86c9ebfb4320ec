"""Alerts open incidents by the incident rules, and new matching alerts join the open one."""

from __future__ import annotations

from datetime import timedelta

from alerts import ChangeKind
from command import IncidentStatus, TimelineKind
from tests.unit.command.factory import T0, FakeClock, change, power_cut, service, water


async def test_a_critical_cabinet_power_cut_opens_a_lighting_incident_with_its_plan(tmp_path):
    incidents = service(tmp_path / "i.sqlite", FakeClock())
    await incidents.notify(power_cut(T0))
    [incident] = incidents.list_incidents()
    assert (incident.type, incident.severity, incident.title) == (
        "lighting",
        "critical",
        "Cabinet C-02 without light",
    )
    assert incident.placement == {"cabinet": "C-02"}
    assert incident.district == "centre"
    assert incident.plan == "cabinet-power-cut@1"
    assert incident.opened_by == "platform"
    assert [s.step_id for s in incident.steps] == [
        "notify-lighting-crew",
        "dim-neighbours-full",
        "send-crew",
        "confirm-restored",
    ]
    assert incident.steps[2].due_at == T0 + timedelta(minutes=30)
    assert [e.kind for e in incident.timeline] == [TimelineKind.OPENED, TimelineKind.ALERT]


async def test_alerts_of_the_same_cabinet_join_its_incident_and_another_cabinet_opens_its_own(
    tmp_path,
):
    incidents = service(tmp_path / "i.sqlite", FakeClock())
    await incidents.notify(power_cut(T0))
    await incidents.notify(
        change("cabinet-dark-at-night", {"cabinet": "C-02"}, at=T0 + timedelta(minutes=5))
    )
    await incidents.notify(power_cut(T0 + timedelta(minutes=6), cabinet="C-03"))
    first, second = incidents.list_incidents()
    assert len(first.alerts) == 2
    assert first.timeline[-1].text.startswith("alert cabinet-dark-at-night joined:")
    assert second.placement == {"cabinet": "C-03"}
    assert len(second.alerts) == 1


async def test_the_same_alert_announced_twice_joins_once(tmp_path):
    incidents = service(tmp_path / "i.sqlite", FakeClock())
    await incidents.notify(power_cut(T0))
    await incidents.notify(
        change("cabinet-dark-at-night", {"cabinet": "C-02"}, at=T0 + timedelta(minutes=5))
    )
    await incidents.notify(
        change("cabinet-dark-at-night", {"cabinet": "C-02"}, at=T0 + timedelta(minutes=5))
    )
    [incident] = incidents.list_incidents()
    assert len(incident.alerts) == 2
    assert len([e for e in incident.timeline if e.kind is TimelineKind.ALERT]) == 2


async def test_an_alert_of_the_incident_firing_again_is_recorded_on_it(tmp_path):
    incidents = service(tmp_path / "i.sqlite", FakeClock())
    await incidents.notify(power_cut(T0))
    later = T0 + timedelta(minutes=40)
    labels = {"team": "lighting", "cabinet": "C-02"}
    await incidents.notify(change("cabinet-power-lost", labels, at=later, what=ChangeKind.RESOLVED))
    await incidents.notify(power_cut(T0 + timedelta(minutes=55)))
    [incident] = incidents.list_incidents()
    assert [e.text.split(":")[0] for e in incident.timeline[1:]] == [
        "alert cabinet-power-lost",
        "alert cabinet-power-lost resolved",
        "alert cabinet-power-lost firing again",
    ]


async def test_an_alert_that_no_incident_rule_names_opens_nothing(tmp_path):
    incidents = service(tmp_path / "i.sqlite", FakeClock())
    await incidents.notify(change("lamp-failure", {"device": "SL-0009", "cabinet": "C-02"}, at=T0))
    await incidents.notify(
        change("cabinet-power-lost", {"cabinet": "C-02"}, at=T0, severity="warning")
    )
    assert incidents.list_incidents() == []


async def test_an_alert_resolving_is_recorded_on_its_incident(tmp_path):
    incidents = service(tmp_path / "i.sqlite", FakeClock())
    await incidents.notify(power_cut(T0))
    later = T0 + timedelta(minutes=40)
    labels = {"team": "lighting", "cabinet": "C-02"}
    await incidents.notify(change("cabinet-power-lost", labels, at=later, what=ChangeKind.RESOLVED))
    [incident] = incidents.list_incidents()
    assert incident.timeline[-1].text.startswith("alert cabinet-power-lost resolved:")
    assert incident.timeline[-1].at == T0 + timedelta(minutes=40)


async def test_after_an_incident_is_closed_the_same_trouble_opens_a_new_one(tmp_path):
    incidents = service(tmp_path / "i.sqlite", FakeClock())
    await incidents.notify(power_cut(T0))
    [first] = incidents.list_incidents()
    await incidents.set_status(first.id, IncidentStatus.RESOLVED, by="li.wei")
    await incidents.close(first.id, by="li.wei", report="fuse replaced")
    await incidents.notify(power_cut(T0 + timedelta(hours=3)))
    [second] = incidents.list_incidents()
    assert second.id != first.id
    assert len(incidents.list_incidents(include_closed=True)) == 2


async def test_pollution_above_the_intake_opens_an_environmental_incident_and_below_it_not(
    tmp_path,
):
    incidents = service(tmp_path / "i.sqlite", FakeClock())
    # WQ-0005 (S5) lies below the waterworks intake (0.7 km below S4): nothing to protect
    await incidents.notify(water("ammonia-rising-fast", "WQ-0005", "S5", T0))
    assert incidents.list_incidents() == []
    await incidents.notify(water("ammonia-rising-fast", "WQ-0001", "S1", T0))
    await incidents.notify(water("water-below-target-class", "WQ-0001", "S1", T0))
    [incident] = incidents.list_incidents()
    assert (incident.type, incident.plan, incident.placement) == (
        "environmental",
        "pollution-spill@1",
        {"river": "zhongtang-waterway"},
    )
    assert len(incident.alerts) == 2
