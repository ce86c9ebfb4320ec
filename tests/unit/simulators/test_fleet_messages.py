"""Every message is valid and reproducible; the field's connection faults look like the field."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import devices
import simulators
from tests.unit.simulators.conftest import demo_registry, shipped, simulate

REGISTRY = demo_registry()


def raw_run(
    seed: int, scenario: simulators.Scenario | None = None, hours: float = 2
) -> list[bytes]:
    start = scenario.start if scenario and scenario.start else datetime(2024, 6, 24, 6, tzinfo=UTC)
    return [item.raw for item in simulate(REGISTRY, start, hours, scenario=scenario, seed=seed)]


def test_the_same_seed_gives_the_same_messages() -> None:
    assert raw_run(11) == raw_run(11)
    scenario = shipped("field-faults")
    assert raw_run(5, scenario, 6) == raw_run(5, shipped("field-faults"), 6)


def test_another_seed_gives_other_messages() -> None:
    assert raw_run(11) != raw_run(12)


INCIDENTS = st.one_of(
    st.builds(
        dict, incident=st.just("cabinet_power_cut"), cabinet=st.sampled_from(["C-01", "C-05"])
    ),
    st.builds(
        dict,
        incident=st.just("pollution_spill"),
        river=st.just("zhongtang-waterway"),
        section=st.sampled_from(["S1", "S2", "S4"]),
        ammonia_mg_l=st.floats(0, 100),
        permanganate_mg_l=st.floats(0, 100),
    ),
    st.builds(dict, incident=st.just("rain"), intensity=st.floats(1, 200)),
    st.builds(
        dict,
        incident=st.just("junction_jam"),
        junction=st.just("J-01"),
        capacity_pct=st.floats(0, 100),
    ),
    st.builds(
        dict,
        incident=st.just("signal_fault"),
        junction=st.just("J-02"),
        fault=st.sampled_from([f.value for f in devices.SignalFault]),
    ),
    st.builds(
        dict,
        incident=st.just("signal_mode"),
        junction=st.just("J-03"),
        mode=st.sampled_from([m.value for m in devices.SignalMode]),
    ),
    st.builds(
        dict,
        incident=st.sampled_from(["camera_offline", "storage_full"]),
        device=st.just("CP-0001"),
    ),
    st.builds(
        dict,
        incident=st.just("sensor_fault"),
        device=st.sampled_from(["WQ-0001", "SL-0001", "CP-0002", "TS-0001"]),
        field=st.sampled_from(["ph", "power_w", "temp_c", "ammonia_mg_l", "turbidity_ntu", "fps"]),
        fault_mode=st.sampled_from(["stuck", "drift", "spike", "out_of_range"]),
        drift_per_h=st.floats(-1e6, 1e6),
    ),
    st.builds(
        dict,
        incident=st.sampled_from(["dropout", "reconnect_storm"]),
        district=st.sampled_from(["guancheng", "humen"]),
    ),
    st.builds(
        dict,
        incident=st.just("clock_skew"),
        device=st.just("SL-0002"),
        skew_s=st.floats(-86_400, 86_400),
    ),
    st.builds(
        dict, incident=st.sampled_from(["duplicates", "out_of_order"]), probability=st.floats(0, 1)
    ),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32),
    start=st.datetimes(datetime(2000, 1, 1), datetime(2040, 1, 1), timezones=st.just(UTC)),
    interval_s=st.sampled_from([1.0, 5.0, 60.0, 900.0]),
    events=st.lists(st.tuples(st.integers(0, 180), st.integers(1, 120), INCIDENTS), max_size=4),
)
def test_every_published_payload_validates_whatever_the_seed_time_and_incidents(
    seed: int, start: datetime, interval_s: float, events: list[tuple[int, int, dict[str, object]]]
) -> None:
    incidents = [
        simulators.Incident.model_validate({"at": f"+{at}m", "for": f"{length}m", **body})
        for at, length, body in events
    ]
    scenario = simulators.Scenario("generated", incidents)
    simulation = simulators.FleetSimulation(
        REGISTRY, seed=seed, interval_s=interval_s, start_s=start.timestamp(), scenario=scenario
    )
    messages = simulation.statuses(start.timestamp(), online=True)
    for number in range(8):
        t = start.timestamp() + number * max(interval_s, 600.0)
        messages += simulation.step(t)
    assert messages
    for message in messages:
        decoded = devices.decode_message(message.topic, message.payload)  # raises if invalid
        assert decoded.topic.device_id in REGISTRY


def device_messages(device_id: str, seen_raw: list[tuple[str, bytes]]) -> list[dict[str, object]]:
    return [orjson.loads(payload) for topic, payload in seen_raw if f"/{device_id}/" in topic]


def run_faults() -> tuple[simulators.Scenario, list[tuple[str, bytes]]]:
    scenario = shipped("field-faults")
    assert scenario.start is not None
    start = scenario.start.timestamp()
    simulation = simulators.FleetSimulation(
        REGISTRY, seed=1, interval_s=60, start_s=start, scenario=scenario
    )
    out = []
    for number in range(6 * 60):
        out += [(m.topic, m.payload) for m in simulation.step(start + number * 60)]
    return scenario, out


FAULTS = run_faults()


def test_a_dropout_goes_offline_then_bursts_what_it_held_after_reconnecting() -> None:
    scenario, seen = FAULTS
    assert scenario.start is not None
    messages = device_messages("SL-0001", seen)
    offline = next(i for i, m in enumerate(messages) if m.get("online") is False)
    online = next(i for i, m in enumerate(messages) if m.get("online") is True)
    assert messages[offline]["reason"] == "connection_lost"
    burst = messages[online + 1 : online + 11]
    assert [m["seq"] for m in burst] == sorted(m["seq"] for m in burst)
    assert len(burst) == 10  # ten minutes held at one report a minute
    gone = datetime.fromtimestamp(int(messages[offline]["ts"]) / 1000, UTC)  # type: ignore[arg-type]
    assert gone == scenario.start + timedelta(hours=2)


def test_a_reconnect_storm_takes_a_whole_district_down_and_up_together() -> None:
    _, seen = FAULTS
    harbour = [r.id for r in REGISTRY.values() if r.district == "humen"]
    downs = {
        orjson.loads(p)["ts"]
        for t, p in seen
        if t.endswith("/status") and any(f"/{d}/" in t for d in harbour) and b'"online":false' in p
    }
    assert len(downs) == 1


def test_clock_skew_duplicates_and_reordering_show_in_ts_and_seq() -> None:
    scenario, seen = FAULTS
    assert scenario.start is not None
    skewed = [m for m in device_messages("SL-0002", seen) if "seq" in m]
    gaps = {int(b["ts"]) - int(a["ts"]) for a, b in itertools.pairwise(skewed)}  # type: ignore[call-overload]
    assert -240_000 in gaps  # the clock jumped back five minutes between two one-minute reports
    duplicated = [m["seq"] for m in device_messages("SL-0003", seen) if "seq" in m]
    assert len(duplicated) > len(set(duplicated))
    reordered = [m["seq"] for m in device_messages("CP-0001", seen) if "seq" in m]
    assert reordered != sorted(reordered)
    assert sorted(reordered) == sorted(set(reordered))
    untouched = [m["seq"] for m in device_messages("SL-0004", seen) if "seq" in m]
    assert untouched == list(range(1, len(untouched) + 1))
