"""`smartcity dashboards build|push` from the command line, and the water class bands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from dashboards import class_thresholds
from devices import WATER_CLASS_LIMITS, WaterClassLimit
from smartcity.cli import app

ROOT = Path(__file__).resolve().parents[3]


def test_build_writes_dashboards_and_provisioning_for_the_given_servers(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "dashboards",
            "build",
            str(tmp_path),
            "--influx-url=http://influxdb:8086",
            "--alertmanager-url=http://am-1:9093,http://am-2:9093",
            "--dashboards-path=/var/lib/grafana-dashboards",
        ],
        env={"SMARTCITY_REGISTRY_PATH": str(ROOT / "config" / "fleet.yaml")},
    )
    assert result.exit_code == 0, result.output
    assert f"GF_PATHS_PROVISIONING={tmp_path.resolve()}/provisioning" in result.output
    boards = sorted(p.name for p in (tmp_path / "dashboards").glob("*.json"))
    assert len(boards) == 6
    assert json.loads((tmp_path / "dashboards" / boards[0]).read_text())["uid"]
    sources = yaml.safe_load(
        (tmp_path / "provisioning" / "datasources" / "smartcity.yaml").read_text()
    )["datasources"]
    assert [s["url"] for s in sources if "url" in s] == [
        "http://influxdb:8086",
        "http://am-1:9093",
        "http://am-2:9093",
    ]
    provider = yaml.safe_load(
        (tmp_path / "provisioning" / "dashboards" / "smartcity.yaml").read_text()
    )
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana-dashboards"


def test_push_without_a_token_says_which_variable_to_set() -> None:
    result = CliRunner().invoke(app, ["dashboards", "push"], env={"SMARTCITY_GRAFANA_TOKEN": ""})
    assert result.exit_code == 2
    assert "SMARTCITY_GRAFANA_TOKEN" in result.output


def limit_of(name: str) -> WaterClassLimit:
    return next(limit for limit in WATER_CLASS_LIMITS if limit.field == name)


def colour_at(limit: WaterClassLimit, value: float) -> str:
    """The colour Grafana gives a value: the last step whose start it reaches."""
    colour = ""
    for step in class_thresholds(limit):
        if step.value is None or value >= step.value:
            colour = step.color
    return colour


@pytest.mark.parametrize("field", [limit.field for limit in WATER_CLASS_LIMITS])
def test_the_bands_colour_each_value_as_its_gb_3838_class(field: str) -> None:
    limit = limit_of(field)
    by_class: dict[str, str] = {}
    for value in (0.0, *limit.limits, *(x * 1.05 for x in limit.limits), 100.0):
        by_class.setdefault(limit.class_of(value).value, colour_at(limit, value))
        assert colour_at(limit, value) == by_class[limit.class_of(value).value], value
    assert len(set(by_class.values())) == len(by_class)
