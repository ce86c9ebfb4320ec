"""Streetlights follow the sun of the configured city, dim after midnight, fail by cabinet."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

import devices
from tests.unit.simulators.conftest import demo_registry, only, shipped, simulate

LIGHTS = devices.Kind.STREETLIGHT


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
        moment = datetime.fromtimestamp(item.at, UTC)
        sun_down = (
            devices.sun_elevation_deg(moment, latitude, longitude) < devices.SUNRISE_ELEVATION_DEG
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
