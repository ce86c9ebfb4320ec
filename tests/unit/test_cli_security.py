"""`smartcity devices credentials` and `smartcity certs`: files with the right modes, rotation
of one device, and never a password on the console."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from devices import Credentials, load_registry, parse_password_file, verify_password
from smartcity.cli import app

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SMARTCITY_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SMARTCITY_REGISTRY_PATH", str(ROOT / "config/fleet.yaml"))
    return tmp_path


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def secrets(folder: Path) -> Credentials:
    path = folder / "security" / "credentials.json"
    return Credentials.from_json(path.read_text(), where=str(path))


def test_credentials_cover_the_registry_in_private_files(data_dir: Path) -> None:
    result = CliRunner().invoke(app, ["devices", "credentials"])
    assert result.exit_code == 0, result.output
    security = data_dir / "security"
    assert mode(security) == 0o700
    for name in ("credentials.json", "passwd", "acl"):
        assert mode(security / name) == 0o600, name
    registry = load_registry(ROOT / "config/fleet.yaml")
    credentials = secrets(data_dir)
    assert set(credentials.devices) == set(registry)
    hashes = parse_password_file((security / "passwd").read_text())
    login = credentials.device_login("SL-0001")
    assert login is not None
    assert verify_password(login.password, hashes["SL-0001"])
    assert all(login.password not in result.output for login in credentials.logins())


def test_rotating_one_device_changes_its_password_alone(data_dir: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["devices", "credentials"]).exit_code == 0
    before = secrets(data_dir)
    result = runner.invoke(app, ["devices", "credentials", "--rotate", "SL-0001"])
    assert result.exit_code == 0, result.output
    after = secrets(data_dir)
    assert after.devices["SL-0001"] != before.devices["SL-0001"]
    assert {k: v for k, v in after.devices.items() if k != "SL-0001"} == {
        k: v for k, v in before.devices.items() if k != "SL-0001"
    }
    assert "SL-0001: new password written" in result.output
    assert after.devices["SL-0001"].get_secret_value() not in result.output


def test_rotating_an_unknown_device_says_so(data_dir: Path) -> None:
    result = CliRunner().invoke(app, ["devices", "credentials", "--rotate", "SL-9999"])
    assert result.exit_code == 2
    assert "not in the registry: SL-9999" in result.output


def test_certs_makes_a_ca_server_and_client_with_private_keys(data_dir: Path) -> None:
    result = CliRunner().invoke(app, ["certs"])
    assert result.exit_code == 0, result.output
    security = data_dir / "security"
    for name in ("ca", "server", "client"):
        assert mode(security / f"{name}.key") == 0o600
        assert (security / f"{name}.pem").read_bytes().startswith(b"-----BEGIN CERTIFICATE")
    again = CliRunner().invoke(app, ["certs"])
    assert "already" in again.output
