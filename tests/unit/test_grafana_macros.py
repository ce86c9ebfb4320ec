"""The test helper that expands Grafana's macros follows Grafana's documented rules."""

from __future__ import annotations

from tests.grafana_macros import ALL, TimeRange, expand, interval_text, round_interval_ms

DAY = TimeRange(0, 86_400_000)


def test_time_filter_is_the_range_in_epoch_milliseconds() -> None:
    assert expand("SELECT 1 WHERE $timeFilter", DAY) == (
        "SELECT 1 WHERE time >= 0ms and time <= 86400000ms"
    )


def test_interval_of_a_day_over_a_thousand_points_rounds_to_a_minute() -> None:
    # 86.4 s a point, Grafana's step for 45–90 s is 1m
    assert expand("GROUP BY time($__interval)", DAY) == "GROUP BY time(1m)"


def test_interval_never_goes_below_the_datasource_minimum() -> None:
    assert expand("time($__interval)", TimeRange(0, 60_000)) == "time(10s)"


def test_round_interval_steps_and_their_text() -> None:
    assert [interval_text(round_interval_ms(ms)) for ms in (12_000, 100_000, 3_000_000)] == [
        "10s",
        "2m",
        "1h",
    ]


def test_variables_all_multi_and_single_follow_grafanas_regex_formatting() -> None:
    query = '"district" =~ /^$district$/ AND "device_id" =~ /^${station}$/'
    assert expand(query, DAY, variables={"district": ALL, "station": ["WQ-1", "WQ.2"]}) == (
        '"district" =~ /^.*$/ AND "device_id" =~ /^(WQ\\-1|WQ\\.2)$/'
    )
