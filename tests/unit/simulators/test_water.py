"""Water stations: a spill reaches downstream stations later and weaker; cycles, rain, faults."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import devices
import simulators
from tests.unit.simulators.conftest import Seen, demo_registry, only, shipped, simulate

WATER = devices.Kind.WATER_QUALITY


def series(seen: list[Seen], device_id: str, field: str) -> list[tuple[float, float]]:
    return [
        (item.at, float(getattr(item.payload, field)))
        for item in seen
        if item.topic.device_id == device_id and item.topic.channel is devices.Channel.TELEMETRY
    ]


def test_a_spill_reaches_each_station_downstream_later_and_weaker(
    registry: devices.Registry,
) -> None:
    scenario = shipped("pollution-spill")
    assert scenario.start is not None
    seen = simulate(only(registry, WATER), scenario.start, 10, interval_s=300, scenario=scenario)
    stations = sorted(
        (r for r in registry.of_kind(WATER) if r.river == "zhongtang-waterway"),
        key=lambda r: r.section_order or 0,
    )
    peaks = []
    for station in stations:
        ammonia = series(seen, station.id, "ammonia_mg_l")
        at, peak = max(ammonia, key=lambda point: point[1])
        baseline = min(value for _, value in ammonia)
        peaks.append((at, peak - baseline))
    times = [at for at, _ in peaks]
    heights = [height for _, height in peaks]
    assert times == sorted(times)
    assert len(set(times)) == len(times)
    assert heights == sorted(heights, reverse=True)
    assert heights[-1] > 0.5  # still visible at the last station


def test_a_station_upstream_of_the_spill_sees_nothing(registry: devices.Registry) -> None:
    incident = simulators.Incident.model_validate(
        {
            "at": "+30m",
            "incident": "pollution_spill",
            "river": "zhongtang-waterway",
            "section": "S3",
        }
    )
    scenario = simulators.Scenario("spill-mid-river", [incident])
    clean = simulate(only(registry, WATER), datetime(2024, 6, 21, tzinfo=UTC), 6, seed=3)
    spilled = simulate(
        only(registry, WATER), datetime(2024, 6, 21, tzinfo=UTC), 6, seed=3, scenario=scenario
    )
    for station, changed in (("WQ-0001", False), ("WQ-0002", False), ("WQ-0003", True)):
        same = series(clean, station, "ammonia_mg_l") == series(spilled, station, "ammonia_mg_l")
        assert same is not changed, station


def test_oxygen_and_temperature_are_higher_in_the_afternoon_than_before_dawn(
    registry: devices.Registry,
) -> None:
    zone = ZoneInfo(registry.city.timezone)
    seen = simulate(only(registry, WATER), datetime(2024, 6, 21, tzinfo=zone), 24, interval_s=900)
    for field in ("dissolved_oxygen_mg_l", "water_temp_c"):
        by_hour: dict[int, list[float]] = {}
        for at, value in series(seen, "WQ-0001", field):
            by_hour.setdefault(datetime.fromtimestamp(at, zone).hour, []).append(value)
        assert min(by_hour[15]) > max(by_hour[5]), field


def test_rain_raises_turbidity_in_its_district_only() -> None:
    registry = only(demo_registry(), WATER)
    rain = simulators.Incident.model_validate(
        {"at": "+1h", "incident": "rain", "district": "songshan-lake", "intensity": 30, "for": "3h"}
    )
    start = datetime(2024, 6, 21, tzinfo=UTC)
    seen = simulate(registry, start, 4, scenario=simulators.Scenario("rain", [rain]))
    for station in registry.of_kind(WATER):
        turbidity = series(seen, station.id, "turbidity_ntu")
        dry = max(value for at, value in turbidity if at < start.timestamp() + 3600)
        wet = max(value for at, value in turbidity if at >= start.timestamp() + 3600)
        assert (wet > 5 * dry) is (station.district == "songshan-lake"), station.id


def test_sensor_faults_stick_drift_spike_and_pin_at_full_scale(registry: devices.Registry) -> None:
    scenario = shipped("field-faults")
    assert scenario.start is not None
    seen = simulate(only(registry, WATER), scenario.start, 3, interval_s=300, scenario=scenario)
    begin = scenario.start.timestamp()
    stuck = [
        v for at, v in series(seen, "WQ-0002", "ammonia_mg_l") if begin + 1800 <= at < begin + 5400
    ]
    assert len(stuck) > 5
    assert len(set(stuck)) == 1
    drift = [
        v
        for at, v in series(seen, "WQ-0003", "dissolved_oxygen_mg_l")
        if begin + 1800 <= at < begin + 9000
    ]
    assert drift[-1] < drift[0] - 1.5
    spikes = [
        v for at, v in series(seen, "WQ-0004", "turbidity_ntu") if begin + 3600 <= at < begin + 7200
    ]
    normal = [v for at, v in series(seen, "WQ-0004", "turbidity_ntu") if at < begin + 3600]
    assert max(spikes) > 2.5 * max(normal)
    pinned = [v for at, v in series(seen, "WQ-0005", "ph") if begin + 5400 <= at < begin + 7200]
    assert set(pinned) == {14.0}
