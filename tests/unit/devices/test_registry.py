from __future__ import annotations

from pathlib import Path

import pytest

from devices import (
    PLACEMENT_TAGS,
    DeviceRecord,
    Kind,
    Registry,
    RegistryInvalid,
    WaterBodyType,
    WaterClass,
    dump_registry,
    load_registry,
)

GOOD = """\
city: {name: Test City, latitude: 30.5, longitude: 114.3, timezone: Asia/Shanghai}
devices:
  - {id: SL-0001, kind: streetlight, district: riverside, cabinet: C-01}
  - id: WQ-0001
    kind: water_quality
    district: riverside
    river: jade
    section: S1
    section_order: 1
    target_class: III
  - {id: TS-0001, kind: traffic_signal, district: centre, junction: J-01,
     approaches: [north, east, south, west]}
  - {id: CP-0001, kind: checkpoint, district: centre, junction: J-01, lanes: 3}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "fleet.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_registry_file_loads_with_each_devices_place(tmp_path: Path) -> None:
    registry = load_registry(write(tmp_path, GOOD))
    assert len(registry) == 4
    assert registry.city.latitude == 30.5
    assert registry["WQ-0001"].target_class is WaterClass.III
    assert registry["SL-0001"].tags() == {"district": "riverside", "cabinet": "C-01"}
    assert registry["WQ-0001"].tags() == {"district": "riverside", "river": "jade", "section": "S1"}
    assert [device.id for device in registry.of_kind(Kind.TRAFFIC_SIGNAL)] == ["TS-0001"]


def test_a_registry_written_out_reads_back_equal(tmp_path: Path) -> None:
    registry = load_registry(write(tmp_path, GOOD))
    copy_path = tmp_path / "copy" / "fleet.yaml"
    dump_registry(registry, copy_path)
    copy = load_registry(copy_path)
    assert dict(copy) == dict(registry)
    assert copy.city == registry.city


@pytest.mark.parametrize(
    ("line", "replacement", "message"),
    [
        (
            3,
            "  - {id: SL-0001, kind: streetlight, district: riverside}",
            "fleet.yaml:3: device 'SL-0001': a streetlight needs cabinet",
        ),
        (
            3,
            "  - {id: SL 1, kind: streetlight, district: riverside, cabinet: C}",
            "fleet.yaml:3: device 'SL 1': id",
        ),
        (
            3,
            "  - {id: SL-0001, kind: lamp, district: riverside, cabinet: C}",
            "fleet.yaml:3: device 'SL-0001': kind",
        ),
        (
            3,
            "  - {id: SL-0001, kind: streetlight, district: alerts, cabinet: C}",
            "district 'alerts'",
        ),
        (
            3,
            "  - {id: CP-0001, kind: checkpoint, district: centre}",
            "fleet.yaml:13: device 'CP-0001' is listed twice",
        ),
        (
            3,
            "  - {id: SL-0001, kind: streetlight, district: riverside, cabinet: C, colour: red}",
            "colour",
        ),
    ],
)
def test_registry_errors_name_file_line_and_field(
    tmp_path: Path, line: int, replacement: str, message: str
) -> None:
    lines = GOOD.splitlines()
    lines[line - 1] = replacement
    with pytest.raises(RegistryInvalid) as caught:
        load_registry(write(tmp_path, "\n".join(lines) + "\n"))
    assert message in str(caught.value)


def test_broken_yaml_is_reported_with_its_line(tmp_path: Path) -> None:
    with pytest.raises(RegistryInvalid, match=r"fleet.yaml:3: not valid YAML"):
        load_registry(write(tmp_path, "city: {}\ndevices:\n  - {id: [unclosed\n"))


def test_a_missing_registry_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(RegistryInvalid, match="cannot read"):
        load_registry(tmp_path / "nowhere.yaml")


def test_duplicate_ids_are_refused_when_built_in_code() -> None:
    record = DeviceRecord(id="CP-1", kind=Kind.CHECKPOINT, district="centre")
    with pytest.raises(ValueError, match="listed twice"):
        Registry.from_records([record, record])


WATERS = """\
city: {name: Dongguan, latitude: 23.02, longitude: 113.75, timezone: Asia/Shanghai}
waters:
  - name: zhongtang-waterway
    type: river
    flow_m_s: 0.4
    sections: [{name: S1, length_km: 1.4}, {name: S2, length_km: 1.6}, {name: S3, length_km: 1.5}]
  - {name: songshan-lake, type: lake}
devices:
  - {id: WQ-0001, kind: water_quality, district: zhongtang, river: zhongtang-waterway,
     section: S1, section_order: 1, target_class: III}
  - {id: WQ-0002, kind: water_quality, district: songshan-lake, river: songshan-lake,
     water_body: lake, section: L1, section_order: 1, target_class: III}
"""


def test_water_bodies_have_a_type_and_a_river_its_stretches(tmp_path: Path) -> None:
    registry = load_registry(write(tmp_path, WATERS))
    assert registry["WQ-0001"].water_body is WaterBodyType.RIVER  # left out: a river
    assert registry["WQ-0002"].water_body is WaterBodyType.LAKE
    river = registry.water_body_of(registry["WQ-0001"])
    assert river is not None
    assert river.flow_m_s == 0.4
    assert river.km_between("S1", "S3") == pytest.approx(3.1)
    assert river.km_between("S3", "S1") is None
    copy_path = tmp_path / "copy.yaml"
    dump_registry(registry, copy_path)
    copy = load_registry(copy_path)
    assert dict(copy) == dict(registry)
    assert dict(copy.waters) == dict(registry.waters)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "water_body: lake, section: L1",
            "section: L1",
            "water_body 'river' but 'songshan-lake' is a lake",
        ),
        (
            "section: S1, section_order: 1",
            "section: S9, section_order: 1",
            "section 'S9' is not one of",
        ),
        (
            "{name: songshan-lake, type: lake}",
            "{name: songshan-lake, type: lake, flow_m_s: 0.1}",
            "a lake has no sections",
        ),
    ],
)
def test_a_station_that_contradicts_its_water_body_is_refused(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    with pytest.raises(RegistryInvalid, match=message):
        load_registry(write(tmp_path, WATERS.replace(old, new)))


def test_a_devices_tags_are_its_district_and_its_placement(tmp_path: Path) -> None:
    registry = load_registry(write(tmp_path, GOOD))
    assert PLACEMENT_TAGS == ("cabinet", "river", "section", "junction")
    assert registry["SL-0001"].tags() == {"district": "riverside", "cabinet": "C-01"}
    assert registry["WQ-0001"].tags() == {
        "district": "riverside",
        "river": "jade",
        "section": "S1",
    }
    assert set(DeviceRecord.model_fields) >= set(PLACEMENT_TAGS)


def test_a_signal_carries_its_flash_schedule(tmp_path: Path) -> None:
    text = GOOD.replace("approaches: [north, east, south, west]}", 'flash_schedule: "01:00-05:00"}')
    registry = load_registry(write(tmp_path, text))
    assert registry["TS-0001"].flash_schedule == "01:00-05:00"
    copy_path = tmp_path / "copy" / "fleet.yaml"
    dump_registry(registry, copy_path)
    assert load_registry(copy_path)["TS-0001"].flash_schedule == "01:00-05:00"


@pytest.mark.parametrize(
    ("replacement", "message"),
    [
        (
            'flash_schedule: "1:00-05:00"}',
            "fleet.yaml:11: device 'TS-0001': flash_schedule '1:00-05:00' is not HH:MM-HH:MM",
        ),
        (
            'flash_schedule: "01:00-24:00"}',
            "fleet.yaml:11: device 'TS-0001': flash_schedule '01:00-24:00' is not HH:MM-HH:MM",
        ),
    ],
)
def test_a_bad_flash_schedule_names_file_line_and_device(
    tmp_path: Path, replacement: str, message: str
) -> None:
    text = GOOD.replace("approaches: [north, east, south, west]}", replacement)
    with pytest.raises(RegistryInvalid) as caught:
        load_registry(write(tmp_path, text))
    assert message in str(caught.value)


def test_only_a_signal_has_a_flash_schedule(tmp_path: Path) -> None:
    text = GOOD.replace("cabinet: C-01}", 'cabinet: C-01, flash_schedule: "01:00-05:00"}')
    with pytest.raises(RegistryInvalid) as caught:
        load_registry(write(tmp_path, text))
    assert "fleet.yaml:3: device 'SL-0001': a streetlight has no flash_schedule" in str(
        caught.value
    )
