"""compose.yaml cannot run here (no Docker engine), so it is kept valid by checks: Compose's own
schema and interpolation (Debian's docker-compose, `config -q`, which needs no engine), and our
cross-checks: every smartcity command and setting it names exists."""

from __future__ import annotations

import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any, get_args

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


@pytest.mark.parametrize("name", ["gateway-0", "gateway-1", "api", "simulators", "dashboards"])
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
    # every package the wheel ships: a new room cannot be forgotten in the image
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    rooms = project["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    assert "smartcity" in rooms
    for room in rooms:
        assert f"COPY {room} {room}" in dockerfile


LONG_RUNNING = (
    "mosquitto",
    "influxdb",
    "alertmanager-1",
    "alertmanager-2",
    "grafana",
    "gateway-0",
    "gateway-1",
    "api",
)


def test_every_image_is_pinned_to_a_version() -> None:
    for name, service in services().items():
        image = service.get("image")
        if image is None or "build" in service:
            continue
        repository, _, tag = image.rpartition(":")
        assert repository, f"{name}: image {image!r} has no tag"
        assert tag not in ("", "latest"), f"{name}: {image}"
        assert any(c.isdigit() for c in tag), f"{name}: {image}"


@pytest.mark.parametrize("name", LONG_RUNNING)
def test_each_long_running_service_has_a_health_check_and_a_restart_policy(name: str) -> None:
    service = services()[name]
    assert service["restart"] == "unless-stopped"
    assert service["healthcheck"]["test"]


def test_data_lives_in_named_volumes() -> None:
    document = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    named = set(document["volumes"])
    for name in (
        "mosquitto",
        "influxdb",
        "grafana",
        "gateway-0",
        "gateway-1",
        "alertmanager-1",
        "api",
    ):
        mounts = [m.split(":")[0] for m in services()[name]["volumes"]]
        assert any(mount in named for mount in mounts), f"{name} keeps its data in no volume"


def test_no_secret_is_written_in_the_file() -> None:
    for name, service in services().items():
        for key, value in (service.get("environment") or {}).items():
            field = Settings.model_fields.get(key.removeprefix("SMARTCITY_").lower())
            if field is not None and Path in (field.annotation, *get_args(field.annotation)):
                continue  # a file's path (the API's TLS key), not the secret itself
            if any(word in key for word in ("TOKEN", "PASSWORD", "KEY", "SECRET")):
                assert str(value).startswith("${"), f"{name}: {key}"
                assert ":?" in str(value), f"{name}: {key}"


def test_the_alertmanagers_form_one_cluster() -> None:
    first, second = services()["alertmanager-1"], services()["alertmanager-2"]
    assert "--cluster.peer=alertmanager-2:9094" in first["command"]
    assert "--cluster.peer=alertmanager-1:9094" in second["command"]


def test_grafana_reads_the_provisioning_the_dashboards_service_builds() -> None:
    builder, grafana = services()["dashboards"], services()["grafana"]
    folder = builder["command"][3]
    assert builder["command"][:3] == ["smartcity", "dashboards", "build"]
    assert f"grafana-provisioning:{folder}" in builder["volumes"]
    assert f"grafana-provisioning:{folder}:ro" in grafana["volumes"]
    assert grafana["environment"]["GF_PATHS_PROVISIONING"] == f"{folder}/provisioning"
    assert grafana["depends_on"]["dashboards"]["condition"] == "service_completed_successfully"


def test_influxdb_2_maps_the_policies_the_dashboards_query() -> None:
    from ingest import DOWNSAMPLED_POLICY, RAW_POLICY

    script = (ROOT / "deploy" / "influxdb" / "dbrp.sh").read_text(encoding="utf-8")
    assert f"--rp {RAW_POLICY} " in script
    assert f"--rp {DOWNSAMPLED_POLICY} " in script
    mounted = services()["influxdb"]["volumes"]
    assert "./deploy/influxdb/dbrp.sh:/docker-entrypoint-initdb.d/dbrp.sh:ro" in mounted


def test_the_simulators_are_an_optional_profile() -> None:
    assert services()["simulators"]["profiles"] == ["simulators"]


def test_the_gateway_workers_split_the_fleet_between_them() -> None:
    workers = [s for name, s in services().items() if name.startswith("gateway-")]
    counts = {w["environment"]["SMARTCITY_GATEWAY_WORKERS"] for w in workers}
    assert counts == {str(len(workers))}
    indexes = sorted(w["environment"]["SMARTCITY_GATEWAY_WORKER_INDEX"] for w in workers)
    assert indexes == [str(i) for i in range(len(workers))]
    volumes = [v for w in workers for v in w["volumes"] if v.endswith(":/var/lib/smartcity")]
    assert len(set(volumes)) == len(workers), "workers share a data dir"


def test_the_api_reads_every_workers_alerts_and_serves_outside_its_container() -> None:
    api = services()["api"]
    settings = Settings(
        **{
            key.removeprefix("SMARTCITY_").lower(): value
            for key, value in api["environment"].items()
            if key.startswith("SMARTCITY_") and "${" not in str(value)
        }
    )
    # each worker's engine holds only its own devices' alerts: the API reads the cluster's
    assert settings.api_alerts_from == "cluster"
    assert settings.alertmanager_urls
    assert settings.influx_url
    assert settings.api_host == "0.0.0.0"
    assert f"{settings.api_port}:{settings.api_port}" in api["ports"]
    assert f"127.0.0.1:{settings.api_port}/healthz" in api["healthcheck"]["test"][-1]
    assert settings.api_tls_cert is not None
    assert settings.api_tls_key is not None
    mounts = {volume.split(":")[1] for volume in api["volumes"]}
    assert str(settings.api_tls_cert.parent) in mounts
    assert str(settings.api_tokens_file.parent) in mounts
    # the relay's subscriber file, which the API's webhook route needs to start
    assert str(settings.relay_config_path.parent) in mounts
    assert (ROOT / "config" / settings.relay_config_path.name).is_file()


def test_exactly_one_service_opens_incidents_from_every_engines_alerts() -> None:
    hosts = {
        name: service
        for name, service in services().items()
        if str((service.get("environment") or {}).get("SMARTCITY_API_INCIDENTS")).lower() == "true"
    }
    # the workers' engines each see part of the fleet: they run no incident service of their own
    assert list(hosts) == ["api"]
    api = hosts["api"]
    assert api["command"] == ["smartcity", "api"]
    assert "deploy" not in api or api["deploy"].get("replicas", 1) == 1
    environment = api["environment"]
    mounted = {volume.split(":")[1]: volume.split(":")[0] for volume in api["volumes"]}
    # the plans and rules it names are the shipped ones, where the container sees them
    for key in ("SMARTCITY_PLANS_PATH", "SMARTCITY_INCIDENTS_RULES_PATH"):
        path = Path(environment[key])
        [(target, source)] = [(t, s) for t, s in mounted.items() if path.is_relative_to(t)]
        local = ROOT / source / path.relative_to(target)
        assert local.exists(), f"{key}={path}: nothing at {local}"
    # its incidents (SQLite, under the data dir) live in a named volume
    assert mounted["/var/lib/smartcity"] == "api-data"
