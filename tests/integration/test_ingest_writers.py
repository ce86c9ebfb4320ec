"""The writers against real servers: InfluxDB 1.6.7 (``/write``) and VictoriaMetrics
(``/api/v2/write``)."""

from __future__ import annotations

import json

import httpx
import pytest

from ingest import (
    InfluxV1Config,
    InfluxV1Writer,
    InfluxV2Config,
    InfluxV2Writer,
    Point,
    WriteFailed,
    encode_lines,
    points_from_message,
)
from smartcity.stack import LocalInfluxDB, LocalVictoriaMetrics, free_port
from tests.support import influx_count, influx_query, wait_for
from tests.unit.ingest.samples import DEVICES, STREETLIGHT, TS_MS, every_sample, message

KEY = b"integration-key"


def v1_config(url: str, database: str, *, gzip: bool = False) -> InfluxV1Config:
    return InfluxV1Config(
        url=url,
        database=database,
        retention_policy=None,
        username=None,
        password=None,
        timeout_s=5.0,
        gzip=gzip,
        max_in_flight=4,
    )


def create_database(url: str, database: str) -> None:
    httpx.post(f"{url}/query", params={"q": f'CREATE DATABASE "{database}"'}, timeout=10)


@pytest.mark.parametrize("gzip", [False, True])
async def test_every_kind_is_readable_back_from_influxdb(
    influxdb: LocalInfluxDB, influx_database: str, gzip: bool
) -> None:
    create_database(influxdb.url, influx_database)
    points = [p for m, d in every_sample() for p in points_from_message(m, d, plate_key=KEY)]
    async with InfluxV1Writer(v1_config(influxdb.url, influx_database, gzip=gzip)) as writer:
        await writer.write(encode_lines(points))
    [light] = influx_query(influxdb.url, influx_database, 'SELECT * FROM "streetlight"')
    assert light["power_w"] == 82
    assert light["faults"] == "over_voltage,lamp_failure"
    assert light["cabinet"] == "C-01"
    assert light["time"] == TS_MS
    approaches = influx_query(
        influxdb.url, influx_database, 'SELECT * FROM "traffic_signal_approach"'
    )
    assert sorted(row["approach"] for row in approaches) == ["east", "north"]
    [fault] = influx_query(influxdb.url, influx_database, 'SELECT * FROM "traffic_signal_fault"')
    assert fault["detail"] == 'red "A" lamp\\out\\nsecond line, ünïcode 信号'
    passes = influx_query(influxdb.url, influx_database, 'SELECT * FROM "checkpoint_pass"')
    assert len(passes[0]["plate_hash"]) == 64
    assert "plate" not in passes[0]


async def test_tricky_names_and_values_round_trip(
    influxdb: LocalInfluxDB, influx_database: str
) -> None:
    create_database(influxdb.url, influx_database)
    odd = 'a ,=\\"信 号'
    point = Point(
        "odd name,1",
        (("tag key=1", "x" + odd), ("zone", "ü ö")),
        (("field key", odd + "\nend"), ("n", 5)),
        1_000_000_000,
    )
    async with InfluxV1Writer(v1_config(influxdb.url, influx_database)) as writer:
        await writer.write(encode_lines([point]))
    [row] = influx_query(influxdb.url, influx_database, 'SELECT * FROM "odd name,1"')
    assert row["tag key=1"] == "x" + odd
    assert row["zone"] == "ü ö"
    assert row["field key"] == odd + "\\nend"


async def test_redelivered_message_overwrites_its_point(
    influxdb: LocalInfluxDB, influx_database: str
) -> None:
    create_database(influxdb.url, influx_database)
    msg = message("city/riverside/streetlight/SL-0001/telemetry", STREETLIGHT)
    same_ms = message(
        "city/riverside/streetlight/SL-0001/telemetry", STREETLIGHT | {"seq": 42, "power_w": 90}
    )
    async with InfluxV1Writer(v1_config(influxdb.url, influx_database)) as writer:
        for _ in range(3):
            await writer.write(
                encode_lines(points_from_message(msg, DEVICES["SL-0001"], plate_key=KEY))
            )
        await writer.write(
            encode_lines(points_from_message(same_ms, DEVICES["SL-0001"], plate_key=KEY))
        )
    assert influx_count(influxdb.url, influx_database, "streetlight") == 2


async def test_partial_write_is_permanent_and_names_the_bad_line(
    influxdb: LocalInfluxDB, influx_database: str
) -> None:
    create_database(influxdb.url, influx_database)
    good = Point("m", (), (("f", 1.0),), 1)
    conflicting = Point("m", (), (("f", "text"),), 2)
    async with InfluxV1Writer(v1_config(influxdb.url, influx_database)) as writer:
        await writer.write(encode_lines([good]))
        with pytest.raises(WriteFailed) as caught:
            await writer.write(encode_lines([good, conflicting, good]))
    assert caught.value.retryable is False
    assert caught.value.kind == "rejected"
    assert caught.value.status == 400
    assert "field type conflict" in caught.value.reason, caught.value.reason
    assert caught.value.lines == (2,), caught.value.reason


async def test_conflict_inside_one_body_names_the_odd_line(
    influxdb: LocalInfluxDB, influx_database: str
) -> None:
    create_database(influxdb.url, influx_database)
    good = Point("m", (), (("f", 1.0),), 1)
    conflicting = Point("m", (), (("f", "text"),), 2)
    async with InfluxV1Writer(v1_config(influxdb.url, influx_database)) as writer:
        with pytest.raises(WriteFailed) as caught:
            await writer.write(encode_lines([good, conflicting, good]))
    assert caught.value.retryable is False
    assert caught.value.lines == (2,), caught.value.reason


async def test_unparsable_line_is_named(influxdb: LocalInfluxDB, influx_database: str) -> None:
    create_database(influxdb.url, influx_database)
    async with InfluxV1Writer(v1_config(influxdb.url, influx_database)) as writer:
        with pytest.raises(WriteFailed) as caught:
            await writer.write(b"m f=1 1\nm f= 2\nm f=3 3\n")
    assert caught.value.lines == (2,)
    assert caught.value.retryable is False


async def test_missing_database_is_retryable_refusal(
    influxdb: LocalInfluxDB, influx_database: str
) -> None:
    async with InfluxV1Writer(v1_config(influxdb.url, influx_database)) as writer:
        with pytest.raises(WriteFailed) as caught:
            await writer.write(b"m f=1 1\n")
    assert (caught.value.kind, caught.value.retryable, caught.value.status) == (
        "refused",
        True,
        404,
    )


async def test_server_not_listening_is_retryable() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    async with InfluxV1Writer(v1_config(url, "nowhere")) as writer:
        assert await writer.ping() is False
        with pytest.raises(WriteFailed) as caught:
            await writer.write(b"m f=1 1\n")
    assert (caught.value.kind, caught.value.retryable) == ("connect", True)


def victoria_series(url: str, selector: str) -> list[dict[str, object]]:
    response = httpx.get(f"{url}/api/v1/export", params={"match[]": selector}, timeout=10)
    response.raise_for_status()
    return [json.loads(line) for line in response.text.splitlines() if line]


async def test_v2_writer_writes_through_the_v2_api(victoria_metrics: LocalVictoriaMetrics) -> None:
    config = InfluxV2Config(
        url=victoria_metrics.url,
        token="unused",
        org="smartcity",
        bucket="smartcity",
        timeout_s=5.0,
        gzip=True,
        max_in_flight=4,
    )
    msg = message(
        "city/riverside/streetlight/SL-0001/telemetry", STREETLIGHT | {"device_id": "SL-0001"}
    )
    points = points_from_message(msg, DEVICES["SL-0001"], plate_key=KEY)
    async with InfluxV2Writer(config) as writer:
        await writer.write(encode_lines(points))

    def stored() -> bool:
        httpx.get(f"{victoria_metrics.url}/internal/force_flush", timeout=10)
        return bool(victoria_series(victoria_metrics.url, '{__name__="streetlight_power_w"}'))

    assert wait_for(stored, timeout_s=20)
    [series] = victoria_series(victoria_metrics.url, '{__name__="streetlight_power_w"}')
    assert series["values"] == [82]
    assert series["timestamps"] == [TS_MS]
    metric = series["metric"]
    assert isinstance(metric, dict)
    assert {key: metric.get(key) for key in ("cabinet", "device_id", "district", "kind")} == {
        "cabinet": "C-01",
        "device_id": "SL-0001",
        "district": "riverside",
        "kind": "streetlight",
    }


async def test_v2_writer_reports_a_dead_server_as_retryable() -> None:
    config = InfluxV2Config(
        url=f"http://127.0.0.1:{free_port()}",
        token="t",
        org="o",
        bucket="b",
        timeout_s=2.0,
        gzip=False,
        max_in_flight=2,
    )
    async with InfluxV2Writer(config) as writer:
        with pytest.raises(WriteFailed) as caught:
            await writer.write(b"m f=1 1\n")
    assert caught.value.retryable is True
