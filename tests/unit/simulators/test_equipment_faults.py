"""Equipment faults as the field shows them (issue 13): a lamp's case temperature from its
thermal model, failed drivers, mains out of 220 V ± 10 %, a red signal lamp out, and a camera
that is up but reads no plate."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import devices
import simulators
from simulators.luminaire import (
    OVER_TEMPERATURE_C,
    OVER_TEMPERATURE_CLEAR_C,
    case_temp_c,
    dissipated_w,
    input_power_w,
    thermal_resistance_k_w,
)
from tests.unit.simulators.conftest import Seen, demo_registry, only, simulate

ZONE = ZoneInfo("Asia/Shanghai")
LIGHTS = devices.Kind.STREETLIGHT
HOT_NIGHT = datetime(2024, 7, 25, 18, tzinfo=ZONE)  # Dongguan's warmest month


def scenario(*events: dict[str, object], start: datetime = HOT_NIGHT) -> simulators.Scenario:
    incidents = [simulators.Incident.model_validate(event) for event in events]
    return simulators.Scenario("test", incidents, start=start)


def readings(seen: list[Seen], device: str) -> list[tuple[float, devices.StreetlightTelemetry]]:
    return [
        (item.at, item.payload)
        for item in seen
        if item.topic.device_id == device and isinstance(item.payload, devices.StreetlightTelemetry)
    ]


def test_every_rated_lamp_runs_the_design_rise_over_the_air_at_full_power() -> None:
    for rated in (60.0, 100.0, 150.0, 250.0):
        heat = dissipated_w(input_power_w(rated, 100.0), rated)
        assert 0.6 * rated <= heat <= 0.66 * rated  # driver loss plus what is not light
        case = case_temp_c(30.0, heat, thermal_resistance_k_w(rated))
        assert case == 30.0 + 25.0
        dimmed = dissipated_w(input_power_w(rated, 50.0), rated)
        assert case_temp_c(30.0, dimmed, thermal_resistance_k_w(rated)) < case - 8


def test_a_healthy_lamp_on_the_hottest_night_stays_well_below_the_limit() -> None:
    seen = simulate(only(demo_registry(), LIGHTS), HOT_NIGHT, 12, interval_s=900)
    temps = [
        reading.lamp_temp_c
        for item in seen
        if isinstance((reading := item.payload), devices.StreetlightTelemetry) and reading.lamp_on
    ]
    assert len(temps) > 500
    assert max(temps) < 65.0  # air ~30 °C plus the design rise: far from the 85 °C class
    flags = {fault for item in seen for fault in getattr(item.payload, "faults", ())}
    assert devices.StreetlightFault.OVER_TEMPERATURE not in flags


def test_a_blocked_heat_sink_runs_hot_and_raises_over_temperature_with_the_reading() -> None:
    blocked = scenario(
        {"at": "20:00", "incident": "lamp_overheating", "device": "SL-0001", "for": "3h"}
    )
    seen = simulate(only(demo_registry(), LIGHTS), HOT_NIGHT, 8, interval_s=300, scenario=blocked)
    lamp = readings(seen, "SL-0001")  # a 250 W lamp
    hot = [
        r
        for at, r in lamp
        if HOT_NIGHT.timestamp() + 2 * 3600 <= at < HOT_NIGHT.timestamp() + 5 * 3600
    ]
    assert hot
    assert all(95.0 <= r.lamp_temp_c <= 115.0 for r in hot if r.lamp_on)
    # the flag says what the reading says: over the limit, or between the limits once raised
    raised = False
    for _, reading in lamp:
        flagged = devices.StreetlightFault.OVER_TEMPERATURE in reading.faults
        limit = OVER_TEMPERATURE_CLEAR_C if raised else OVER_TEMPERATURE_C
        assert flagged is (reading.lamp_temp_c >= limit), reading
        raised = flagged
    assert any(devices.StreetlightFault.OVER_TEMPERATURE in r.faults for r in hot)
    assert not lamp[-1][1].faults  # cleaned at 23:00: back to normal
    others = {
        fault
        for item in seen
        if item.topic.device_id != "SL-0001"
        for fault in getattr(item.payload, "faults", ())
    }
    assert devices.StreetlightFault.OVER_TEMPERATURE not in others


def test_a_failed_driver_leaves_the_lamp_dark_and_says_driver_failure() -> None:
    failed = scenario(
        {"at": "20:00", "incident": "driver_failure", "device": "SL-0002", "for": "2h"}
    )
    seen = simulate(only(demo_registry(), LIGHTS), HOT_NIGHT, 5, interval_s=600, scenario=failed)
    start = HOT_NIGHT.timestamp()
    during = [r for at, r in readings(seen, "SL-0002") if start + 2 * 3600 <= at < start + 4 * 3600]
    assert during
    assert all(not r.lamp_on and r.power_w < 1 for r in during)
    assert all(r.faults == (devices.StreetlightFault.DRIVER_FAILURE,) for r in during)
    after = [r for at, r in readings(seen, "SL-0002") if at >= start + 4 * 3600]
    assert after
    assert all(r.lamp_on and not r.faults for r in after)


def test_mains_out_of_220_volts_plus_minus_ten_percent_is_flagged_on_its_cabinet_only() -> None:
    feed = scenario(
        {
            "at": "19:00",
            "incident": "mains_voltage",
            "cabinet": "C-01",
            "voltage_v": 253,
            "for": "1h",
        },
        {
            "at": "21:00",
            "incident": "mains_voltage",
            "cabinet": "C-01",
            "voltage_v": 187,
            "for": "1h",
        },
    )
    registry = only(demo_registry(), LIGHTS)
    seen = simulate(registry, HOT_NIGHT, 5, interval_s=600, scenario=feed)
    start = HOT_NIGHT.timestamp()
    by_hour: dict[int, set[tuple[str, ...]]] = {}
    for item in seen:
        reading = item.payload
        if not isinstance(reading, devices.StreetlightTelemetry):
            continue
        cabinet = registry[item.topic.device_id].cabinet
        hour = int((item.at - start) // 3600)
        if cabinet == "C-01":
            by_hour.setdefault(hour, set()).add(tuple(f.value for f in reading.faults))
        else:
            assert 210.0 <= reading.voltage_v <= 230.0
            assert not reading.faults
    assert by_hour[0] == {()}
    assert by_hour[1] == {("over_voltage",)}
    assert by_hour[3] == {("under_voltage",)}
    assert by_hour[4] == {()}


def test_a_lamp_alarm_is_pushed_at_once_at_field_cadence() -> None:
    registry = only(demo_registry(), LIGHTS)
    start = HOT_NIGHT.timestamp()
    feed = scenario(
        {
            "at": "20:07",
            "incident": "mains_voltage",
            "device": "SL-0003",
            "voltage_v": 255,
            "for": "1h",
        }
    )
    simulation = simulators.FleetSimulation(
        registry,
        seed=7,
        interval_s=60.0,
        start_s=start,
        scenario=feed,
        cadence=simulators.cadence_for("field"),
    )
    first_flag = None
    for minute in range(180):
        for message in simulation.step(start + minute * 60):
            decoded = devices.decode_message(message.topic, message.payload)
            reading = decoded.payload
            mine = decoded.topic.device_id == "SL-0003"
            if mine and isinstance(reading, devices.StreetlightTelemetry) and reading.faults:
                first_flag = minute if first_flag is None else first_flag
    assert first_flag == 2 * 60 + 7


def test_a_red_lamp_out_is_raised_and_cleared_naming_its_approach_and_colour() -> None:
    registry = only(demo_registry(), devices.Kind.TRAFFIC_SIGNAL)
    out = scenario(
        {
            "at": "09:00",
            "incident": "signal_fault",
            "junction": "J-02",
            "fault": "lamp_out",
            "approach": "east",
            "detail": "red",
            "for": "45m",
        },
        start=datetime(2024, 7, 25, 8, tzinfo=ZONE),
    )
    seen = simulate(registry, datetime(2024, 7, 25, 8, tzinfo=ZONE), 3, interval_s=60, scenario=out)
    events = [
        (
            datetime.fromtimestamp(item.at, ZONE).strftime("%H:%M"),
            item.topic.device_id,
            item.payload,
        )
        for item in seen
        if item.topic.channel is devices.Channel.EVENT
    ]
    assert [
        (at, device, e.fault.value, e.active, e.approach, e.detail)
        for at, device, e in events
        if isinstance(e, devices.TrafficSignalFaultEvent)
    ] == [
        ("09:00", "TS-0002", "lamp_out", True, "east", "red"),
        ("09:45", "TS-0002", "lamp_out", False, "east", "red"),
    ]


def test_a_blind_camera_stays_online_and_healthy_but_reads_no_plate() -> None:
    registry = only(demo_registry(), devices.Kind.CHECKPOINT)
    start = datetime(2024, 7, 25, 8, tzinfo=ZONE)
    blind = scenario(
        {"at": "09:00", "incident": "camera_blind", "device": "CP-0002", "for": "1h"}, start=start
    )
    seen = simulate(registry, start, 3, interval_s=60, scenario=blind)
    t0 = start.timestamp()
    health: dict[str, list[float]] = {"before": [], "during": [], "after": []}
    passes = dict.fromkeys(health, 0)
    for item in seen:
        if item.topic.device_id != "CP-0002":
            continue
        part = "before" if item.at < t0 + 3600 else "during" if item.at < t0 + 7200 else "after"
        if isinstance(item.payload, devices.CheckpointTelemetry):
            assert item.payload.online
            assert item.payload.fps > 20
            health[part].append(item.payload.vehicles_per_min)
        elif item.topic.channel is devices.Channel.EVENT:
            passes[part] += 1
        else:
            assert item.topic.channel is devices.Channel.TELEMETRY
    assert passes["during"] == 0
    assert set(health["during"]) == {0.0}
    assert passes["before"] > 100
    assert passes["after"] > 100
    assert min(health["before"]) > 1.0
