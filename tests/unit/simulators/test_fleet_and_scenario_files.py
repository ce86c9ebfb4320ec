"""Fleet files become registries of any size; bad fleet and scenario files say what is wrong."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import devices
import simulators
from tests.unit.simulators.conftest import ROOT, demo_registry


def test_the_demo_city_has_every_kind_several_cabinets_and_an_ordered_river() -> None:
    registry = demo_registry()
    assert 90 <= len(registry) <= 110
    assert all(registry.of_kind(kind) for kind in devices.Kind)
    assert len({r.district for r in registry.values()}) == 9
    assert len({r.cabinet for r in registry.of_kind(devices.Kind.STREETLIGHT)}) >= 4
    river = sorted(
        (r for r in registry.of_kind(devices.Kind.WATER_QUALITY) if r.river != "songshan-lake"),
        key=lambda r: r.id,
    )
    assert [r.section_order for r in river] == [1, 2, 3, 4, 5]
    assert [r.section for r in river] == ["S1", "S2", "S3", "S4", "S5"]
    assert {r.river for r in river} == {"zhongtang-waterway"}


def test_the_shipped_registry_is_what_the_demo_fleet_file_generates() -> None:
    shipped = devices.load_registry(ROOT / "config/fleet.yaml")
    generated = demo_registry()
    assert list(shipped) == list(generated)
    assert all(shipped[i] == generated[i] for i in generated)


def test_a_generated_registry_survives_the_gateways_file_format(tmp_path: Path) -> None:
    registry = simulators.generate_registry(simulators.scaled_fleet_spec(500))
    devices.dump_registry(registry, tmp_path / "fleet.yaml")
    loaded = devices.load_registry(tmp_path / "fleet.yaml")
    assert list(loaded) == list(registry)
    assert loaded.city == registry.city


def test_a_city_of_a_hundred_thousand_devices_can_be_generated() -> None:
    registry = simulators.generate_registry(simulators.scaled_fleet_spec(100_000))
    assert abs(len(registry) - 100_000) < 200
    assert all(registry.of_kind(kind) for kind in devices.Kind)
    assert len({r.cabinet for r in registry.of_kind(devices.Kind.STREETLIGHT)}) > 2_000


load_fleet = simulators.load_fleet_spec


def refusal(path: Path, text: str, load: Callable[[Path], object]) -> simulators.SimulatorError:
    """What loading ``text`` from ``path`` raises."""
    path.write_text(text, encoding="utf-8")
    with pytest.raises(simulators.SimulatorError) as caught:
        load(path)
    return caught.value


def test_a_fleet_file_error_names_the_file_the_line_and_the_field(tmp_path: Path) -> None:
    path = tmp_path / "fleet.yaml"
    text = "city: {name: Dongguan}\ndistricts:\n  - {name: centre, streetlights: 3}\n"
    error = refusal(path, text + "  - name: Riverside\n    streetlights: 2\n", load_fleet)
    assert isinstance(error, simulators.FleetFileInvalid)
    assert str(error) == (
        f"{path}:4: districts.1.name: String should match pattern '^[a-z0-9-]{{1,32}}$'"
    )
    assert error.line == 4
    text = "districts: [{name: a}]\nrivers: [{name: r, sections: 2, districts: [b]}]\n"
    assert "unknown district 'b'" in str(refusal(path, text, load_fleet))
    broken = refusal(path, "districts:\n  - {name: a, streetlights: [3\n", load_fleet)
    assert str(broken).startswith(f"{path}:2: not valid YAML")


def test_a_districts_flash_schedules_go_to_its_junctions_in_turn(tmp_path: Path) -> None:
    path = tmp_path / "fleet.yaml"
    path.write_text(
        "districts:\n  - {name: a, junctions: 5, flash_schedules: ['01:00-05:00', null]}\n",
        encoding="utf-8",
    )
    registry = simulators.generate_registry(load_fleet(path))
    assert [registry[i].flash_schedule for i in registry] == [
        "01:00-05:00",
        None,
        "01:00-05:00",
        None,
        "01:00-05:00",
    ]
    text = "districts:\n  - {name: a, junctions: 1,\n     flash_schedules: ['1:00-05:00']}\n"
    error = refusal(path, text, load_fleet)
    assert str(error).startswith(f"{path}:3: districts.0.flash_schedules")
    assert "'1:00-05:00' is not HH:MM-HH:MM" in str(error)


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (
            "{at: '02:10', incident: cabinet_power_cut}",
            "4: event #2: cabinet_power_cut needs cabinet",
        ),
        (
            "{at: '02:10', incident: mains_voltage, cabinet: C-01}",
            "4: event #2: mains_voltage needs voltage_v",
        ),
        (
            "{at: '02:10', incident: lamp_overheating, device: SL-0001, thermal_resistance_x: 0.5}",
            "4: event #2: thermal_resistance_x: Input should be greater than or equal to 1",
        ),
        ("{at: '02:10', incident: flood}", "4: event #2: incident: Input should be"),
        (
            "{at: '02:10', incident: rain, for: 'soon'}",
            "4: event #2: for: 'soon' is not a duration",
        ),
    ],
)
def test_a_scenario_error_names_the_file_the_event_and_the_problem(
    tmp_path: Path, event: str, message: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        f"name: bad\nevents:\n  - {{at: '01:00', incident: rain}}\n  - {event}\n", encoding="utf-8"
    )
    with pytest.raises(simulators.ScenarioInvalid, match=f"bad.yaml:{message}"):
        simulators.load_scenario(path)


def test_a_scenario_error_in_a_block_event_names_the_fields_own_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    text = "name: bad\nevents:\n  - at: '01:00'\n    incident: rain\n    for: soon\n"
    error = refusal(path, text, simulators.load_scenario)
    assert isinstance(error, simulators.ScenarioInvalid)
    assert str(error) == f"{path}:5: event #1: for: 'soon' is not a duration like 40m, 1h30m, 2d"
    assert (error.line, error.event) == (5, 0)


def test_an_event_before_the_start_is_refused_when_the_run_is_anchored() -> None:
    scenario = simulators.Scenario(
        "early", [simulators.Incident.model_validate({"at": "01:00", "incident": "rain"})]
    )
    start = 1_718_906_400.0  # 02:00 in Shanghai
    with pytest.raises(simulators.ScenarioInvalid, match="before the scenario starts"):
        scenario.anchor(start, "Asia/Shanghai")


def test_the_five_named_scenarios_ship_and_load() -> None:
    names = simulators.scenario_names(ROOT / "config/scenarios")
    for name in (
        "cabinet-power-cut",
        "pollution-spill",
        "jammed-junction",
        "offline-camera",
        "clean-day",
    ):
        assert name in names
        scenario = simulators.load_scenario(ROOT / "config/scenarios" / f"{name}.yaml")
        assert scenario.start is not None
        assert scenario.duration_s


def test_durations_read_like_people_write_them() -> None:
    assert simulators.parse_duration_s("1h30m") == 5_400
    assert simulators.parse_duration_s("2d") == 172_800
    assert simulators.parse_duration_s(45) == 45
    with pytest.raises(ValueError, match="not a duration"):
        simulators.parse_duration_s("an hour")
