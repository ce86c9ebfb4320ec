from __future__ import annotations

from pathlib import Path

import pytest

from smartcity.settings import SettingsInvalid, load_settings


def test_settings_come_from_smartcity_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMARTCITY_MQTT_URL", "mqtt://broker.example:1883")
    monkeypatch.setenv("SMARTCITY_GATEWAY_BATCH_MAX", "250")
    settings = load_settings()
    assert settings.mqtt_url == "mqtt://broker.example:1883"
    assert settings.gateway_batch_max == 250


def test_a_dotenv_file_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("SMARTCITY_INFLUX_DATABASE=city_test\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert load_settings().influx_database == "city_test"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("SMARTCITY_GATEWAY_BATCH_MAX", "lots", "SMARTCITY_GATEWAY_BATCH_MAX='lots'"),
        ("SMARTCITY_GATEWAY_BATCH_AGE_S", "-1", "SMARTCITY_GATEWAY_BATCH_AGE_S"),
        ("SMARTCITY_MQTT_URL", "broker:1883", "must start with mqtt://"),
        ("SMARTCITY_INFLUX_API", "v9", "SMARTCITY_INFLUX_API"),
    ],
)
def test_a_bad_value_fails_at_start_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsInvalid) as caught:
        load_settings()
    assert message in str(caught.value)


def test_a_secret_is_not_shown_in_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMARTCITY_GATEWAY_BATCH_MAX", "lots")
    monkeypatch.setenv("SMARTCITY_PLATE_HASH_KEY", "s3cret-key")
    with pytest.raises(SettingsInvalid) as caught:
        load_settings()
    assert "s3cret-key" not in str(caught.value)


def test_settings_cannot_change_once_read() -> None:
    settings = load_settings()
    with pytest.raises(ValueError, match="frozen"):
        settings.gateway_batch_max = 3  # type: ignore[misc]


# Paths the platform reads and never writes: configuration shipped in the checkout.
INPUTS = {
    "registry_path",
    "rules_path",
    "simulate_fleet_path",
    "demo_fleet_path",
    "simulate_scenarios_dir",
    "incidents_rules_path",
    "plans_path",
    "alertmanager_config_path",
    "relay_config_path",
}


def test_two_data_dirs_share_nothing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Two platforms run from one checkout with different data dirs once shared their alert
    state. Every path a platform writes, and every path setting that is not configuration it
    only reads, follows SMARTCITY_DATA_DIR when left unset."""
    from smartcity.platform import state_paths

    written: dict[str, set[Path]] = {}
    for name in ("a", "b"):
        monkeypatch.setenv("SMARTCITY_DATA_DIR", str(tmp_path / name))
        settings = load_settings()
        paths = state_paths(settings)
        path_settings = {
            field: value
            for field, value in settings.model_dump().items()
            if isinstance(value, Path) and field not in INPUTS and field != "data_dir"
        }
        # a new path setting must be derived from the data dir and listed in state_paths
        assert set(path_settings.values()) <= set(paths.values())
        for what, path in paths.items():
            assert path.is_relative_to(tmp_path / name), f"{what}: {path}"
        written[name] = set(paths.values())
    assert not written["a"] & written["b"]


def test_a_path_set_explicitly_stays_where_it_was_put(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SMARTCITY_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SMARTCITY_ALERTS_STATE_PATH", str(tmp_path / "shared" / "alerts.sqlite"))
    settings = load_settings()
    assert settings.alerts_state_path == tmp_path / "shared" / "alerts.sqlite"
    assert settings.spool_dir == tmp_path / "data" / "spool"


def test_a_bad_data_dir_is_named_once(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SettingsInvalid) as caught:
        load_settings(data_dir=[1])
    message = str(caught.value)
    assert "SMARTCITY_DATA_DIR" in message
    assert "SMARTCITY_ALERTS_STATE_PATH" not in message


def test_a_worker_index_beyond_the_workers_names_both_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SMARTCITY_GATEWAY_WORKERS", "3")
    monkeypatch.setenv("SMARTCITY_GATEWAY_WORKER_INDEX", "3")
    with pytest.raises(SettingsInvalid) as caught:
        load_settings()
    assert "SMARTCITY_GATEWAY_WORKER_INDEX='3': must be below SMARTCITY_GATEWAY_WORKERS (3)" in str(
        caught.value
    )
