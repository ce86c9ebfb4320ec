"""`smartcity up --demo` (what `make up` runs): a live line of what is happening, a clean stop on
Ctrl-C, and no child process left behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import yaml

ROOT = Path(__file__).resolve().parents[2]
CREATE = [sys.executable, "-m", "smartcity", "api", "token", "create"]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


def check_the_api(url: str, env: dict[str, str]) -> None:
    """The operators' API of the running platform: health, presence from the gateway, and a
    command carried out by the simulated city."""
    made = subprocess.run(
        [*CREATE, "--name", "op"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    headers = {"Authorization": f"Bearer {made.stdout.strip()}"}
    health = httpx.get(f"{url}/healthz", timeout=10).json()
    assert set(health["dependencies"]) == {"broker", "alert_store", "influxdb", "gateway"}
    assert health["status"] == "ok", health
    silences = httpx.get(f"{url}/silences", headers=headers, timeout=10)
    assert silences.status_code == 200, silences.text  # the local Alertmanager answers
    online = httpx.get(f"{url}/devices?online=true", headers=headers, timeout=10).json()
    assert online["online"] > 0
    refused = httpx.post(
        f"{url}/commands", json={"device_id": "SL-0001", "action": "reboot"}, headers=headers
    )
    assert refused.status_code == 403  # a read token
    operate = subprocess.run(
        [*CREATE, "--name", "boss", "--scope", "operate"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.strip()
    done = httpx.post(
        f"{url}/commands?wait_s=20",
        json={"device_id": "SL-0001", "action": "dim", "level_pct": 40},
        headers={"Authorization": f"Bearer {operate}"},
        timeout=30,
    )
    assert done.json()["status"] == "done", done.text


def test_up_shows_live_figures_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "SMARTCITY_DATA_DIR": str(tmp_path),
        "SMARTCITY_LOCAL_MQTT_PORT": "0",
        "SMARTCITY_LOCAL_MQTTS_PORT": "0",
        "SMARTCITY_LOCAL_INFLUX_PORT": "0",
        "SMARTCITY_LOCAL_ALERTMANAGER_PORT": "0",
        "SMARTCITY_METRICS_PORT": "0",
        "SMARTCITY_ALERTS_STATE_PATH": str(tmp_path / "alerts.sqlite"),
        "SMARTCITY_SIMULATE_INTERVAL_S": "1",
        "SMARTCITY_API_PORT": "0",
        "SMARTCITY_API_MQTT_CLIENT_ID": f"up-api-{os.getpid()}",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "smartcity", "up", "--demo"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 90
    try:
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip())
            # a status line with readings stored: the city reaches the database
            if line.startswith("devices ") and " 0 stored" not in line and "stored" in line:
                break
        assert any(line.startswith("devices ") for line in lines), "\n".join(lines)
        api_lines = [line for line in lines if line.startswith("api ")]
        assert api_lines, "\n".join(lines)
        figures = lines[-1]
        assert "online" in figures
        assert "msg/s in" in figures
        assert "stored" in figures
        status = subprocess.run(
            [sys.executable, "-m", "smartcity", "status"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert status.returncode == 0, status.stdout + status.stderr
        assert "running" in status.stdout
        assert "messages stored" in status.stdout
        assert "alertmanager" in status.stdout
        assert "alerts sent to Alertmanager" in status.stdout
        assert "(up)" in status.stdout.split("alertmanager", 1)[1].splitlines()[0]
        endpoints = json.loads((tmp_path / "endpoints.json").read_text())
        api_url = endpoints["api_url"]
        assert api_lines == [f"api       {api_url}/docs"]
        assert f"{api_url} (up)" in " ".join(status.stdout.split())
        check_the_api(api_url, env)
        # the local Alertmanager's webhooks reach the API's relay route with its own token
        rendered = yaml.safe_load((tmp_path / "alertmanager" / "alertmanager.yml").read_text())
        hooks = [h for r in rendered["receivers"] for h in r.get("webhook_configs", [])]
        # beside them, the demo's recording webhook receiver (no token: it is not the API)
        demo_hook = endpoints["receivers"]["webhook"]
        assert {h["url"] for h in hooks if "http_config" not in h} == {demo_hook}
        hooks = [h for h in hooks if h["url"] != demo_hook]
        token_file = tmp_path / "alertmanager-api-token"
        assert {h["url"] for h in hooks} == {f"{api_url}/hooks/alertmanager"}
        assert {h["http_config"]["authorization"]["credentials_file"] for h in hooks} == {
            str(token_file.resolve())
        }
        assert oct(token_file.stat().st_mode & 0o777) == "0o600"
        # Grafana's provisioning, written for this platform's own InfluxDB, and said where
        assert "grafana files" in status.stdout
        provisioning = tmp_path / "grafana" / "provisioning"
        assert endpoints["grafana_provisioning"] == str(provisioning.resolve())
        sources = (provisioning / "datasources" / "smartcity.yaml").read_text()
        assert f"url: {endpoints['influx_url']}" in sources
        assert len(list((tmp_path / "grafana" / "dashboards").glob("smartcity-*.json"))) == 6
        servers = list(endpoints["server_pids"].values())
        assert sorted(endpoints["server_pids"]) == ["alertmanager", "influxdb", "mosquitto"]
        assert len(servers) == 3
        assert all(alive(pid) for pid in servers)
    finally:
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=60)
    assert process.returncode == 0, rest
    assert "stopped" in rest
    assert not any(alive(pid) for pid in servers), "a local server outlived smartcity up"
    assert not (tmp_path / "endpoints.json").exists()
