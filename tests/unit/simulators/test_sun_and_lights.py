"""Streetlights follow the sun of the configured city, dim after midnight, fail by cabinet."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

import devices
import simulators
from tests.unit.simulators.conftest import demo_registry, only, shipped, simulate

LIGHTS = devices.Kind.STREETLIGHT


@pytest.mark.parametrize(
    ("place", "day", "sunrise", "sunset"),
    [
        # published times (timeanddate / NOAA), local clock
        ((51.5074, -0.1278, "Europe/London"), date(2024, 6, 21), "04:43", "21:21"),
        ((51.5074, -0.1278, "Europe/London"), date(2024, 12, 21), "08:04", "15:53"),
        ((31.2304, 121.4737, "Asia/Shanghai"), date(2024, 6, 21), "04:50", "19:01"),
        ((-33.8688, 151.2093, "Australia/Sydney"), date(2024, 6, 21), "07:00", "16:54"),
    ],
)
def test_sunrise_and_sunset_match_published_times_within_two_minutes(
    place: tuple[float, float, str], day: date, sunrise: str, sunset: str
) -> None:
    latitude, longitude, zone = place
    local_midnight = datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(zone))
    events = []
    for utc_day in {
        local_midnight.astimezone(UTC).date(),
        (local_midnight + timedelta(hours=23)).astimezone(UTC).date(),
    }:
        events += simulators.sun_events(utc_day, latitude, longitude)
    local = {
        (moment.astimezone(ZoneInfo(zone)).strftime("%H:%M"), rising)
        for moment, rising in events
        if moment.astimezone(ZoneInfo(zone)).date() == day
    }

    def minutes(text: str) -> int:
        hours, mins = text.split(":")
        return int(hours) * 60 + int(mins)

    rises = [minutes(t) for t, rising in local if rising]
    sets = [minutes(t) for t, rising in local if not rising]
    assert rises
    assert abs(rises[0] - minutes(sunrise)) <= 2
    assert sets
    assert abs(sets[0] - minutes(sunset)) <= 2


@pytest.mark.parametrize(
    "city",
    [
        {"latitude": 31.2304, "longitude": 121.4737, "timezone": "Asia/Shanghai"},
        {"latitude": 64.1466, "longitude": -21.9426, "timezone": "Atlantic/Reykjavik"},
    ],
)
def test_lights_are_on_exactly_when_the_sun_is_down_for_the_configured_city(
    city: dict[str, object],
) -> None:
    registry = only(demo_registry(**city), LIGHTS)
    seen = simulate(registry, datetime(2024, 3, 20, tzinfo=UTC), 24, interval_s=300)
    latitude, longitude = float(city["latitude"]), float(city["longitude"])  # type: ignore[arg-type]
    healthy = 0
    for item in seen:
        reading = item.payload
        if not isinstance(reading, devices.StreetlightTelemetry) or reading.faults:
            continue
        healthy += 1
        sun_down = (
            simulators.solar_elevation_deg(item.at, latitude, longitude)
            < simulators.SUNSET_ELEVATION_DEG
        )
        assert reading.lamp_on is sun_down, (item.topic.device_id, item.at)
    assert healthy > 10_000


def test_lights_dim_to_half_after_midnight_and_draw_less_power(
    registry: devices.Registry,
) -> None:
    zone = ZoneInfo(registry.city.timezone)
    seen = simulate(
        only(registry, LIGHTS), datetime(2024, 1, 15, 18, tzinfo=zone), 12, interval_s=600
    )
    before, after = [], []
    for item in seen:
        reading = item.payload
        if not isinstance(reading, devices.StreetlightTelemetry) or not reading.lamp_on:
            continue
        if item.topic.device_id != "SL-0001":
            continue
        hour = datetime.fromtimestamp(item.at, zone).hour
        (after if hour < 5 else before).append(reading)
    assert before
    assert after
    assert {r.dimming_pct for r in before} == {100.0}
    assert {r.dimming_pct for r in after} == {50.0}
    assert max(r.power_w for r in after) < min(r.power_w for r in before)


def test_energy_only_ever_grows(registry: devices.Registry) -> None:
    seen = simulate(only(registry, LIGHTS), datetime(2024, 1, 15, tzinfo=UTC), 24, interval_s=900)
    by_light: dict[str, list[float]] = {}
    for item in seen:
        if isinstance(item.payload, devices.StreetlightTelemetry):
            by_light.setdefault(item.topic.device_id, []).append(item.payload.energy_kwh)
    for series in by_light.values():
        assert series == sorted(series)
        assert series[-1] > series[0]


def test_a_cabinet_power_cut_darkens_exactly_its_lights_for_its_forty_minutes(
    registry: devices.Registry,
) -> None:
    scenario = shipped("cabinet-power-cut")
    assert scenario.start is not None
    seen = simulate(registry, scenario.start, 4, interval_s=60, scenario=scenario)
    zone = ZoneInfo(registry.city.timezone)
    cut = {r.id for r in registry.of_kind(devices.Kind.STREETLIGHT) if r.cabinet == "C-02"}
    in_window: dict[str, int] = {}
    for item in seen:
        reading = item.payload
        if not isinstance(reading, devices.StreetlightTelemetry):
            continue
        clock = datetime.fromtimestamp(item.at, zone).strftime("%H:%M")
        lost = devices.StreetlightFault.POWER_LOSS in reading.faults
        during = "02:10" <= clock < "02:50"
        assert lost is (during and item.topic.device_id in cut), (item.topic.device_id, clock)
        if lost:
            assert (reading.power_w, reading.voltage_v, reading.lamp_on) == (0.0, 0.0, False)
            in_window[item.topic.device_id] = in_window.get(item.topic.device_id, 0) + 1
    assert set(in_window) == cut
    assert set(in_window.values()) == {40}
