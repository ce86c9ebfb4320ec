"""A spill's incident says where it goes next, and its predictions hold against the simulator.

The simulated fleet runs the pollution-spill scenario through the real decoder and the shipped
rules (event time, as in tests/integration/test_alerts_scenarios.py); every alert change goes to
the incident service as the engine would hand it over. The forecast made when the first station
saw the spill must put each station downstream within ±20 % of the simulator's own arrival
time there (when the pulse peaks in the station's simulated readings), counted from the
first alert; and once a station confirms, the places below it are timed from that alert.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import simulators
from alerts import AlertChange, ChangeKind, Evaluator, Observation, load_rules
from command import SpillForecast, WaypointState, river_course
from devices import Kind, Registry, WaterQualityTelemetry, decode_message
from tests.unit.command.factory import ROOT, FakeClock, fleet, service, water

REPORT_S = 60.0


def scenario() -> simulators.Scenario:
    return simulators.load_scenario(ROOT / "config" / "scenarios" / "pollution-spill.yaml")


@dataclass(frozen=True)
class SimulatedSpill:
    """What the simulated river did: every alert change, and the simulator's own arrival time
    at each station (when its ammonia reading peaked, the pulse's arrival in the simulator)."""

    changes: tuple[AlertChange, ...]
    arrivals: dict[str, datetime]


@functools.cache
def simulated_spill() -> SimulatedSpill:
    """The pollution-spill scenario through the decoder and the shipped rules (the river's
    stations only: the rest of the city has nothing to say about a spill, and this takes a
    second)."""
    city = fleet()
    registry = Registry.from_records(
        [record for record in city.values() if record.kind is Kind.WATER_QUALITY],
        city=city.city,
        waters=tuple(city.waters.values()),
    )
    spill = scenario()
    assert spill.start is not None
    assert spill.duration_s is not None
    start_s = spill.start.timestamp()
    simulation = simulators.FleetSimulation(
        registry, seed=42, interval_s=REPORT_S, start_s=start_s, scenario=spill
    )
    evaluator = Evaluator(
        load_rules(ROOT / "config" / "rules"),
        registry,
        max_clock_skew=None,
        started_at=spill.start,
    )
    changes: list[AlertChange] = []
    peaks: dict[str, tuple[float, datetime]] = {}

    def record(transitions) -> None:
        for transition in transitions:
            if transition.change is ChangeKind.FIRING and transition.alert.fired_at:
                changes.append(
                    AlertChange(transition.alert, transition.change, transition.alert.fired_at)
                )

    t = start_s
    while t <= start_s + spill.duration_s:
        for out in simulation.step(t):
            message = decode_message(out.topic, out.payload)
            payload = message.payload
            at = getattr(payload, "ts", None) or datetime.fromtimestamp(t, UTC)
            if isinstance(payload, WaterQualityTelemetry):
                station = message.topic.device_id
                if payload.ammonia_mg_l > peaks.get(station, (-1.0, at))[0]:
                    peaks[station] = (payload.ammonia_mg_l, at)
            record(
                evaluator.observe(Observation(message, registry.get(message.topic.device_id), at))
            )
        record(evaluator.tick(datetime.fromtimestamp(t, UTC)))
        t += REPORT_S
    return SimulatedSpill(tuple(changes), {station: at for station, (_, at) in peaks.items()})


def spill_changes() -> tuple[AlertChange, ...]:
    return simulated_spill().changes


def first_seen() -> dict[str, datetime]:
    """When each station's first alert of the spill fired: the simulated spill's arrival as
    the station itself saw it."""
    seen: dict[str, datetime] = {}
    for change in spill_changes():
        seen.setdefault(change.alert.labels["device"], change.at)
    return seen


async def forecast_after(tmp_path, count: int) -> SpillForecast:
    clock = FakeClock()
    incidents = service(tmp_path / "i.sqlite", clock)
    for change in spill_changes()[:count]:
        clock.now = change.at
        await incidents.notify(change)
    [incident] = incidents.list_incidents()
    assert incident.forecast is not None
    return incident.forecast


async def test_the_first_forecast_names_every_place_downstream_in_river_order(tmp_path):
    forecast = await forecast_after(tmp_path, 1)
    assert (forecast.river, forecast.origin, forecast.origin_section) == (
        "zhongtang-waterway",
        "WQ-0001",
        "S1",
    )
    assert [(w.name, w.kind) for w in forecast.waypoints] == [
        ("WQ-0002", "station"),
        ("WQ-0003", "station"),
        ("WQ-0004", "station"),
        ("zhongtang-waterworks-intake", "intake"),
        ("WQ-0005", "station"),
    ]
    assert [w.km_from_origin for w in forecast.waypoints] == [1.44, 2.88, 4.32, 5.02, 5.76]


async def test_the_predicted_arrival_at_each_station_is_within_20_percent_of_the_simulators(
    tmp_path,
):
    forecast = await forecast_after(tmp_path, 1)
    origin_at = first_seen()["WQ-0001"]
    assert forecast.seen_at == origin_at
    arrivals = simulated_spill().arrivals
    stations = [w for w in forecast.waypoints if w.kind == "station"]
    assert [w.name for w in stations] == ["WQ-0002", "WQ-0003", "WQ-0004", "WQ-0005"]
    for waypoint in stations:
        assert waypoint.expected_at is not None
        simulated = arrivals[waypoint.name] - origin_at
        predicted = waypoint.expected_at - origin_at
        error = abs(predicted - simulated) / simulated
        assert error <= 0.20, (waypoint.name, predicted, simulated)


async def test_each_station_that_sees_the_spill_confirms_it_and_times_the_rest_from_it(tmp_path):
    changes = spill_changes()
    seen = first_seen()
    upto = next(i for i, c in enumerate(changes) if c.alert.labels["device"] == "WQ-0002") + 1
    forecast = await forecast_after(tmp_path, upto)
    second, third = forecast.waypoints[0], forecast.waypoints[1]
    assert (second.name, second.state, second.seen_at) == (
        "WQ-0002",
        WaypointState.CONFIRMED,
        seen["WQ-0002"],
    )
    assert third.state is WaypointState.EXPECTED
    assert third.expected_at == seen["WQ-0002"] + timedelta(hours=1)  # 1.44 km at 0.4 m/s
    simulated = seen["WQ-0003"] - seen["WQ-0002"]
    assert abs(timedelta(hours=1) - simulated) <= 0.2 * simulated


async def test_a_station_silent_past_its_expected_time_and_margin_is_marked_missed(tmp_path):
    clock = FakeClock()
    incidents = service(tmp_path / "i.sqlite", clock)
    first = spill_changes()[0]
    clock.now = first.at
    await incidents.notify(first)
    [incident] = incidents.list_incidents()
    assert incident.forecast is not None
    expected = incident.forecast.waypoints[0].expected_at
    assert expected is not None
    clock.now = expected + timedelta(minutes=29)
    await incidents.tick()
    assert incidents.get(incident.id).forecast.waypoints[0].state is WaypointState.EXPECTED
    clock.now = expected + timedelta(minutes=31)
    await incidents.tick()
    after = incidents.get(incident.id)
    assert [w.state for w in after.forecast.waypoints][:2] == [
        WaypointState.MISSED,
        WaypointState.EXPECTED,
    ]
    assert after.timeline[-1].text == "WQ-0002 did not confirm the spill by the expected time"


def test_a_course_without_stretch_lengths_orders_the_stations_but_times_nothing():
    city = fleet()
    without_waters = Registry.from_records(list(city.values()), city=city.city)
    course = river_course(without_waters, "zhongtang-waterway")
    assert [p.name for p in course.points] == [
        "WQ-0001",
        "WQ-0002",
        "WQ-0003",
        "WQ-0004",
        "WQ-0005",
    ]
    forecast = course.forecast("WQ-0002", datetime(2024, 6, 20, 18, 0, tzinfo=UTC))
    assert forecast is not None
    assert [w.name for w in forecast.waypoints] == ["WQ-0003", "WQ-0004", "WQ-0005"]
    assert {w.expected_at for w in forecast.waypoints} == {None}


async def test_a_replayed_spill_judges_missed_stations_by_the_rivers_own_clock(tmp_path):
    """A replay (event time) runs the river on the devices' clocks: a station is missed when
    the replayed alerts have moved past its time, not because the wall clock is days ahead."""
    clock = FakeClock(datetime(2030, 1, 1, tzinfo=UTC))  # the wall clock, long after the spill
    incidents = service(tmp_path / "i.sqlite", clock, event_time=True)
    first = spill_changes()[0]
    await incidents.notify(first)
    await incidents.tick()
    [incident] = incidents.list_incidents()
    assert incident.forecast is not None
    assert {w.state for w in incident.forecast.waypoints} == {WaypointState.EXPECTED}
    # a later alert elsewhere on the river, three hours on: WQ-0002 and WQ-0003 are overdue
    await incidents.notify(water("ph-low", "WQ-0001", "S1", first.at + timedelta(hours=3)))
    await incidents.tick()
    forecast = incidents.get(incident.id).forecast
    assert [w.state for w in forecast.waypoints[:3]] == [
        WaypointState.MISSED,
        WaypointState.MISSED,
        WaypointState.EXPECTED,
    ]
