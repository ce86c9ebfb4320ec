"""Every panel's queries, expanded as Grafana expands them, against a real InfluxDB 1.6 filled
by the real gateway (and rule engine) from a simulated day.

A small fleet (26 devices of config/fleet.yaml) lives the last 24 hours, reporting every 5
simulated minutes, as backfill; a scenario puts a power cut, a failed lamp, a spill, a jam, a
signal fault, cameras going offline and an out-of-range sensor into it. The rollups are then
filled by running the continuous queries' own SELECT ... INTO over the day (what an operator
does after a backfill). Each query must return rows of the shape its panel expects; a query
naming a field, tag or measurement that does not exist returns nothing and fails.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiomqtt
import httpx
import pytest

import simulators
from alerts import AlertEngine, load_rules
from command import IncidentService, IncidentStore, load_incident_rules, load_plans
from dashboards import BuiltDashboard, Query
from devices import Registry, load_registry
from gateway import Gateway
from ingest import (
    BootstrapConfig,
    DurableStore,
    InfluxV1Writer,
    Spool,
    bootstrap_database,
    continuous_queries,
)
from smartcity.assembly import (
    InfluxIncidentRecorder,
    alert_listeners,
    alerts_config,
    build_dashboards,
)
from smartcity.settings import Settings, load_settings
from smartcity.stack import LocalInfluxDB, LocalMosquitto
from tests.grafana_macros import ALL, TimeRange, expand, panel_range
from tests.integration.test_gateway_support import (
    STORE_CONFIG,
    gateway_config,
    influx_config,
    spool_config,
)

ROOT = Path(__file__).parents[2]
DATABASE = "dashboards_day"
KEEP = {f"SL-{n:04d}" for n in range(1, 17)} | {f"WQ-{n:04d}" for n in range(1, 8)}
KEEP |= {"TS-0001", "TS-0002", "TS-0003", "CP-0001", "CP-0002"}
SCENARIO = """
name: dashboards-day
description: A day with something for every panel.
duration: 24h
events:
  - {at: "+60m", incident: cabinet_power_cut, cabinet: C-02, for: 40m}
  - {at: "+10m", incident: lamp_failure, device: SL-0003, for: 23h}
  - {at: "+180m", incident: pollution_spill, river: zhongtang-waterway, section: S1,
     ammonia_mg_l: 6.0, permanganate_mg_l: 10.0, for: 1h}
  - {at: "+240m", incident: junction_jam, junction: J-02, capacity_pct: 15, for: 90m}
  - {at: "+300m", incident: signal_fault, junction: J-01, fault: conflict, for: 15m}
  - {at: "+360m", incident: camera_offline, device: CP-0001, for: 40m}
  - {at: "+400m", incident: sensor_fault, device: WQ-0005, field: ph, fault_mode: out_of_range,
     for: 30m}
  - {at: "+1380m", incident: camera_offline, device: CP-0002, for: 3h}
"""


def small_fleet() -> Registry:
    full = load_registry(ROOT / "config" / "fleet.yaml")
    return Registry({key: full[key] for key in KEEP}, city=full.city)


def query(url: str, text: str) -> dict[str, Any]:
    response = httpx.post(
        f"{url}/query", params={"db": DATABASE, "q": text, "epoch": "ms"}, timeout=30
    )
    response.raise_for_status()
    document: dict[str, Any] = response.json()
    for result in document.get("results", []):
        assert "error" not in result, f"{text}: {result['error']}"
    return document


async def fill(mosquitto: LocalMosquitto, influxdb: LocalInfluxDB, folder: Path) -> None:
    registry = small_fleet()
    settings = load_settings(
        alerts_event_time=True, alerts_watch_rules=False, rules_path=ROOT / "config" / "rules"
    )
    bootstrap = BootstrapConfig(
        url=influxdb.url,
        database=DATABASE,
        username=None,
        password=None,
        timeout_s=10.0,
        raw_retention="30d",
        downsampled_retention="400d",
        resample_every="1m",
        resample_for="10m",
    )
    await bootstrap_database(bootstrap)
    end = datetime.now(UTC).replace(microsecond=0)
    start = end - timedelta(hours=24)
    writer = InfluxV1Writer(influx_config(influxdb.url, DATABASE))
    plans = load_plans(ROOT / "config" / "plans")
    async with (
        writer,
        DurableStore(writer, Spool(spool_config(folder / "spool")), STORE_CONFIG) as store,
    ):
        with IncidentStore(folder / "incidents.sqlite") as incident_store:
            # the day's power cut and spill open incidents; their timelines are the annotations
            # (no notification or command channel here: the platform's steps are recorded failed)
            incidents = IncidentService(
                incident_store,
                plans,
                load_incident_rules(ROOT / "config" / "incidents.yaml", plans),
                registry,
                annotations=InfluxIncidentRecorder(
                    store, measurement=settings.incidents_influx_measurement
                ),
                event_time=True,
            )
            await run_the_day(mosquitto, registry, settings, store, incidents, start, end, folder)
            await incidents.tick()  # exports the timelines to InfluxDB
    # the rollups of a backfilled day: each continuous query's own SELECT ... INTO, over it
    span = f"time >= '{start.isoformat()}' AND time < '{end.isoformat()}'"
    for statement in continuous_queries(bootstrap).values():
        body = re.search(r"BEGIN (.*) END$", statement)
        assert body is not None
        select = body.group(1).replace(" GROUP BY", f" WHERE {span} GROUP BY")
        query(influxdb.url, select)


async def run_the_day(
    mosquitto: LocalMosquitto,
    registry: Registry,
    settings: Settings,
    store: DurableStore,
    incidents: IncidentService,
    start: datetime,
    end: datetime,
    folder: Path,
) -> None:
    scenario_file = folder / "day.yaml"
    scenario_file.write_text(SCENARIO, encoding="utf-8")
    async with AlertEngine(
        alerts_config(settings),
        load_rules(settings.rules_path),
        registry,
        folder / "alerts.sqlite",
        listeners=[*alert_listeners(settings, publisher=None, store=store), incidents],
    ) as engine:
        gateway = Gateway(
            gateway_config(mosquitto.port, stats_interval_s=0.5), registry, store, sink=engine
        )
        async with asyncio.TaskGroup() as group:
            task = group.create_task(gateway.run())
            async with asyncio.timeout(30):
                await gateway.ready.wait()
            stats = simulators.SimulationStats()
            config = simulators.FleetRunConfig(
                mqtt_url=mosquitto.url,
                seed=42,
                interval_s=300.0,
                speed=0.0,
                start=start,
                end=end,
                scenario=simulators.load_scenario(scenario_file),
                connections=2,
                dedicated_max=0,
                inflight_max=2_000,
                client_id_prefix="dashboards-day",
                connect_timeout_s=10.0,
                shutdown_timeout_s=10.0,
            )
            async with asyncio.timeout(120):
                await simulators.run_fleet(config, registry, stats=stats)
                # a stopped simulator says every device is offline; the platform goes on with
                # the city back online (but CP-0002, still offline) and some bad messages
                extra = await publish_after_the_day(mosquitto, registry, end)
                while (  # noqa: ASYNC110 - counters, no event
                    gateway.stats().received < stats.messages_published + extra
                ):
                    await asyncio.sleep(0.05)
                while engine.evaluated < gateway.stats().stored:  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
                await engine.flush()
                await asyncio.sleep(1.5)  # a few gateway_stats reports after the day
            task.cancel()


BAD_MESSAGES = (
    ("city/guancheng/streetlight/SL-0001/telemetry", b"{not json"),
    ("city/zhongtang/water_quality/WQ-0005/telemetry", b'{"ts": 0, "seq": 1, "ph": 15.3}'),
    ("city/guancheng/streetlight/SL-9999/telemetry", b'{"ts": 0, "seq": 1}'),
)


async def publish_after_the_day(
    mosquitto: LocalMosquitto, registry: Registry, end: datetime
) -> int:
    """Devices back online (as the simulator announces them) and three bad messages."""
    simulation = simulators.FleetSimulation(
        registry, seed=42, interval_s=300.0, start_s=end.timestamp()
    )
    online = [
        out
        for out in simulation.statuses(end.timestamp(), online=True)
        if "/CP-0002/" not in out.topic
    ]
    async with aiomqtt.Client("127.0.0.1", mosquitto.port, identifier="dashboards-after") as client:
        for out in online:
            await client.publish(out.topic, out.payload, qos=1, retain=out.retain)
        for topic, payload in BAD_MESSAGES:
            await client.publish(topic, payload, qos=1)
    return len(online) + len(BAD_MESSAGES)


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory, influxdb: LocalInfluxDB) -> Iterator[str]:
    """The InfluxDB URL of a database holding one simulated day."""
    folder = tmp_path_factory.mktemp("dashboards-day")
    with LocalMosquitto(folder / "mosquitto") as mosquitto:
        asyncio.run(fill(mosquitto, influxdb, folder))
    return influxdb.url


BOARDS: tuple[BuiltDashboard, ...] = build_dashboards(
    load_settings(), load_registry(ROOT / "config" / "fleet.yaml")
)
CASES = [
    pytest.param(board, panel.time_from, panel_query, id=f"{board.uid}:{panel.title}:{index}")
    for board in BOARDS
    for panel in board.panels
    for index, panel_query in enumerate(panel.queries)
] + [
    pytest.param(board, None, annotation, id=f"{board.uid}:annotations")
    for board in BOARDS
    for annotation in board.annotations
]


def dashboard_range() -> TimeRange:
    now_ms = int(time.time() * 1000)
    return TimeRange(now_ms - 24 * 3_600_000, now_ms)


def variables_of(board: BuiltDashboard) -> dict[str, str]:
    return {variable.name: ALL for variable in board.variables}


@pytest.mark.parametrize(("board", "time_from", "panel_query"), CASES)
def test_every_panel_query_returns_rows_of_the_shape_its_panel_expects(
    day: str, board: BuiltDashboard, time_from: str | None, panel_query: Query
) -> None:
    text = expand(
        panel_query.text,
        panel_range(dashboard_range(), time_from),
        variables=variables_of(board),
    )
    series = [s for r in query(day, text).get("results", []) for s in r.get("series", [])]
    assert series, f"no rows: {text}"
    for one in series:
        present = set(one["columns"]) | set(one.get("tags", {}))
        missing = set(panel_query.tags) - present
        assert not missing, f"series without {missing}: {text}"
        assert set(panel_query.columns) <= set(one["columns"]), f"{one['columns']}: {text}"
        rows = [dict(zip(one["columns"], values, strict=True)) for values in one["values"]]
        filled = [row for row in rows if all(row[c] is not None for c in panel_query.columns)]
        assert filled, f"series {one.get('tags')} has no row with {panel_query.columns}: {text}"
        if panel_query.result_format == "time_series" and len(rows) > 1:
            times = [row["time"] for row in rows]
            assert times == sorted(times), f"a time series out of order: {text}"


@pytest.mark.parametrize(
    ("board", "name", "variable_query"),
    [
        pytest.param(board, v.name, v.query, id=f"{board.uid}:{v.name}")
        for board in BOARDS
        for v in board.variables
        if v.query is not None
    ],
)
def test_every_template_variable_query_lists_values(
    day: str, board: BuiltDashboard, name: str, variable_query: str
) -> None:
    text = expand(variable_query, dashboard_range(), variables=variables_of(board))
    series = [s for r in query(day, text).get("results", []) for s in r.get("series", [])]
    values = {row[1] for one in series for row in one["values"]}
    assert values, f"variable {name} would offer nothing: {text}"


def test_a_misspelt_field_would_fail_the_test(day: str) -> None:
    """The check above can fail: a query naming a field that does not exist returns no rows."""
    text = expand(
        'SELECT mean("power_kw") FROM "streetlight" WHERE $timeFilter GROUP BY time($__interval)',
        dashboard_range(),
    )
    rows = [
        row
        for r in query(day, text).get("results", [])
        for s in r.get("series", [])
        for row in s["values"]
        if row[1] is not None
    ]
    assert rows == []


@pytest.mark.parametrize(
    "board",
    [board for board in BOARDS if any(v.name == "district" for v in board.variables)],
    ids=lambda board: board.uid,
)
def test_choosing_one_district_narrows_every_panel_to_it(day: str, board: BuiltDashboard) -> None:
    district = next(v for v in board.variables if v.name == "district")
    assert district.query is not None
    listed = query(day, expand(district.query, dashboard_range()))
    first = sorted(row[1] for s in listed["results"][0]["series"] for row in s["values"])[0]
    chosen = {**variables_of(board), "district": [first]}
    answered = 0
    for panel in board.panels:
        for panel_query in panel.queries:
            text = expand(
                panel_query.text,
                panel_range(dashboard_range(), panel.time_from),
                variables=chosen,
            )
            series = [s for r in query(day, text).get("results", []) for s in r.get("series", [])]
            answered += bool(series)
            for one in series:
                assert one.get("tags", {}).get("district", first) == first, text
    assert answered, f"no panel of {board.uid} shows anything for district {first}"
