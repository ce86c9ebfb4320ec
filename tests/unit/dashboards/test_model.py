"""The generated JSON holds to Grafana's dashboard model (the 11.6 build's schema)."""

from __future__ import annotations

from pathlib import Path

import pytest
from grafana_foundation_sdk.models.dashboard import Dashboard

from dashboards import BuiltDashboard, InfluxQuery, UnknownName, datasources, registry_csv
from dashboards.kit import field
from devices import StreetlightTelemetry, load_registry
from smartcity.assembly import build_dashboards, grafana_sources
from smartcity.settings import load_settings

ROOT = Path(__file__).resolve().parents[3]
SETTINGS = load_settings()
REGISTRY = load_registry(ROOT / "config" / "fleet.yaml")
BOARDS = build_dashboards(SETTINGS, REGISTRY)
SOURCES = datasources(grafana_sources(SETTINGS, influx_url="http://127.0.0.1:8086", for_file=True))
KNOWN = {(source["type"], source["uid"]) for source in SOURCES}
MIXED = ("datasource", "-- Mixed --")


def boards() -> list[BuiltDashboard]:
    return list(BOARDS)


def test_there_are_the_six_dashboards_the_control_room_needs() -> None:
    assert [board.title for board in BOARDS] == [
        "City overview",
        "Streetlights",
        "Water quality",
        "Traffic",
        "Checkpoints",
        "Platform",
    ]


@pytest.mark.parametrize("board", boards(), ids=lambda board: board.uid)
def test_schema_version_is_grafana_11s_and_the_sdk_reads_it_back(board: BuiltDashboard) -> None:
    assert board.json["schemaVersion"] == 41
    again = Dashboard.from_json(board.json)
    targets = [t for p in again.panels or [] for t in getattr(p, "targets", None) or []]
    assert targets
    assert any(isinstance(t, InfluxQuery) for t in targets)


@pytest.mark.parametrize("board", boards(), ids=lambda board: board.uid)
def test_panel_ids_are_unique(board: BuiltDashboard) -> None:
    ids = [panel["id"] for panel in board.json["panels"]]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("board", boards(), ids=lambda board: board.uid)
def test_panels_stay_on_the_24_column_grid_and_never_overlap(board: BuiltDashboard) -> None:
    cells: dict[tuple[int, int], int] = {}
    for panel in board.json["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] >= 0, panel["title"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps panel {cells[(x, y)]}"
                cells[(x, y)] = panel["id"]


@pytest.mark.parametrize("board", boards(), ids=lambda board: board.uid)
def test_every_datasource_reference_resolves_to_a_provisioned_datasource(
    board: BuiltDashboard,
) -> None:
    references = []
    for panel in board.json["panels"]:
        if "datasource" in panel:
            references.append(panel["datasource"])
        references.extend(target["datasource"] for target in panel.get("targets", []))
    references.extend(v["datasource"] for v in board.json.get("templating", {}).get("list", []))
    references.extend(a["datasource"] for a in board.json.get("annotations", {}).get("list", []))
    for reference in references:
        key = (reference["type"], reference["uid"])
        assert key in KNOWN or key == MIXED, key


@pytest.mark.parametrize("board", boards(), ids=lambda board: board.uid)
def test_every_panel_has_a_query_and_every_variable_a_query(board: BuiltDashboard) -> None:
    for panel in board.json["panels"]:
        if panel["type"] != "row":
            assert panel.get("targets"), panel["title"]
    for variable in board.json.get("templating", {}).get("list", []):
        assert variable["query"].startswith("SHOW TAG VALUES FROM ")


def test_a_panel_naming_a_field_the_schema_lacks_is_refused_when_built() -> None:
    with pytest.raises(UnknownName, match="power_kw"):
        field(StreetlightTelemetry, "power_kw")


def test_the_map_has_every_registry_device_once() -> None:
    rows = registry_csv(REGISTRY).splitlines()
    assert rows[0] == "device_id,kind,district,latitude,longitude,placed"
    assert sorted(row.split(",")[0] for row in rows[1:]) == sorted(REGISTRY)


def test_provisioning_files_hold_no_secret(tmp_path: Path) -> None:
    from dashboards import write_folder

    settings = load_settings(influx_api="v2", influx_token="s3cret-token")
    sources = grafana_sources(settings, influx_url="http://influxdb:8086", for_file=True)
    written = write_folder(tmp_path, BOARDS, sources)
    text = "".join(path.read_text(encoding="utf-8") for path in written.files)
    assert "s3cret-token" not in text
    assert "Token ${SMARTCITY_INFLUX_TOKEN}" in text


def test_the_overview_links_to_grafanas_pages_on_the_provisioned_alertmanager() -> None:
    overview = BOARDS[0]
    uids = {uid for kind, uid in KNOWN if kind == "alertmanager"}
    links = [link["url"] for link in overview.json["links"] if link["type"] == "link"]
    assert links
    for url in links:
        assert url.split("alertmanager=")[1] in uids
