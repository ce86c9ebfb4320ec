"""Junctions and cameras: peaks over night, jams building and draining, modes, faults, offline."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import devices
from tests.unit.simulators.conftest import Seen, only, shipped, simulate

SIGNALS = devices.Kind.TRAFFIC_SIGNAL
CAMERAS = devices.Kind.CHECKPOINT


def hour_of(item: Seen, zone: ZoneInfo) -> int:
    return datetime.fromtimestamp(item.at, zone).hour


def test_peak_hours_carry_more_vehicles_than_the_night(registry: devices.Registry) -> None:
    zone = ZoneInfo(registry.city.timezone)
    monday = datetime(2024, 6, 24, tzinfo=zone)
    seen = simulate(only(registry, SIGNALS, CAMERAS), monday, 24, interval_s=300)
    volume: dict[int, int] = {}
    passes: dict[int, int] = {}
    for item in seen:
        hour = hour_of(item, zone)
        if isinstance(item.payload, devices.TrafficSignalTelemetry):
            volume[hour] = volume.get(hour, 0) + sum(a.volume_veh for a in item.payload.approaches)
        if isinstance(item.payload, devices.VehiclePass):
            passes[hour] = passes.get(hour, 0) + 1
    for counts in (volume, passes):
        # a manufacturing city working shifts: the night keeps about a sixth of the peak
        assert counts[8] > 3 * counts[3]
        assert counts[18] > 3 * counts[3]
        assert counts[8] > counts[11]


def test_a_jammed_junction_builds_queues_that_drain_afterwards(registry: devices.Registry) -> None:
    scenario = shipped("jammed-junction")
    assert scenario.start is not None
    zone = ZoneInfo(registry.city.timezone)
    seen = simulate(
        only(registry, SIGNALS, CAMERAS), scenario.start, 5, interval_s=60, scenario=scenario
    )
    queue: dict[str, dict[str, int]] = {}
    for item in seen:
        if isinstance(item.payload, devices.TrafficSignalTelemetry):
            clock = datetime.fromtimestamp(item.at, zone).strftime("%H:%M")
            total = sum(a.queue_veh for a in item.payload.approaches)
            queue.setdefault(item.topic.device_id, {})[clock] = total
    jammed, other = queue["TS-0002"], queue["TS-0001"]
    assert jammed["08:55"] > 10 * max(jammed["07:25"], 1)
    assert jammed["08:55"] > 10 * max(other["08:55"], 1)
    assert jammed["10:55"] < jammed["08:55"] / 5
    slow = [
        item.payload.speed_kmh
        for item in seen
        if isinstance(item.payload, devices.VehiclePass)
        and item.topic.device_id == "CP-0002"
        and "08:00" <= datetime.fromtimestamp(item.at, zone).strftime("%H:%M") < "09:00"
    ]
    free = [
        item.payload.speed_kmh
        for item in seen
        if isinstance(item.payload, devices.VehiclePass)
        and item.topic.device_id == "CP-0002"
        and datetime.fromtimestamp(item.at, zone).strftime("%H:%M") < "07:30"
    ]
    assert sum(slow) / len(slow) < 0.6 * sum(free) / len(free)


def test_each_junction_flashes_by_its_own_schedule_and_some_never(
    registry: devices.Registry,
) -> None:
    zone = ZoneInfo(registry.city.timezone)
    signals = only(registry, SIGNALS)
    schedules = {r.id: r.flash_schedule for r in signals.values()}
    assert len(set(schedules.values())) >= 3  # not all the same
    assert None in schedules.values()  # arterials run their cycle all night
    seen = simulate(signals, datetime(2024, 6, 24, tzinfo=zone), 24, interval_s=900)
    flashed: set[str] = set()
    for item in seen:
        reading = item.payload
        assert isinstance(reading, devices.TrafficSignalTelemetry)
        schedule = schedules[item.topic.device_id]
        local = datetime.fromtimestamp(item.at, zone).time()
        if schedule is not None and devices.in_local_span(
            local, *devices.parse_local_span(schedule)
        ):
            flashed.add(item.topic.device_id)
            assert (reading.mode, reading.phase, reading.cycle_s) == (
                devices.SignalMode.FLASH,
                0,
                0,
            )
        else:
            assert reading.mode is devices.SignalMode.ACTUATED
            assert reading.phase >= 1
    assert flashed == {device for device, schedule in schedules.items() if schedule}


def test_a_conflict_forces_flash_and_its_fault_is_raised_then_cleared(
    registry: devices.Registry,
) -> None:
    scenario = shipped("field-faults")
    assert scenario.start is not None
    seen = simulate(only(registry, SIGNALS), scenario.start, 6, interval_s=300, scenario=scenario)
    events = [
        (item.at, item.payload)
        for item in seen
        if item.topic.device_id == "TS-0001" and item.topic.channel is devices.Channel.EVENT
    ]
    assert [(e.fault, e.active) for _, e in events] == [
        (devices.SignalFault.CONFLICT, True),
        (devices.SignalFault.CONFLICT, False),
    ]
    raised, cleared = events[0][0], events[1][0]
    modes = {
        item.payload.mode
        for item in seen
        if item.topic.device_id == "TS-0001"
        and isinstance(item.payload, devices.TrafficSignalTelemetry)
        and raised <= item.at < cleared
    }
    assert modes == {devices.SignalMode.FLASH}
    dead = [
        next(a for a in item.payload.approaches if a.approach == "north")
        for item in seen
        if item.topic.device_id == "TS-0003"
        and isinstance(item.payload, devices.TrafficSignalTelemetry)
        and scenario.start.timestamp() + 4 * 3600
        <= item.at
        < scenario.start.timestamp() + 4.5 * 3600
    ]
    assert dead
    assert all((a.volume_veh, a.occupancy_pct) == (0, 0.0) for a in dead)


def test_an_offline_camera_says_so_and_is_silent_until_it_returns(
    registry: devices.Registry,
) -> None:
    scenario = shipped("offline-camera")
    assert scenario.start is not None
    zone = ZoneInfo(registry.city.timezone)
    seen = simulate(only(registry, CAMERAS), scenario.start, 3, interval_s=60, scenario=scenario)
    mine = [item for item in seen if item.topic.device_id == "CP-0003"]
    statuses = [
        (datetime.fromtimestamp(item.at, zone).strftime("%H:%M"), item.payload)
        for item in mine
        if isinstance(item.payload, devices.Status)
    ]
    assert [(clock, status.online, status.reason) for clock, status in statuses] == [
        ("09:00", False, "camera_offline"),
        ("09:40", True, None),
    ]
    quiet = [
        item
        for item in mine
        if "09:00" <= datetime.fromtimestamp(item.at, zone).strftime("%H:%M") < "09:40"
        and not isinstance(item.payload, devices.Status)
    ]
    assert quiet == []


def test_violations_come_at_realistic_rates(registry: devices.Registry) -> None:
    zone = ZoneInfo(registry.city.timezone)
    seen = simulate(
        only(registry, CAMERAS), datetime(2024, 6, 24, 7, tzinfo=zone), 4, interval_s=60
    )
    passes = sum(isinstance(item.payload, devices.VehiclePass) for item in seen)
    violations = [item.payload for item in seen if isinstance(item.payload, devices.Violation)]
    assert passes > 5_000
    share = len(violations) / passes
    assert 0.001 < share < 0.10
    for violation in violations:
        if violation.violation is devices.ViolationKind.SPEEDING:
            assert violation.speed_kmh is not None
            assert violation.limit_kmh is not None
            assert violation.speed_kmh > violation.limit_kmh


def test_storage_fills_up_when_rotation_stops(registry: devices.Registry) -> None:
    scenario = shipped("field-faults")
    assert scenario.start is not None
    seen = simulate(only(registry, CAMERAS), scenario.start, 6, interval_s=300, scenario=scenario)
    storage = [
        item.payload.storage_used_pct
        for item in seen
        if item.topic.device_id == "CP-0004"
        and isinstance(item.payload, devices.CheckpointTelemetry)
    ]
    assert max(storage) == 100.0
    assert storage[0] < 90.0
