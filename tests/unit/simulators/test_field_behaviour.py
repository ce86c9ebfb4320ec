"""The simulators behave as the field does (issue 13): dawn oxygen, spills that keep their mass,
violations tied to what a camera sees, queues on the red/green cycle, a shift-working night,
LED failure rates, 220 V mains, Dongguan's plates, and each kind at its real cadence."""

from __future__ import annotations

import math
import random
import re
from collections import Counter
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

import devices
import simulators
from simulators.cadence import FIELD_CADENCE, cadence_for
from simulators.checkpoint import PARKING_DWELL_S, plate
from simulators.scenario import Spill
from simulators.streetlight import lamp_failure
from simulators.traffic import PLANS, green_phase_at
from tests.unit.simulators.conftest import ROOT, Seen, demo_registry, only, simulate

ZONE = ZoneInfo("Asia/Shanghai")
WATER = devices.Kind.WATER_QUALITY


def local_hour(at: float) -> float:
    moment = datetime.fromtimestamp(at, ZONE)
    return moment.hour + moment.minute / 60


def test_oxygen_is_lowest_just_before_dawn(registry: devices.Registry) -> None:
    for day in (datetime(2024, 6, 21, tzinfo=ZONE), datetime(2024, 1, 15, tzinfo=ZONE)):
        seen = simulate(only(registry, WATER), day, 24, interval_s=600)
        for station in ("WQ-0001", "WQ-0003", "WQ-0006"):
            oxygen = [
                (item.payload.dissolved_oxygen_mg_l, item.at)
                for item in seen
                if item.topic.device_id == station
                and isinstance(item.payload, devices.WaterQualityTelemetry)
            ]
            lowest_at = min(oxygen)[1]
            assert 5.0 <= local_hour(lowest_at) <= 7.0, (station, day)


def spill(dispersion_m2_s: float = 30.0) -> Spill:
    return Spill(
        river="r",
        origin_section="S1",
        origin_order=1,
        start_s=0.0,
        width_s=3_600.0,
        ammonia_mg_l=6.0,
        permanganate_mg_l=10.0,
        flow_m_s=None,
        dispersion_m2_s=dispersion_m2_s,
    )


def passing_mass(pulse: Spill, distance_km: float, flow_m_s: float) -> tuple[float, float]:
    """(∫ excess ammonia dt, peak) at one station: what passes it, at one flow."""
    values = [pulse.excess(distance_km, float(t), flow_m_s)[0] for t in range(-20_000, 200_000, 10)]
    return sum(values) * 10, max(values)


def test_a_spill_keeps_its_mass_as_it_spreads_downstream() -> None:
    pulse = spill()
    at_source, source_peak = passing_mass(pulse, 0.0, 0.4)
    for distance_km in (1.4, 2.9, 4.4, 5.8, 12.0):
        mass, peak = passing_mass(pulse, distance_km, 0.4)
        width = pulse.width_at_s(distance_km, 0.4)
        assert mass == pytest.approx(at_source, rel=0.01), distance_km
        assert peak < source_peak
        assert peak * width == pytest.approx(source_peak * pulse.width_s, rel=0.01)


def test_a_spill_takes_the_rivers_travel_time_to_each_station(registry: devices.Registry) -> None:
    river = registry.waters["zhongtang-waterway"]
    assert river.flow_m_s == 0.4
    pulse = spill(dispersion_m2_s=0.0)
    km = river.km_between("S1", "S3")
    assert km is not None
    arrival_s = km * 1_000 / 0.4
    assert pulse.excess(km, arrival_s, 0.4)[0] == pytest.approx(6.0)
    assert pulse.excess(km, arrival_s - 1_000, 0.4)[0] == 0.0


def cameras_and_signals(hours: float, start: datetime, interval_s: float = 60.0) -> list[Seen]:
    registry = only(demo_registry(), devices.Kind.CHECKPOINT, devices.Kind.TRAFFIC_SIGNAL)
    return simulate(registry, start, hours, interval_s=interval_s)


@pytest.fixture(scope="module")
def busy_day() -> list[Seen]:
    return cameras_and_signals(24, datetime(2024, 6, 24, tzinfo=ZONE))


def test_speeding_is_a_small_share_of_passes(busy_day: list[Seen]) -> None:
    passes = sum(isinstance(item.payload, devices.VehiclePass) for item in busy_day)
    speeding = [
        item.payload
        for item in busy_day
        if isinstance(item.payload, devices.Violation)
        and item.payload.violation is devices.ViolationKind.SPEEDING
    ]
    assert passes > 20_000
    assert 0 < len(speeding) / passes < 0.01
    for violation in speeding:
        assert violation.speed_kmh is not None
        assert violation.limit_kmh is not None
        assert violation.speed_kmh >= 1.1 * violation.limit_kmh - 0.05  # reported to 0.1 km/h


def test_illegal_parking_is_only_a_vehicle_that_stopped_and_stayed(busy_day: list[Seen]) -> None:
    passes: dict[str, list[tuple[float, float]]] = {}
    for item in busy_day:
        if isinstance(item.payload, devices.VehiclePass):
            moment = item.payload.ts.timestamp()
            passes.setdefault(item.payload.plate, []).append((moment, item.payload.speed_kmh))
    parking = [
        item.payload
        for item in busy_day
        if isinstance(item.payload, devices.Violation)
        and item.payload.violation is devices.ViolationKind.ILLEGAL_PARKING
    ]
    assert parking
    for violation in parking:
        assert violation.dwell_s is not None
        assert violation.dwell_s >= PARKING_DWELL_S
        captured = violation.ts.timestamp()
        stopped = [
            speed
            for moment, speed in passes[violation.plate]
            if abs(moment + violation.dwell_s - captured) < 0.01
        ]
        assert stopped, violation.plate  # it passed, stopped, and stood for its dwell
        assert stopped[0] < 15.0  # pulling in to the kerb, not driving past


def test_no_red_light_is_run_while_the_junction_flashes() -> None:
    night = cameras_and_signals(6, datetime(2024, 6, 24, tzinfo=ZONE))
    passes = [item for item in night if isinstance(item.payload, devices.VehiclePass)]
    assert len(passes) > 3_000  # the shift-working night has traffic
    red_light = [
        item
        for item in night
        if isinstance(item.payload, devices.Violation)
        and item.payload.violation is devices.ViolationKind.RED_LIGHT
    ]
    registry = demo_registry()
    schedules = {
        r.junction: r.flash_schedule for r in registry.of_kind(devices.Kind.TRAFFIC_SIGNAL)
    }
    for item in red_light:
        schedule = schedules[registry[item.topic.device_id].junction]
        if schedule is not None:
            local = datetime.fromtimestamp(item.at, ZONE).time()
            assert not devices.in_local_span(local, *devices.parse_local_span(schedule))


def test_red_light_violations_come_only_on_red(busy_day: list[Seen]) -> None:
    red_light = [
        item
        for item in busy_day
        if isinstance(item.payload, devices.Violation)
        and item.payload.violation is devices.ViolationKind.RED_LIGHT
    ]
    assert red_light
    passes = sum(isinstance(item.payload, devices.VehiclePass) for item in busy_day)
    assert len(red_light) / passes < 0.005


def test_queues_build_on_red_and_discharge_on_green() -> None:
    registry = only(demo_registry(), devices.Kind.TRAFFIC_SIGNAL)
    seen = simulate(registry, datetime(2024, 6, 24, 8, tzinfo=ZONE), 1, interval_s=5)
    rising_on = Counter[str]()
    falling_on = Counter[str]()
    previous: dict[str, int] = {}
    for item in seen:
        reading = item.payload
        if not isinstance(reading, devices.TrafficSignalTelemetry) or reading.phase == 0:
            continue
        for index, approach in enumerate(reading.approaches):
            name = f"{item.topic.device_id}/{approach.approach}"
            mine = 1 + index % 2
            if name in previous:
                change = approach.queue_veh - previous[name]
                light = "green" if reading.phase == mine else "red"
                if change > 0:
                    rising_on[light] += 1
                elif change < 0:
                    falling_on[light] += 1
            previous[name] = approach.queue_veh
    assert rising_on["red"] > 5 * rising_on["green"]
    assert falling_on["green"] > 5 * falling_on["red"]


def test_the_signal_cycle_has_two_greens_and_intergreens() -> None:
    plan = PLANS[1]
    phases = [green_phase_at(float(t), plan, 0.0) for t in range(int(plan.cycle_s))]
    green_s = 0.45 * plan.cycle_s
    assert phases.count(1) == pytest.approx(green_s, abs=1)
    assert phases.count(2) == pytest.approx(green_s, abs=1)
    assert phases.count(None) == pytest.approx(plan.cycle_s - 2 * green_s, abs=1)


def test_a_shift_working_night_keeps_traffic_on_the_roads() -> None:
    peak = simulators.traffic_demand(8.0, 0)
    night = min(simulators.traffic_demand(h / 4, 0) for h in range(4, 20))  # 01:00–05:00
    assert 0.12 <= night / peak <= 0.3
    assert simulators.traffic_demand(20.2, 2) > simulators.traffic_demand(21.5, 2)  # shift change


def test_led_lamps_fail_a_few_percent_a_year() -> None:
    lamps = 5_000
    failed = 0
    drivers = 0
    for key in range(lamps):
        # a failure shows as a stretch of failed days; count the stretches that start this year
        days = [lamp_failure(key * 7_919 + 13, day * 86_400.0) for day in range(366)]
        starts = [day for day in range(1, 366) if days[day] is not None and days[day - 1] is None]
        failed += len(starts)
        drivers += sum(days[day] is devices.StreetlightFault.DRIVER_FAILURE for day in starts)
    assert 0.01 <= failed / lamps <= 0.04  # a year's failures per lamp
    assert drivers > failed / 2  # the driver is the commonest LED fault


def test_lamps_run_on_220_volt_mains(registry: devices.Registry) -> None:
    seen = simulate(
        only(registry, devices.Kind.STREETLIGHT), datetime(2024, 6, 21, 20, tzinfo=ZONE), 1
    )
    volts = [
        item.payload.voltage_v
        for item in seen
        if isinstance(item.payload, devices.StreetlightTelemetry)
    ]
    assert sum(volts) / len(volts) == pytest.approx(220.0, abs=1.0)
    assert all(220 * 0.9 <= v <= 220 * 1.07 for v in volts)


def test_plates_are_mostly_dongguans_with_new_energy_plates_among_them() -> None:
    rng = random.Random(1)
    plates = [plate(rng) for _ in range(5_000)]
    home = sum(p.startswith("粤S") for p in plates) / len(plates)
    assert 0.7 <= home <= 0.85
    new_energy = [p for p in plates if len(p) == 8]
    assert 0.1 <= len(new_energy) / len(plates) <= 0.2
    assert all(re.fullmatch(r"[\u4e00-\u9fff][A-Z][DF][0-9A-Z][0-9]{4}", p) for p in new_energy)
    assert all(re.fullmatch(r"[\u4e00-\u9fff][A-Z][0-9A-Z]{5}", p) for p in plates if len(p) == 7)


def test_each_kind_reports_at_its_field_cadence(registry: devices.Registry) -> None:
    start = datetime(2024, 6, 21, 0, tzinfo=ZONE).timestamp()
    simulation = simulators.FleetSimulation(
        registry, seed=5, interval_s=5.0, start_s=start, cadence=cadence_for("field")
    )
    reports: dict[str, list[devices.Payload]] = {}
    for step in range(int(8 * 3600 / 5)):
        for out in simulation.step(start + step * 5.0):
            message = devices.decode_message(out.topic, out.payload)
            if message.topic.channel is devices.Channel.TELEMETRY:
                reports.setdefault(message.topic.device_id, []).append(message.payload)
    hours = 8
    water = reports["WQ-0001"]
    assert len(water) == hours  # on the hour, from 00:00 to 07:00
    assert all(isinstance(r, devices.WaterQualityTelemetry) for r in water)
    lab = [r for r in water if getattr(r, "ammonia_mg_l", None) is not None]
    assert len(lab) == hours * 3600 // int(FIELD_CADENCE.water_lab_s or 1)
    assert [local_hour(r.ts.timestamp()) for r in lab] == [0.0, 4.0]
    # a signal every minute, a camera's health every minute, a lamp every quarter of an hour
    # (and at once when its state changes: at dusk and dawn, at the night dimming)
    assert len(reports["TS-0001"]) == pytest.approx(hours * 60, abs=2)
    assert len(reports["CP-0001"]) == pytest.approx(hours * 60, abs=2)
    assert hours * 4 <= len(reports["SL-0001"]) <= hours * 4 + 4


def test_the_demo_city_is_dongguan_with_its_devices_in_their_districts() -> None:
    registry = devices.load_registry(ROOT / "config/fleet.yaml")
    assert (registry.city.name, registry.city.latitude, registry.city.longitude) == (
        "Dongguan",
        pytest.approx(23.02, abs=0.01),
        pytest.approx(113.75, abs=0.01),
    )
    spec = simulators.load_fleet_spec(ROOT / "config/fleets/demo.yaml")
    centres = {d.name: (d.latitude, d.longitude, d.radius_km) for d in spec.districts}
    assert {"guancheng", "nancheng", "dongcheng", "zhongtang", "songshan-lake", "humen"} <= set(
        centres
    )
    for device_id in registry:
        record = registry[device_id]
        assert record.latitude is not None
        assert record.longitude is not None
        assert 22.6 < record.latitude < 23.2
        assert 113.5 < record.longitude < 114.3
        if record.kind is devices.Kind.WATER_QUALITY:
            continue
        lat, lon, radius = centres[record.district]
        assert lat is not None
        assert lon is not None
        north_km = (record.latitude - lat) * 111.32
        east_km = (record.longitude - lon) * 111.32 * math.cos(math.radians(lat))
        assert math.hypot(north_km, east_km) <= radius + 0.1, device_id
    lake = [r for r in registry.values() if r.river == "songshan-lake"]
    assert lake
    assert all(r.water_body is devices.WaterBodyType.LAKE for r in lake)
    assert registry.waters["songshan-lake"].type is devices.WaterBodyType.LAKE
