from __future__ import annotations

from pathlib import Path

import pytest

from devices import (
    PLACEMENT_TAGS,
    DeviceRecord,
    Kind,
    Registry,
    RegistryInvalid,
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
