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

ROOT = Path(__file__).resolve().parents[2]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


def test_up_shows_live_figures_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "SMARTCITY_DATA_DIR": str(tmp_path),
        "SMARTCITY_LOCAL_MQTT_PORT": "0",
        "SMARTCITY_LOCAL_INFLUX_PORT": "0",
        "SMARTCITY_LOCAL_ALERTMANAGER_PORT": "0",
        "SMARTCITY_METRICS_PORT": "0",
        "SMARTCITY_ALERTS_STATE_PATH": str(tmp_path / "alerts.sqlite"),
        "SMARTCITY_SIMULATE_INTERVAL_S": "1",
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
