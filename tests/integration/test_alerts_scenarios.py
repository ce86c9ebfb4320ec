"""The default rule pack against the simulators' scenarios at field cadence, in simulated time.

Every message the simulated fleet would publish, each kind at its real cadence (lights every
15 min and at once on a change, water stations hourly with their analysers every 4 h, signals
and cameras every minute), goes through the real decoder into the evaluator (event time: the
devices' clocks), so a simulated week takes seconds. A clean week must raise nothing, and each
shipped scenario exactly the alerts a control room would want; the clean day also at the demo's
cadence, the default of ``SMARTCITY_SIMULATE_CADENCE``. The same pack on the real
broker, gateway and InfluxDB is in test_alerts_pipeline.py. (``day``, the demo's scenario, runs
on the 2,400-device day fleet and is checked by tests/e2e/test_demo_day.py.)
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import simulators
from alerts import ChangeKind, Evaluator, Observation, Transition, load_rules
from devices import Kind, Registry, decode_message, load_registry

ROOT = Path(__file__).parents[2]
DONGGUAN = ZoneInfo("Asia/Shanghai")
STEP_S = 60.0  # the simulation's step: the shortest report period (signals, cameras)
FIELD = simulators.cadence_for("field")

Change = tuple[str, str, str, datetime]


@functools.cache
def fleet() -> Registry:
    return load_registry(ROOT / "config" / "fleet.yaml")


def week_fleet() -> Registry:
    """A small town for the clean week: humen's two cabinets of lights, its junction (never
    flashes) and camera, two junctions whose flash schedules wrap midnight, and every water
    station (the river's five and the lake's two)."""
    full = fleet()
    records = [
        record
        for record in full.values()
        if record.district == "humen"
        or record.kind is Kind.WATER_QUALITY
        or record.id in ("TS-0003", "TS-0008")
    ]
    return Registry.from_records(records, city=full.city, waters=tuple(full.waters.values()))


def announced(
    scenario: simulators.Scenario,
    registry: Registry | None = None,
    cadence: simulators.Cadence = FIELD,
) -> list[Change]:
    """(change, rule, subject, when) of every announced change over the whole scenario; the
    subject is the device or cabinet, with ``/approach`` where the alert names one."""
    registry = registry or fleet()
    assert scenario.start is not None
    assert scenario.duration_s is not None
    start_s = scenario.start.timestamp()
    simulation = simulators.FleetSimulation(
        registry, seed=42, interval_s=STEP_S, start_s=start_s, scenario=scenario, cadence=cadence
    )
    evaluator = Evaluator(
        load_rules(ROOT / "config" / "rules"),
        registry,
        max_clock_skew=None,
        started_at=scenario.start,
    )
    seen: list[Change] = []

    def feed(messages: list[simulators.Outgoing], t: float) -> None:
        for out in messages:
            message = decode_message(out.topic, out.payload)
            at = getattr(message.payload, "ts", None) or datetime.fromtimestamp(t, UTC)
            record = registry.get(message.topic.device_id)
            record_changes(evaluator.observe(Observation(message, record, at)))

    def record_changes(transitions: list[Transition]) -> None:
        for transition in transitions:
            if transition.change is not None:
                alert = transition.alert
                subject = alert.labels.get("device") or alert.labels.get("cabinet") or "?"
                if alert.labels.get("approach"):
                    subject += "/" + alert.labels["approach"]
                when = (
                    alert.resolved_at
                    if transition.change is ChangeKind.RESOLVED
                    else alert.fired_at
                )
                assert when is not None
                seen.append((transition.change.value, alert.rule, subject, when))

    t = start_s
    feed(simulation.statuses(t, online=True), t)
    while t <= start_s + scenario.duration_s:
        feed(simulation.step(t), t)
        record_changes(evaluator.tick(datetime.fromtimestamp(t, UTC)))
        t += STEP_S
    return seen


@functools.cache
def shipped(name: str) -> list[Change]:
    """A shipped scenario's changes, run once for all the tests that look at it."""
    return announced(simulators.load_scenario(ROOT / "config" / "scenarios" / f"{name}.yaml"))


def fired(changes: list[Change]) -> list[tuple[str, str]]:
    return sorted((rule, subject) for change, rule, subject, _ in changes if change == "firing")


def local(changes: list[Change], rule: str, subject: str) -> list[str]:
    """The local (Dongguan) clock times of one alert's changes."""
    return [
        f"{change} {when.astimezone(DONGGUAN):%H:%M}"
        for change, r, s, when in changes
        if (r, s) == (rule, subject)
    ]


def test_a_clean_simulated_week_at_field_cadence_raises_no_alert():
    # Monday 22 to Monday 29 July: Dongguan's warmest nights, every junction's flash schedule
    # seven times over, the water stations' analysers 42 times
    week = simulators.Scenario(
        "clean-week", [], start=datetime(2024, 7, 22, tzinfo=DONGGUAN), duration_s=7 * 86_400
    )
    assert announced(week, week_fleet()) == []


def test_a_clean_day_of_the_whole_fleet_at_field_cadence_raises_no_alert():
    assert shipped("clean-day") == []


def test_a_clean_day_at_the_demo_cadence_raises_no_alert():
    # the default of SMARTCITY_SIMULATE_CADENCE: lights and water stations at every step
    clean = simulators.load_scenario(ROOT / "config" / "scenarios" / "clean-day.yaml")
    assert announced(clean, cadence=simulators.cadence_for("demo")) == []


# every shipped scenario (but the demo's day): exactly these alerts, each raised once
EXPECTED: dict[str, list[tuple[str, str]]] = {
    "cabinet-power-cut": [("cabinet-power-lost", "C-02")],
    "offline-camera": [("camera-offline", "CP-0003")],
    "jammed-junction": [("junction-jammed", "TS-0002")],
    # a one-hour pulse passes between two 4-hourly analyses: only S2's hourly oxygen probe
    # sees it in two samples in a row (reported every step, as the demo runs it, every station
    # alerts in turn: tests/unit/command/test_spill.py)
    "pollution-spill": [("water-below-target-class", "WQ-0002")],
    # six hours of discharge: every station downstream, its class alert and its rise once
    "overnight-discharge": [
        (rule, f"WQ-000{n}")
        for rule in ("water-below-target-class", "ammonia-rising-fast")
        for n in range(1, 6)
    ],
    "power-cut-during-spill": [
        ("cabinet-power-lost", "C-02"),
        # a one-hour discharge: the 4-hourly analysers miss it, two hourly oxygen samples in a
        # row see it at S2 only
        ("water-below-target-class", "WQ-0002"),
    ],
    "field-faults": [
        ("camera-storage-full", "CP-0004"),
        ("signal-conflict", "TS-0001"),
        ("signal-detector-failure", "TS-0003/north"),
        # the conflict forces the junction into flash at 11:00, outside its schedule
        ("signal-flash-outside-schedule", "TS-0001"),
    ],
    "equipment-faults": sorted(
        [
            ("camera-capturing-nothing", "CP-0002"),
            ("signal-red-lamp-out", "TS-0002/north"),
            ("signal-detector-failure", "TS-0003/north"),
            ("lamp-driver-failure", "SL-0002"),
            ("lamp-over-temperature-flag", "SL-0001"),
            *[("lamp-over-voltage", f"SL-{n:04d}") for n in range(17, 25)],
            *[("lamp-under-voltage", f"SL-{n:04d}") for n in range(25, 33)],
        ]
    ),
}


def test_every_shipped_scenario_has_its_expected_alerts():
    names = set(simulators.scenario_names(ROOT / "config" / "scenarios"))
    assert names - {"clean-day", "day"} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_shipped_scenario_raises_exactly_its_alerts_at_field_cadence(name):
    assert fired(shipped(name)) == sorted(EXPECTED[name])


def test_a_cabinet_power_cut_is_seen_at_once_though_lights_report_every_quarter_hour():
    # the controllers report the lost mains at once, not at their next quarter hour; for: 2m
    changes = shipped("cabinet-power-cut")
    assert local(changes, "cabinet-power-lost", "C-02") == ["firing 02:12", "resolved 02:50"]


def test_an_offline_camera_is_one_alert_for_that_camera():
    changes = shipped("offline-camera")
    assert local(changes, "camera-offline", "CP-0003") == ["firing 09:02", "resolved 09:40"]


def test_a_jammed_junction_fires_once_while_the_lorry_blocks_it():
    firing, resolved = local(shipped("jammed-junction"), "junction-jammed", "TS-0002")
    assert firing.startswith("firing 07:")  # the lorry stops at 07:30; queues take a while
    assert "07:40" <= firing.split()[1] <= "07:59"
    assert resolved.split()[0] == "resolved"
    assert resolved.split()[1] > "09:00"  # the jam lasts 90 minutes, then drains


def test_the_spill_reaches_the_stations_in_river_order_and_the_river_recovers():
    changes = shipped("overnight-discharge")
    first_firing: dict[str, datetime] = {}
    for change, rule, subject, when in changes:
        if change == "firing" and rule == "water-below-target-class":
            first_firing.setdefault(subject, when)
    stations = ["WQ-0001", "WQ-0002", "WQ-0003", "WQ-0004", "WQ-0005"]
    times = [first_firing[station] for station in stations]
    assert times == sorted(times)
    assert times[-1] - times[0] >= timedelta(hours=3)  # about an hour a stretch
    resolved = {(rule, s) for change, rule, s, _ in changes if change == "resolved"}
    assert resolved == set(fired(changes))  # the river recovers behind the plume


def test_equipment_faults_are_raised_when_they_happen_and_cleared_when_repaired():
    changes = shipped("equipment-faults")
    # a covered lens is an hour of nothing in full daylight, then clears with the first plate
    assert local(changes, "camera-capturing-nothing", "CP-0002") == [
        "firing 09:00",
        "resolved 10:00",
    ]
    # a red lamp out and a failed detector are latched from the controller's fault events
    assert local(changes, "signal-red-lamp-out", "TS-0002/north") == [
        "firing 09:00",
        "resolved 10:00",
    ]
    assert local(changes, "signal-detector-failure", "TS-0003/north") == [
        "firing 10:00",
        "resolved 11:00",
    ]
    # lamp flags: pushed at once at 20:00, confirmed by the next quarter-hour report, kept an
    # hour after the repair at 22:00
    for rule, lamp in (
        ("lamp-driver-failure", "SL-0002"),
        ("lamp-over-temperature-flag", "SL-0001"),
    ):
        firing, resolved = local(changes, rule, lamp)
        assert "20:00" < firing.split()[1] <= "20:15", (rule, firing)
        assert resolved == "resolved 23:00"
