"""The default rule pack against the simulators' scenarios, in simulated time.

Every message the simulated fleet would publish goes through the real decoder into the
evaluator (event time: the devices' clocks), so a 24-hour day takes seconds. Each scenario must
produce exactly the alerts a control room would want, and the clean day none at all. The same
pack on the real broker, gateway and InfluxDB is in test_alerts_pipeline.py.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import simulators
from alerts import ChangeKind, Evaluator, Observation, Transition, load_rules
from devices import Registry, decode_message, load_registry

ROOT = Path(__file__).parents[2]
SHANGHAI = ZoneInfo("Asia/Shanghai")
REPORT_S = 60.0  # one report a simulated minute: the rules' for: and windows are minutes long


def fleet() -> Registry:
    return load_registry(ROOT / "config" / "fleet.yaml")


def announced(
    name: str, cadence: simulators.Cadence | None = None
) -> list[tuple[str, str, str, datetime]]:
    """(change, rule, subject, when) of every announced change over the whole scenario.

    ``cadence`` None: every device reports every simulated minute."""
    registry = fleet()
    scenario = simulators.load_scenario(ROOT / "config" / "scenarios" / f"{name}.yaml")
    assert scenario.start is not None
    assert scenario.duration_s is not None
    start_s = scenario.start.timestamp()
    simulation = simulators.FleetSimulation(
        registry,
        seed=42,
        interval_s=REPORT_S,
        start_s=start_s,
        scenario=scenario,
        cadence=cadence,
    )
    evaluator = Evaluator(
        load_rules(ROOT / "config" / "rules"),
        registry,
        max_clock_skew=None,
        started_at=scenario.start,
    )
    seen: list[tuple[str, str, str, datetime]] = []

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
        t += REPORT_S
    return seen


def fired(changes: list[tuple[str, str, str, datetime]]) -> list[tuple[str, str]]:
    return sorted((rule, subject) for change, rule, subject, _ in changes if change == "firing")


def local(changes: list[tuple[str, str, str, datetime]], rule: str, subject: str) -> list[str]:
    """The local (Shanghai) clock times of one alert's changes."""
    return [
        f"{change} {when.astimezone(SHANGHAI):%H:%M}"
        for change, r, s, when in changes
        if (r, s) == (rule, subject)
    ]


def test_a_clean_simulated_day_raises_no_alert():
    assert announced("clean-day") == []


def test_a_clean_day_at_the_demo_cadence_raises_no_alert():
    # the default of SMARTCITY_SIMULATE_CADENCE: signals and cameras at their field cadence
    assert announced("clean-day", simulators.cadence_for("demo")) == []


def test_at_field_cadence_only_the_water_stations_absence_rule_breaks():
    """Every kind at its real cadence: lights every 15 min (and at once on a change), water
    stations hourly. The default pack holds for all but one rule: water-station-silent (30 min)
    fires between every two hourly samples. Its absence window, and the sparse-sample ``for:``
    and rate rules of the water pack, wait for the evaluator work of issue 13; when that lands
    this test should say the clean day raises nothing at field cadence either."""
    changes = announced("clean-day", simulators.cadence_for("field"))
    assert {rule for _, rule, _, _ in changes} == {"water-station-silent"}


def test_a_cabinet_power_cut_at_field_cadence_is_still_seen_at_once():
    # the controllers report the lost mains at once, not at their next quarter hour
    changes = announced("cabinet-power-cut", simulators.cadence_for("field"))
    assert local(changes, "cabinet-power-lost", "C-02") == ["firing 02:12", "resolved 02:50"]


def test_a_cabinet_power_cut_is_one_alert_for_the_cabinet():
    changes = announced("cabinet-power-cut")
    assert fired(changes) == [("cabinet-power-lost", "C-02")]
    # the cut starts at 02:10 and lasts 40 minutes; for: 2m
    assert local(changes, "cabinet-power-lost", "C-02") == ["firing 02:12", "resolved 02:50"]


def test_an_offline_camera_is_one_alert_for_that_camera():
    changes = announced("offline-camera")
    assert fired(changes) == [("camera-offline", "CP-0003")]
    assert local(changes, "camera-offline", "CP-0003") == ["firing 09:02", "resolved 09:40"]


def test_a_jammed_junction_fires_once_for_that_junction():
    changes = announced("jammed-junction")
    assert fired(changes) == [("junction-jammed", "TS-0002")]
    firing, resolved = local(changes, "junction-jammed", "TS-0002")
    assert firing.startswith("firing 07:")  # the lorry stops at 07:30; queues take a while
    assert "07:40" <= firing.split()[1] <= "07:59"
    assert resolved.split()[0] == "resolved"
    assert resolved.split()[1] > "09:00"  # the jam lasts 90 minutes, then drains


@pytest.mark.parametrize("station", ["WQ-0001", "WQ-0002", "WQ-0003", "WQ-0004", "WQ-0005"])
def test_a_pollution_spill_alerts_each_station_downstream_in_turn(station):
    changes = announced_spill()
    assert ("water-below-target-class", station) in fired(changes)
    assert ("ammonia-rising-fast", station) in fired(changes)


@functools.cache
def announced_spill() -> list[tuple[str, str, str, datetime]]:
    return announced("pollution-spill")  # ten simulated hours: run once for the tests below


def test_the_spill_reaches_the_stations_in_river_order_and_nothing_else_fires():
    changes = announced_spill()
    assert {rule for _, rule, _, _ in changes} == {
        "water-below-target-class",
        "ammonia-rising-fast",
    }
    first_firing = {}
    for change, rule, subject, when in changes:
        if change == "firing" and rule == "water-below-target-class":
            first_firing.setdefault(subject, when)
    order = sorted(first_firing, key=first_firing.__getitem__)
    assert order == ["WQ-0001", "WQ-0002", "WQ-0003", "WQ-0004", "WQ-0005"]
    resolved = {subject for change, _, subject, _ in changes if change == "resolved"}
    assert resolved == set(first_firing)  # the river recovers behind the plume
