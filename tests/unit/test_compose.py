"""compose.yaml cannot run here (no Docker engine), so it is kept valid by checks: Compose's own
schema and interpolation (Debian's docker-compose, `config -q`, which needs no engine), and our
cross-checks: every smartcity command and setting it names exists."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from smartcity.cli import app
from smartcity.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose.yaml"


def compose_config(env_file: Path | None) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("docker-compose")
    assert binary, "docker-compose (Debian package) is missing: run scripts/install-system-deps.sh"
    command = [binary, "-f", str(COMPOSE), "config", "-q"]
    if env_file is not None:
        command[1:1] = ["--env-file", str(env_file)]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=60, check=False, cwd=ROOT
    )


def test_compose_file_passes_composes_own_schema_check() -> None:
    result = compose_config(ROOT / ".env.example")
    assert result.returncode == 0, result.stderr


def test_compose_refuses_to_start_without_the_secrets(tmp_path: Path) -> None:
    empty = tmp_path / "empty.env"
    empty.write_text("", encoding="utf-8")
    result = compose_config(empty)
    assert result.returncode != 0
    assert "set SMARTCITY_INFLUX_TOKEN in .env" in result.stderr or "set " in result.stderr


def services() -> dict[str, Any]:
    document = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return dict(document["services"])


@pytest.mark.parametrize("name", ["gateway", "simulators"])
def test_each_platform_service_runs_a_smartcity_command_that_exists(name: str) -> None:
    command = services()[name]["command"]
    assert command[0] == "smartcity"
    result = CliRunner().invoke(app, [*command[1:], "--help"])
    assert result.exit_code == 0, f"{' '.join(command)}: {result.output}"
    assert "Usage:" in result.output


def test_every_setting_compose_passes_is_a_real_setting() -> None:
    names = set()
    for service in services().values():
        environment = service.get("environment") or {}
        names.update(key for key in environment if key.startswith("SMARTCITY_"))
    fields = {f"SMARTCITY_{name.upper()}" for name in Settings.model_fields}
    # grafana receives the token only to hand it to its datasource
    assert names - fields == set()
    assert names, "compose passes no settings at all"


def test_the_image_holds_every_room() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    for room in (
        "devices",
        "simulators",
        "gateway",
        "ingest",
        "alerts",
        "dashboards",
        "api",
        "smartcity",
    ):
        assert f"COPY {room} {room}" in dockerfile
