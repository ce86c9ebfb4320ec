"""The page's routes over a real server (uvicorn on a free port, the real broker and InfluxDB):
who may acknowledge and silence, bad bodies named, stream tickets used once, the event stream,
named series and never InfluxQL from outside, the page and /docs served with no internet."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

import alerts
import api
import devices
from smartcity.local_alertmanager import LocalAlertmanager
from smartcity.stack import LocalInfluxDB, LocalMosquitto
from tests.integration.api_harness import (
    NOW,
    Harness,
    alert,
    demo_registry,
    record_changes,
    running_api,
)

REGISTRY = demo_registry()
SERIES = api.SeriesQuery(
    name="station-ammonia",
    title="ammonia",
    unit="mg/L",
    variable="station",
    query='SELECT mean("ammonia_mg_l") AS "ammonia_mg_l" FROM "water_quality" WHERE $timeFilter '
    'AND "device_id" =~ /^$station$/ GROUP BY time($__interval), "device_id" fill(null)',
    source="test",
)


@pytest.fixture
def alertmanager(make_alertmanager: Callable[..., LocalAlertmanager]) -> LocalAlertmanager:
    return make_alertmanager()


@pytest.fixture
async def served(
    tmp_path: Path,
    mosquitto: LocalMosquitto,
    influxdb: LocalInfluxDB,
    influx_database: str,
    alertmanager: LocalAlertmanager,
) -> AsyncIterator[tuple[Harness, str]]:
    routers = [
        api.events_router(api.StreamTickets(ttl_s=30), interval_s=0.1),
        api.series_router(
            [SERIES], api.InfluxReader(influxdb.url, database=influx_database, timeout_s=5)
        ),
    ]
    async with running_api(
        tmp_path, mosquitto.url, REGISTRY, routers=routers, alertmanager_url=alertmanager.url
    ) as harness:
        server = api.ApiServer(harness.app, host="127.0.0.1", port=0, shutdown_timeout_s=2)
        server.bind()
        task = asyncio.create_task(server.run())
        try:
            async with asyncio.timeout(20):
                await server.started.wait()
            yield harness, server.url
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


def firing(device: str) -> alerts.Alert:
    return alert(
        "ammonia-high",
        kind=devices.Kind.WATER_QUALITY,
        district="zhongtang",
        severity="critical",
        device=device,
        fired_at=NOW,
    )


async def test_verdicts_say_which_silence_mutes_each_alert_as_alertmanager_decides(
    served: tuple[Harness, str], alertmanager: LocalAlertmanager
) -> None:
    harness, url = served
    hot, other = firing("WQ-0001"), firing("WQ-0002")
    record_changes(
        harness.alert_store,
        [(hot, alerts.ChangeKind.FIRING), (other, alerts.ChangeKind.FIRING)],
    )
    async with httpx.AsyncClient(timeout=10) as client:  # as the engine's notifier sends them
        sent = await client.post(
            f"{alertmanager.url}/api/v2/alerts",
            json=[
                alerts.postable_alert(a, now=datetime.now(UTC), valid_for=timedelta(hours=1))
                for a in (hot, other)
            ],
        )
        assert sent.status_code == 200, sent.text
    operate, read = harness.headers("operate"), harness.headers("read")
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        acked = await client.post(
            f"/alerts/{hot.fingerprint}/ack", json={"comment": "crew 3"}, headers=operate
        )
        made = await client.post(
            "/silences",
            json={
                "matchers": [
                    {"name": "alertname", "value": "ammonia-high"},
                    {"name": "device_id", "value": "WQ-0002"},
                ],
                "duration_s": 3600,
                "comment": "probe being cleaned",
            },
            headers=operate,
        )
        found = await client.get("/silences/verdicts", headers=read)
        anonymous = await client.get("/silences/verdicts")
    assert acked.status_code == 200, acked.text
    assert made.status_code == 201, made.text
    assert anonymous.status_code == 401
    verdicts = {v["fingerprint"]: v for v in found.json()}
    assert verdicts[other.fingerprint]["silenced_by"] == [made.json()["id"]]
    assert verdicts[other.fingerprint]["acknowledgement_silence"] is None
    assert verdicts[hot.fingerprint]["silenced_by"] == []  # its only silence is its ack's
    assert verdicts[hot.fingerprint]["acknowledgement_silence"] == acked.json()["silence_id"]
    assert verdicts[other.fingerprint]["labels"]["device_id"] == "WQ-0002"
    assert verdicts[other.fingerprint]["labels"]["alertname"] == "ammonia-high"


async def test_a_stream_ticket_opens_one_stream_of_alert_changes(
    served: tuple[Harness, str],
) -> None:
    harness, url = served
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        assert (await client.post("/events/ticket")).status_code == 401
        assert (await client.get("/events", params={"ticket": "made-up"})).status_code == 401
        issued = await client.post("/events/ticket", headers=harness.headers("read"))
        ticket = issued.json()["ticket"]
        seen: list[tuple[str, object]] = []
        async with client.stream("GET", "/events", params={"ticket": ticket}) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            event = None
            async for line in stream.aiter_lines():
                if line.startswith("event: "):
                    event = line.removeprefix("event: ")
                elif line.startswith("data: ") and event:
                    seen.append((event, json.loads(line.removeprefix("data: "))))
                    if len(seen) == 2:  # the state at the start: alerts, presence
                        hot = firing("WQ-0003")
                        record_changes(harness.alert_store, [(hot, alerts.ChangeKind.FIRING)])
                    if len(seen) == 3:
                        break
        reused = await client.get("/events", params={"ticket": ticket})
    assert [name for name, _ in seen] == ["alerts", "presence", "alerts"]
    assert seen[0][1] == []
    districts = {record.district for record in REGISTRY.values()}
    assert set(seen[1][1]["districts"]) == districts  # type: ignore[index]
    assert [a["labels"]["device"] for a in seen[2][1]] == ["WQ-0003"]  # type: ignore[union-attr]
    assert reused.status_code == 401


async def test_a_series_is_asked_by_name_and_key_never_by_query(
    served: tuple[Harness, str], influxdb: LocalInfluxDB, influx_database: str
) -> None:
    harness, url = served
    now_s = int(time.time())
    async with httpx.AsyncClient(base_url=influxdb.url, timeout=10) as influx:
        await influx.post("/query", params={"q": f'CREATE DATABASE "{influx_database}"'})
        written = await influx.post(
            "/write",
            params={"db": influx_database, "precision": "s"},
            content="\n".join(
                f"water_quality,device_id={device} ammonia_mg_l={value} {now_s - ago_s}"
                for device, value, ago_s in (
                    ("WQ-0001", 0.5, 600),
                    ("WQ-0001", 2.5, 60),
                    ("WQ-0002", 9.0, 60),
                )
            ),
        )
        assert written.status_code == 204, written.text
    read = harness.headers("read")
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        listed = await client.get("/series", headers=read)
        found = await client.get("/series/station-ammonia", params={"key": "WQ-0001"}, headers=read)
        other = await client.get("/series/station-ammonia", params={"key": "WQ-00"}, headers=read)
        unknown = await client.get("/series/raw", params={"key": "x"}, headers=read)
        injected = await client.get(
            "/series/station-ammonia", params={"key": '.*/ OR 1=1 --"'}, headers=read
        )
        anonymous = await client.get("/series/station-ammonia", params={"key": "WQ-0001"})
    assert [s["name"] for s in listed.json()] == ["station-ammonia"]
    assert found.status_code == 200
    [line] = found.json()["lines"]
    assert line["label"] == "WQ-0001"
    assert [v for v in line["values"] if v is not None] == [0.5, 2.5]
    assert other.json()["lines"] == []  # the key matches itself, not as a prefix
    assert unknown.status_code == 404
    assert "station-ammonia" in unknown.json()["detail"]
    assert injected.status_code == 422
    assert injected.json()["detail"][0]["field"] == "key"
    assert anonymous.status_code == 401


async def test_the_page_and_docs_are_served_with_everything_they_load(
    served: tuple[Harness, str],
) -> None:
    _, url = served
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        page = await client.get("/")
        docs = await client.get("/docs")
        assets = [
            await client.get(path)
            for path in (
                "/app.js",
                "/api.js",
                "/map.js",
                "/chart.js",
                "/incidents.js",
                "/ui.js",
                "/style.css",
                "/vendor/leaflet/leaflet.js",
                "/vendor/uplot/uPlot.esm.js",
                "/vendor/swagger-ui/swagger-ui-bundle.js",
            )
        ]
    assert page.status_code == 200
    assert "<title>smartcity" in page.text
    assert docs.status_code == 200
    assert "/vendor/swagger-ui/swagger-ui-bundle.js" in docs.text
    assert "cdn" not in docs.text.lower()
    assert [answer.status_code for answer in assets] == [200] * len(assets)
    for answer in (page, *assets[:7]):
        assert "http://" not in answer.text
        assert "https://" not in answer.text


async def test_stopping_the_server_ends_open_event_streams_rather_than_waiting_for_them(
    tmp_path: Path, mosquitto: LocalMosquitto, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    tickets = api.StreamTickets(ttl_s=30)
    routers = [api.events_router(tickets, interval_s=0.1)]
    async with running_api(tmp_path, mosquitto.url, REGISTRY, routers=routers) as harness:
        server = api.ApiServer(harness.app, host="127.0.0.1", port=0, shutdown_timeout_s=5)
        server.bind()
        task = asyncio.create_task(server.run())
        async with asyncio.timeout(20):
            await server.started.wait()
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            ticket = (await client.post("/events/ticket", headers=harness.headers("read"))).json()
            events = 0
            async with client.stream(
                "GET", "/events", params={"ticket": ticket["ticket"]}
            ) as stream:
                async for line in stream.aiter_lines():
                    events += line.startswith("event: ")
                    if events == 2:
                        task.cancel()  # as smartcity up does on Ctrl-C
                # the loop ends because the server ended the stream
        await asyncio.gather(task, return_exceptions=True)
    assert events == 2
    assert "api_stop_forced" not in caplog.text
    assert "api_stream_closed" in caplog.text


async def test_without_an_alertmanager_the_verdicts_are_503_naming_it(
    tmp_path: Path, mosquitto: LocalMosquitto
) -> None:
    async with (
        running_api(tmp_path, mosquitto.url, REGISTRY) as harness,
        harness.client() as client,
    ):
        found = await client.get("/silences/verdicts", headers=harness.headers("read"))
    assert found.status_code == 503
    assert "SMARTCITY_ALERTMANAGER_URL" in found.json()["detail"]
