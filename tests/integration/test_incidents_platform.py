"""Emergency command on the real path: simulated city → Mosquitto → gateway → rule engine →
incident service (an engine listener) → plan steps carried out on the broker, recorded in
SQLite and written to InfluxDB as annotations.

The demo's two simultaneous incidents (``power-cut-during-spill``: a cabinet power cut during
a pollution spill) run at 600× speed on yesterday's date, as in test_alerts_pipeline.py. Each
must open exactly one incident with the right plan; the platform's own steps (notifications,
the dimming command to the neighbouring cabinets, answered by the simulated lights) run and
are recorded with their results.
"""

from __future__ import annotations

import asyncio
from datetime import time

import aiomqtt

from alerts import AlertEngine, load_rules
from command import (
    Incident,
    IncidentService,
    IncidentStatus,
    StepStatus,
    TimelineKind,
    WaypointState,
)
from devices import Kind, load_registry
from ingest import DurableStore, InfluxV1Writer, Spool
from smartcity.assembly import alert_listeners, alert_publisher, alerts_config, incident_service
from smartcity.settings import load_settings
from tests.integration.test_alerts_pipeline import (
    ROOT,
    AlertSubscriber,
    run_scenario,
    settle,
    yesterday_at,
)
from tests.integration.test_gateway_support import (
    STORE_CONFIG,
    create_database,
    gateway_config,
    influx_config,
    spool_config,
)
from tests.support import influx_query


async def steps_settled(incidents: IncidentService, count: int) -> list[Incident]:
    """Wait until ``count`` incidents exist and none of their platform steps is under way."""
    async with asyncio.timeout(60):
        while True:
            found = incidents.list_incidents()
            busy = [
                step
                for incident in found
                for step in incident.steps
                if step.action != "person"
                and step.status in (StepStatus.PENDING, StepStatus.RUNNING)
            ]
            if len(found) >= count and not busy:
                return found
            await asyncio.sleep(0.1)


def withdrawn(subscriber: AlertSubscriber) -> list[str]:
    """Teams whose incident notification was resolved."""
    return [
        d["labels"]["team"]
        for d in subscriber.documents
        if d["rule"] == "incident-notification" and d["change"] == "resolved"
    ]


async def test_a_power_cut_during_a_spill_opens_one_incident_each_and_runs_their_plans(
    make_mosquitto, influxdb, influx_database, tmp_path
):
    from gateway import Gateway

    mosquitto = make_mosquitto()
    registry = load_registry(ROOT / "config" / "fleet.yaml")
    settings = load_settings(
        data_dir=tmp_path,
        alerts_event_time=True,
        alerts_watch_rules=False,
        rules_path=ROOT / "config" / "rules",
        plans_path=ROOT / "config" / "plans",
        incidents_rules_path=ROOT / "config" / "incidents.yaml",
        incidents_tick_interval_s=0.2,
    )
    create_database(influxdb.url, influx_database)
    subscriber = AlertSubscriber()
    writer = InfluxV1Writer(influx_config(influxdb.url, influx_database))
    start, end = yesterday_at(time(1, 55)), yesterday_at(time(3, 0))
    async with (
        writer,
        DurableStore(writer, Spool(spool_config(tmp_path / "spool")), STORE_CONFIG) as store,
        alert_publisher(settings, mosquitto.url, client_id="incidents-test-pub") as publisher,
        aiomqtt.Client("127.0.0.1", mosquitto.port, identifier="incidents-test-sub") as listener,
        incident_service(settings, registry, mosquitto.url, store) as incidents,
        AlertEngine(
            alerts_config(settings),
            load_rules(settings.rules_path),
            registry,
            tmp_path / "alerts.sqlite",
            listeners=[*alert_listeners(settings, publisher=publisher, store=store), incidents],
        ) as engine,
    ):
        gateway = Gateway(gateway_config(mosquitto.port), registry, store, sink=engine)
        async with asyncio.TaskGroup() as group:
            tasks = [
                group.create_task(subscriber.run(listener)),
                group.create_task(gateway.run()),
                group.create_task(incidents.run()),
            ]
            async with asyncio.timeout(30):
                await gateway.ready.wait()
            stats = await run_scenario(mosquitto, registry, "power-cut-during-spill", start, end)
            await settle(engine, stats)
            found = await steps_settled(incidents, 2)
            # the lighting crew's notification stands while its incident is open
            [lighting_id] = [i.id for i in found if i.type == "lighting"]
            await incidents.set_status(lighting_id, IncidentStatus.RESOLVED, by="li.wei")
            await incidents.tick()  # withdraws it, and exports the last timeline entries
            async with asyncio.timeout(10):
                while not withdrawn(subscriber):  # noqa: ASYNC110 - MQTT deliveries, no event
                    await asyncio.sleep(0.05)
            for task in tasks:
                task.cancel()

    by_type = {incident.type: incident for incident in found}
    assert sorted(by_type) == ["environmental", "lighting"]
    assert len(found) == 2
    lighting, spill = by_type["lighting"], by_type["environmental"]

    assert (lighting.plan, lighting.placement) == ("cabinet-power-cut@1", {"cabinet": "C-02"})
    neighbours = sorted(
        record.id
        for record in registry.values()
        if record.kind is Kind.STREETLIGHT
        and record.district == "guancheng"
        and record.cabinet != "C-02"
    )
    assert neighbours
    notify, dim = lighting.step("notify-lighting-crew"), lighting.step("dim-neighbours-full")
    assert notify is not None
    assert dim is not None
    assert (notify.status, notify.result) == (
        StepStatus.DONE,
        "sent to team lighting through 1 channel(s)",
    )
    assert (dim.status, dim.result) == (
        StepStatus.DONE,
        f"dim on {len(neighbours)}/{len(neighbours)} devices confirmed",
    )
    [command] = [e for e in lighting.timeline if e.kind is TimelineKind.COMMAND]
    assert sorted(command.detail["confirmed"].split(",")) == neighbours

    assert (spill.plan, spill.placement) == ("pollution-spill@1", {"river": "zhongtang-waterway"})
    assert [s.status for s in spill.steps[:2]] == [StepStatus.DONE, StepStatus.DONE]
    assert spill.forecast is not None
    assert spill.forecast.origin == "WQ-0001"
    assert spill.forecast.waypoints[0].name == "WQ-0002"
    assert spill.forecast.waypoints[0].state is WaypointState.CONFIRMED  # about 02:43
    assert spill.forecast.next_expected().name == "WQ-0003"

    teams = sorted(
        d["labels"]["team"]
        for d in subscriber.documents
        if d["rule"] == "incident-notification" and d["change"] == "firing"
    )
    assert teams == ["environment", "lighting", "waterworks"]
    assert withdrawn(subscriber) == ["lighting"]  # the spill's incident is still open

    rows = influx_query(
        influxdb.url, influx_database, 'SELECT "text", "incident", "entry" FROM "incident"'
    )
    exported = {(row["incident"], row["entry"]) for row in rows}
    assert (str(lighting.id), "command") in exported
    assert (str(spill.id), "forecast") in exported
    assert len(rows) == len(lighting.timeline) + len(spill.timeline) + 1  # + resolved
