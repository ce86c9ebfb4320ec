"""Bootstrap against the real InfluxDB 1.6.7: policies, continuous queries, and their rows."""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from ingest import (
    BootstrapConfig,
    BootstrapFailed,
    InfluxV1Config,
    InfluxV1Writer,
    InfluxV2Config,
    bootstrap_bucket,
    bootstrap_database,
    continuous_queries,
    encode_lines,
    points_from_message,
)
from smartcity.stack import LocalInfluxDB, LocalVictoriaMetrics
from tests.support import influx_query, wait_for
from tests.unit.ingest.samples import DEVICES, STREETLIGHT, message


def config(url: str, database: str, *, raw: str = "30d") -> BootstrapConfig:
    return BootstrapConfig(
        url=url,
        database=database,
        username=None,
        password=None,
        timeout_s=10.0,
        raw_retention=raw,
        downsampled_retention="400d",
        resample_every="10s",
        resample_for="10m",
    )


def policies(url: str, database: str) -> dict[str, tuple[str, bool]]:
    response = httpx.get(
        f"{url}/query", params={"q": f'SHOW RETENTION POLICIES ON "{database}"'}, timeout=10
    )
    [series] = response.json()["results"][0]["series"]
    rows = [dict(zip(series["columns"], values, strict=True)) for values in series["values"]]
    return {row["name"]: (row["duration"], row["default"]) for row in rows}


def queries(url: str, database: str) -> set[str]:
    response = httpx.get(f"{url}/query", params={"q": "SHOW CONTINUOUS QUERIES"}, timeout=10)
    names: set[str] = set()
    for series in response.json()["results"][0].get("series", []):
        if series["name"] == database:
            names.update(row[0] for row in series.get("values") or [])
    return names


async def test_bootstrap_is_idempotent_and_applies_changed_retention(
    influxdb: LocalInfluxDB, influx_database: str
) -> None:
    first = await bootstrap_database(config(influxdb.url, influx_database))
    second = await bootstrap_database(config(influxdb.url, influx_database))
    assert len(first.created) == 10
    assert (second.created, second.replaced, len(second.kept)) == ((), (), 10)
    assert policies(influxdb.url, influx_database) == {
        "autogen": ("0s", False),
        "raw": ("720h0m0s", True),
        "downsampled": ("9600h0m0s", False),
    }
    assert queries(influxdb.url, influx_database) == set(
        continuous_queries(config(influxdb.url, influx_database))
    )
    await bootstrap_database(config(influxdb.url, influx_database, raw="7d"))
    assert policies(influxdb.url, influx_database)["raw"] == ("168h0m0s", True)
    changed = dataclasses.replace(config(influxdb.url, influx_database), resample_for="20m")
    third = await bootstrap_database(changed)
    assert len(third.replaced) == 5  # the 1-minute ones; the hourly ones reach back 2 h anyway
    assert queries(influxdb.url, influx_database) == set(continuous_queries(changed))


async def test_continuous_queries_write_minute_means_into_the_long_policy(
    influxdb: LocalInfluxDB, influx_database: str
) -> None:
    await bootstrap_database(config(influxdb.url, influx_database))
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=3)
    points = []
    for index in range(12):
        ts = start + timedelta(seconds=10 * index)
        payload = STREETLIGHT | {"ts": int(ts.timestamp() * 1000), "seq": index, "power_w": index}
        msg = message("city/riverside/streetlight/SL-0001/telemetry", payload)
        points += points_from_message(msg, DEVICES["SL-0001"], plate_key=b"k")
    writer_config = InfluxV1Config(
        url=influxdb.url,
        database=influx_database,
        retention_policy=None,
        username=None,
        password=None,
        timeout_s=10.0,
        gzip=False,
        max_in_flight=1,
    )
    async with InfluxV1Writer(writer_config) as writer:
        await writer.write(encode_lines(points))
    query = 'SELECT * FROM "downsampled"."streetlight_1m" ORDER BY time'

    def rolled_up() -> bool:
        return len(influx_query(influxdb.url, influx_database, query)) >= 2

    began = time.monotonic()
    assert wait_for(rolled_up, timeout_s=45, interval_s=1), "no 1-minute rollup rows appeared"
    rows = influx_query(influxdb.url, influx_database, query)
    assert [row["power_w"] for row in rows[:2]] == [2.5, 8.5]
    assert rows[0]["cabinet"] == "C-01"
    assert rows[0]["time"] == int(start.timestamp() * 1000)
    assert time.monotonic() - began < 60


async def test_v2_bootstrap_on_a_server_without_the_buckets_api_names_the_step(
    victoria_metrics: LocalVictoriaMetrics,
) -> None:
    config = InfluxV2Config(
        url=victoria_metrics.url,
        token="t",
        org="smartcity",
        bucket="smartcity",
        timeout_s=5.0,
        gzip=False,
        max_in_flight=1,
    )
    with pytest.raises(BootstrapFailed) as caught:
        await bootstrap_bucket(config, raw_retention="30d", downsampled_retention="400d")
    assert caught.value.statement == "find or create bucket smartcity"
    assert caught.value.reason.startswith("HTTP 400")
