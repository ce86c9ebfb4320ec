"""The platform SIGKILLed while alerts fire, then restarted: Alertmanager is told again (its
count of received alerts grows), and nobody is notified twice within the repeat interval.

``smartcity gateway`` runs as its own process against the session's Mosquitto and InfluxDB and
a test Alertmanager running the shipped config, which notifies a real webhook receiver.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import paho.mqtt.client as paho
import pytest

from alerts import AlertmanagerAPI, AlertStore
from smartcity.local_alertmanager import LocalAlertmanager
from smartcity.stack import LocalInfluxDB, LocalMosquitto
from tests.support import WebhookReceiver, wait_for

pytestmark = [pytest.mark.timeout(300)]  # under a loaded machine; about 20 s each when quiet

ROOT = Path(__file__).resolve().parents[2]
RULES = """
rules:
  - name: lamp-hot
    kind: streetlight
    severity: critical
    labels: {team: lighting}
    condition: {type: threshold, field: lamp_temp_c, above: 100, clear: 90}
    summary: "Lamp {device} hot: {value:.0f} °C"
    runbook: https://runbooks.smartcity.example/lighting/over-temperature
"""


def received_alerts(alertmanager: LocalAlertmanager) -> int:
    """Alertmanager's own count of firing alerts it was sent."""
    text = httpx.get(f"{alertmanager.url}/metrics", timeout=5).text
    found = re.search(
        r'alertmanager_alerts_received_total\{status="firing",version="v2"\} (\d+)', text
    )
    return int(found.group(1)) if found else 0


@pytest.fixture
def platform_env(
    tmp_path: Path, mosquitto: LocalMosquitto, influxdb: LocalInfluxDB, influx_database: str
) -> tuple[dict[str, str], str]:
    district = f"k{uuid.uuid4().hex[:8]}"
    registry = tmp_path / "fleet.yaml"
    registry.write_text(
        "city: {name: Test, latitude: 31.2, longitude: 121.5, timezone: Asia/Shanghai}\n"
        "devices:\n"
        + "".join(
            f"- {{id: SL-{n}, kind: streetlight, district: {district}, cabinet: C-01}}\n"
            for n in range(3)
        )
    )
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    env = {
        **os.environ,
        "SMARTCITY_DATA_DIR": str(tmp_path / "data"),
        "SMARTCITY_MQTT_URL": mosquitto.url,
        "SMARTCITY_INFLUX_URL": influxdb.url,
        "SMARTCITY_INFLUX_DATABASE": influx_database,
        "SMARTCITY_REGISTRY_PATH": str(registry),
        "SMARTCITY_RULES_PATH": str(rules),
        "SMARTCITY_ALERTS_STATE_PATH": str(tmp_path / "alerts.sqlite"),
        "SMARTCITY_GATEWAY_CLIENT_ID": f"gw-{district}",
        "SMARTCITY_GATEWAY_SUBSCRIPTION": f"city/{district}/+/+/telemetry",
        "SMARTCITY_METRICS_PORT": "0",
        "SMARTCITY_ALERTMANAGER_RESEND_INTERVAL_S": "2",
        "SMARTCITY_LOG_FILE": str(tmp_path / "smartcity.log"),
    }
    return env, district


def start(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "smartcity", "gateway"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def publish_lamps(mosquitto: LocalMosquitto, district: str, temp_c: float = 120.0) -> None:
    client = paho.Client(
        paho.CallbackAPIVersion.VERSION2, client_id=f"lamps-{district}-{uuid.uuid4().hex[:6]}"
    )
    client.connect("127.0.0.1", mosquitto.port)
    client.loop_start()
    for n in range(3):
        reading = {
            "ts": int(time.time() * 1000),
            "seq": int(time.time() * 10) % 1_000_000,
            "power_w": 240.0,
            "voltage_v": 220.0,
            "current_a": 1.1,
            "power_factor": 0.95,
            "energy_kwh": 1000.0,
            "lamp_on": True,
            "dimming_pct": 100.0,
            "ambient_lux": 1.0,
            "lamp_temp_c": temp_c + n,
            "faults": [],
        }
        topic = f"city/{district}/streetlight/SL-{n}/telemetry"
        client.publish(topic, json.dumps(reading), qos=1).wait_for_publish(10)
    client.loop_stop()
    client.disconnect()


def test_a_killed_platform_tells_alertmanager_again_and_nobody_hears_twice(
    make_alertmanager: Callable[..., LocalAlertmanager],
    mosquitto: LocalMosquitto,
    platform_env: tuple[dict[str, str], str],
):
    env, district = platform_env
    with WebhookReceiver() as hook:
        alertmanager = make_alertmanager(webhook_url=hook.url)
        env["SMARTCITY_ALERTMANAGER_URL"] = alertmanager.url
        process = start(env)
        try:
            # the gateway subscribes within a few seconds; publish until the alerts fire
            assert wait_for(
                lambda: publish_lamps(mosquitto, district) or received_alerts(alertmanager) >= 3,
                timeout_s=60,
                interval_s=2,
            ), Path(env["SMARTCITY_LOG_FILE"]).read_text()[-3000:]
            assert wait_for(lambda: len(hook.received("lighting-oncall")) == 1, timeout_s=30)
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
            told_before = received_alerts(alertmanager)
            process = start(env)
            # the restarted engine restores its firing alerts and sends them at once
            assert wait_for(lambda: received_alerts(alertmanager) > told_before, timeout_s=60)
            time.sleep(6)  # several re-sends and group intervals
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
    (body,) = hook.received("lighting-oncall")
    assert sorted(a["labels"]["device_id"] for a in body["alerts"]) == ["SL-0", "SL-1", "SL-2"]
    assert len(hook.bodies) == 1


def test_an_acknowledged_alert_is_silenced_until_the_running_platform_sees_it_resolve(
    make_alertmanager: Callable[..., LocalAlertmanager],
    mosquitto: LocalMosquitto,
    platform_env: tuple[dict[str, str], str],
):
    env, district = platform_env
    with WebhookReceiver() as hook:
        alertmanager = make_alertmanager(webhook_url=hook.url, group_wait_s=8.0)
        env["SMARTCITY_ALERTMANAGER_URL"] = alertmanager.url
        process = start(env)
        try:
            assert wait_for(
                lambda: publish_lamps(mosquitto, district) or received_alerts(alertmanager) >= 3,
                timeout_s=60,
                interval_s=2,
            ), Path(env["SMARTCITY_LOG_FILE"]).read_text()[-3000:]
            state = Path(env["SMARTCITY_ALERTS_STATE_PATH"])
            with AlertStore(state) as store:
                taken = next(a for a in store.alerts() if a.labels["device"] == "SL-0")
            ack = subprocess.run(
                [sys.executable, "-m", "smartcity", "alerts", "ack", taken.fingerprint,
                 "--by", "ana", "--comment", "crew on site"],
                cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False,
            )  # fmt: skip
            assert ack.returncode == 0, ack.stdout + ack.stderr
            api = AlertmanagerAPI([alertmanager.url], timeout_s=5)
            (silence,) = asyncio.run(api.silences())
            assert silence.state == "active"
            # the engine records who took it
            assert wait_for(
                lambda: acknowledged_by(state, taken.fingerprint) == "ana", timeout_s=20
            )
            assert wait_for(lambda: len(hook.received("lighting-oncall")) == 1, timeout_s=30)
            publish_lamps(mosquitto, district, temp_c=70.0)  # the lamps cool down: resolved
            assert wait_for(lambda: asyncio.run(api.silences())[0].state == "expired", timeout_s=20)
            assert wait_for(lambda: len(hook.received("lighting-oncall")) >= 2, timeout_s=30)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
    firing = hook.received("lighting-oncall")[0]
    # the acknowledged lamp was silenced before the group's first notification went out
    assert sorted(a["labels"]["device_id"] for a in firing["alerts"]) == ["SL-1", "SL-2"]


def acknowledged_by(state: Path, fingerprint: str) -> str | None:
    with AlertStore(state) as store:
        found = [a for a in store.alerts(include_resolved=True) if a.fingerprint == fingerprint]
    return found[0].acknowledged_by if found else None
