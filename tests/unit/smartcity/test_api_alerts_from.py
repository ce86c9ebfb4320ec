"""``SMARTCITY_API_ALERTS_FROM=cluster`` needs the two places every engine sends to."""

from __future__ import annotations

from pathlib import Path

import pytest

from smartcity.assembly import build_api
from smartcity.settings import SettingsInvalid, load_settings
from tests.unit.alerts.factory import REGISTRY


@pytest.mark.parametrize(
    ("influx_url", "alertmanagers"),
    [(None, ("http://127.0.0.1:9093",)), ("http://127.0.0.1:8086", ())],
)
def test_the_cluster_reader_without_alertmanager_or_influxdb_names_both_settings(
    tmp_path: Path, influx_url: str | None, alertmanagers: tuple[str, ...]
) -> None:
    settings = load_settings(data_dir=tmp_path, api_port=0, api_alerts_from="cluster")
    with pytest.raises(SettingsInvalid) as caught:
        build_api(
            settings,
            REGISTRY,
            mqtt_url="mqtt://127.0.0.1:1883",
            influx_url=influx_url,
            alertmanager_urls=alertmanagers,
        )
    assert "SMARTCITY_ALERTMANAGER_URL" in str(caught.value)
    assert "SMARTCITY_INFLUX_URL" in str(caught.value)


def test_a_bad_source_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMARTCITY_API_ALERTS_FROM", "sqlite")
    with pytest.raises(SettingsInvalid, match="SMARTCITY_API_ALERTS_FROM"):
        load_settings()
