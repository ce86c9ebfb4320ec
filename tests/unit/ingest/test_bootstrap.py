from __future__ import annotations

import pytest

from ingest import BootstrapConfig, continuous_queries, downsampling_tasks_flux
from ingest.bootstrap import duration_seconds


def config(every: str = "1m", span: str = "10m") -> BootstrapConfig:
    return BootstrapConfig(
        url="http://unused",
        database="smartcity",
        username=None,
        password=None,
        timeout_s=1.0,
        raw_retention="30d",
        downsampled_retention="400d",
        resample_every=every,
        resample_for=span,
    )


def test_continuous_queries_average_numeric_fields_into_the_long_policy() -> None:
    statement = continuous_queries(config())["water_quality_1m"]
    assert 'mean("ph") AS "ph"' in statement
    assert '"seq"' not in statement
    assert 'INTO "smartcity"."downsampled"."water_quality_1m"' in statement
    assert 'FROM "smartcity"."raw"."water_quality"' in statement
    assert "RESAMPLE EVERY 1m FOR 10m" in statement
    assert "GROUP BY time(1m), *" in statement


def test_hourly_rollup_runs_at_most_every_ten_minutes_over_two_hours() -> None:
    statement = continuous_queries(config(every="10s"))["checkpoint_1h"]
    assert "RESAMPLE EVERY 10m FOR 2h" in statement


def test_flux_tasks_mirror_the_continuous_queries() -> None:
    tasks = downsampling_tasks_flux("smartcity", "city", "smartcity_downsampled")
    assert set(tasks) == set(continuous_queries(config()))
    assert 'r._measurement == "streetlight"' in tasks["streetlight_1m"]
    assert "aggregateWindow(every: 1h, fn: mean" in tasks["streetlight_1h"]


@pytest.mark.parametrize(("text", "seconds"), [("30d", 2_592_000), ("1h30m", 5_400), ("10s", 10)])
def test_durations_read_as_influxql_reads_them(text: str, seconds: int) -> None:
    assert duration_seconds(text) == seconds


@pytest.mark.parametrize("text", ["", "30", "1x", "1h 30m", "d"])
def test_malformed_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration"):
        duration_seconds(text)
