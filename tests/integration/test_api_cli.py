"""`smartcity api token create|list|revoke` and `smartcity api` on its own, as a user runs them."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import paho.mqtt.publish as publish

import alerts
import devices
from smartcity.stack import LocalMosquitto

ROOT = Path(__file__).resolve().parents[2]


def smartcity(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "smartcity", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_token_is_printed_once_kept_hashed_listed_and_revoked(tmp_path: Path) -> None:
    env = {**os.environ, "SMARTCITY_API_TOKENS_FILE": str(tmp_path / "keys" / "tokens.json")}
    made = smartcity(env, "api", "token", "create", "--scope", "operate", "--name", "alice")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert re.fullmatch(r"sct_[0-9a-f]{12}_[A-Za-z0-9_-]{43}", token)
    stored = tmp_path / "keys" / "tokens.json"
    assert stored.stat().st_mode & 0o777 == 0o600
    assert token not in stored.read_text()
    listed = smartcity(env, "api", "token", "list")
    assert "alice" in listed.stdout
    assert "operate" in listed.stdout
    assert token not in listed.stdout + listed.stderr
    again = smartcity(env, "api", "token", "create", "--scope", "read", "--name", "alice")
    assert again.returncode == 1
    assert "exists already" in again.stderr
    assert smartcity(env, "api", "token", "revoke", "alice").returncode == 0
    assert "alice" not in smartcity(env, "api", "token", "list").stdout


def test_smartcity_api_serves_on_its_own_and_stops_on_ctrl_c(
    tmp_path: Path, mosquitto: LocalMosquitto
) -> None:
    env = {
        **os.environ,
        "SMARTCITY_DATA_DIR": str(tmp_path),
        "SMARTCITY_MQTT_URL": mosquitto.url,
        "SMARTCITY_API_PORT": "0",
        "SMARTCITY_API_MQTT_CLIENT_ID": f"api-cli-{os.getpid()}",
        "SMARTCITY_ALERTS_STATE_PATH": str(tmp_path / "alerts.sqlite"),
        "SMARTCITY_LOG_FILE": str(tmp_path / "api.log"),
    }
    token = smartcity(env, "api", "token", "create", "--name", "ops").stdout.strip()
    process = subprocess.Popen(
        [sys.executable, "-m", "smartcity", "api"],
        cwd=ROOT,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    try:
        first = process.stderr.readline()
        found = re.search(r"(http://127\.0\.0\.1:\d+)", first)
        assert found, first
        url = found.group(1)
        deadline = time.monotonic() + 30
        health = None
        while time.monotonic() < deadline:
            try:
                health = httpx.get(f"{url}/healthz", timeout=2)
            except httpx.HTTPError:
                time.sleep(0.1)
                continue
            if health.status_code == 200:
                break
            time.sleep(0.1)
        assert health is not None
        assert health.status_code == 200, health.text
        assert health.json()["dependencies"]["broker"]["ok"] is True
        devices = httpx.get(f"{url}/devices", headers={"Authorization": f"Bearer {token}"})
        assert devices.status_code == 200
        assert devices.json()["total"] > 0
        assert httpx.get(f"{url}/devices").status_code == 401
        # the incident service is another process's (SMARTCITY_API_INCIDENTS unset here)
        incidents = httpx.get(f"{url}/incidents", headers={"Authorization": f"Bearer {token}"})
        assert incidents.status_code == 503
    finally:
        process.send_signal(signal.SIGINT)
        _, rest = process.communicate(timeout=30)
    assert process.returncode == 0, rest
    assert "stopped" in rest
    log = (tmp_path / "api.log").read_text()
    assert '"event":"api_stopped"' in log
    assert token not in log


def test_a_taken_port_stops_the_start_naming_the_setting(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {
            **os.environ,
            "SMARTCITY_DATA_DIR": str(tmp_path),
            "SMARTCITY_MQTT_URL": "mqtt://127.0.0.1:1",
            "SMARTCITY_API_PORT": str(port),
            "SMARTCITY_ALERTS_STATE_PATH": str(tmp_path / "alerts.sqlite"),
        }
        refused = smartcity(env, "api")
    assert refused.returncode == 1
    assert f"127.0.0.1:{port}" in refused.stderr
    assert "SMARTCITY_API_PORT" in refused.stderr


def test_smartcity_api_hosting_the_incidents_opens_one_from_alerts_on_the_broker(
    tmp_path: Path, mosquitto: LocalMosquitto
) -> None:
    env = {
        **os.environ,
        "SMARTCITY_DATA_DIR": str(tmp_path),
        "SMARTCITY_MQTT_URL": mosquitto.url,
        "SMARTCITY_API_PORT": "0",
        "SMARTCITY_API_INCIDENTS": "true",
        "SMARTCITY_API_MQTT_CLIENT_ID": f"api-incidents-{os.getpid()}",
        "SMARTCITY_GATEWAY_CLIENT_ID": f"api-incidents-gw-{os.getpid()}",
        "SMARTCITY_LOG_FILE": str(tmp_path / "api.log"),
    }
    token = smartcity(env, "api", "token", "create", "--name", "ops").stdout.strip()
    process = subprocess.Popen(
        [sys.executable, "-m", "smartcity", "api"],
        cwd=ROOT,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    listed: list[dict[str, object]] = []
    try:
        said = ""
        while "incident service" not in said and len(said.splitlines()) < 6:
            said += process.stderr.readline()  # the console wraps long lines
        assert "hosts the incident service" in said, said
        found = re.search(r"(http://127\.0\.0\.1:\d+)", said)
        assert found, said
        url = found.group(1)
        headers = {"Authorization": f"Bearer {token}"}
        assert _until_ok(f"{url}/healthz")
        labels = {"cabinet": "C-02", "district": "guancheng", "team": "lighting"}
        now = datetime.now(UTC)
        alert = alerts.Alert(
            fingerprint=alerts.fingerprint("cabinet-power-lost", labels),
            rule="cabinet-power-lost",
            kind=devices.Kind.STREETLIGHT,
            district="guancheng",
            severity="critical",
            labels=labels,
            state=alerts.AlertState.FIRING,
            active_since=now,
            fired_at=now,
            resolved_at=None,
            value=100.0,
            summary="Cabinet C-02: 100 % of its lights without power",
            runbook="",
        )
        document = json.dumps(
            alerts.change_document(alerts.AlertChange(alert, alerts.ChangeKind.FIRING, now))
        )
        topic = devices.alert_topic("guancheng", devices.Kind.STREETLIGHT, "cabinet-power-lost")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not listed:
            # published until the feed's subscription is there to take it (QoS 1 after that)
            publish.single(topic, document, qos=1, hostname="127.0.0.1", port=mosquitto.port)
            time.sleep(0.3)
            listed = httpx.get(f"{url}/incidents", headers=headers).json()
        time.sleep(1.0)  # later copies join it, and open nothing more
        listed = httpx.get(f"{url}/incidents", headers=headers).json()
    finally:
        process.send_signal(signal.SIGINT)
        _, rest = process.communicate(timeout=30)
    assert process.returncode == 0, rest
    assert [(i["type"], i["plan"]) for i in listed] == [("lighting", "cabinet-power-cut@1")]
    assert (tmp_path / "incidents.sqlite").is_file()


def _until_ok(url: str, timeout_s: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    return False
