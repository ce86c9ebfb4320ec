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
