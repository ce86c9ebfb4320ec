"""After a secured run with known secrets and plates, none of them is in clear in the logs, the
dead letters or InfluxDB.

``smartcity up --demo`` runs secured (the default). While it runs, the test watches the
simulated cameras' plates go by (logged in as the gateway's user, which may read the uplink),
publishes as one camera with its own credentials a valid pass, an out-of-range pass, a plate the
schema refuses and a cut-off payload, each with a plate of its own, and collects the dead
letters as ``platform.monitor``. Then it reads back every measurement of InfluxDB and, once the
platform has stopped, every log file, and looks for every password, the plate-hash key and
every plate, as text, JSON-escaped and inside the base64 of dead letters.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from devices import BrokerTls, Credentials, ServiceRole, parse_broker_url, ssl_context

ROOT = Path(__file__).resolve().parents[2]
PLATE_KEY = "scan-test-plate-key-7f3a9c"
OWN_PLATES = ["SCANPLATE1", "SCANPLATE2", "SCAN-PLATE3", "SCAN PLATE4"]  # the last is refused
CAMERA = "CP-0001"
CAMERA_TOPIC = "city/guancheng/checkpoint/CP-0001/event"


def start_platform(folder: Path) -> tuple[subprocess.Popen[str], dict[str, str]]:
    env = {
        **os.environ,
        "SMARTCITY_DATA_DIR": str(folder),
        "SMARTCITY_LOCAL_MQTTS_PORT": "0",
        "SMARTCITY_LOCAL_INFLUX_PORT": "0",
        "SMARTCITY_METRICS_PORT": "0",
        "SMARTCITY_ALERTS_STATE_PATH": str(folder / "alerts.sqlite"),
        "SMARTCITY_SIMULATE_INTERVAL_S": "1",
        "SMARTCITY_PLATE_HASH_KEY": PLATE_KEY,
        "SMARTCITY_LOG_LEVEL": "DEBUG",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "smartcity", "up", "--demo"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return process, env


def wait_for_readings(process: subprocess.Popen[str]) -> list[str]:
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip())
        if line.startswith("devices ") and " 0 stored" not in line:
            return lines
    raise AssertionError("no readings stored:\n" + "\n".join(lines))


class Watcher:
    """A TLS client that keeps every message of a topic filter."""

    def __init__(self, url: str, tls: BrokerTls, login: tuple[str, str], topic: str) -> None:
        address = parse_broker_url(url)
        self.messages: list[tuple[str, bytes]] = []
        self.ready = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"scan-{time.time_ns()}")
        self.client.username_pw_set(*login)
        self.client.tls_set_context(ssl_context(tls))
        self.client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
        self.client.on_subscribe = lambda *_: self.ready.set()
        self.client.on_message = lambda c, u, m: self.messages.append((m.topic, bytes(m.payload)))
        self.client.connect(address.host, address.port, keepalive=10)
        self.client.loop_start()
        assert self.ready.wait(10), f"could not subscribe to {topic}"

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def vehicle_pass(plate: str, seq: int, **changes: Any) -> bytes:
    payload: dict[str, Any] = {
        "ts": int(time.time() * 1000),
        "seq": seq,
        "event": "vehicle_pass",
        "plate": plate,
        "vehicle_class": "car",
        "speed_kmh": 42.0,
        "lane": 1,
        "direction": "inbound",
    }
    payload.update(changes)
    return orjson.dumps(payload)


def influx_dump(url: str) -> tuple[str, str]:
    """Every point of every measurement as InfluxDB answers (JSON), and the decoded contents
    of every ``payload_b64`` field among them."""

    def query(q: str) -> dict[str, Any]:
        response = httpx.get(f"{url}/query", params={"db": "smartcity", "q": q}, timeout=30)
        response.raise_for_status()
        return dict(response.json())

    shown = query("SHOW MEASUREMENTS")
    names = [row[0] for row in shown["results"][0]["series"][0]["values"]]
    answers = [query(f'SELECT * FROM "{name}"') for name in names]
    answers.append(query('SELECT * FROM "downsampled"./.*/'))
    decoded = []
    for answer in answers:
        for result in answer["results"]:
            for series in result.get("series", []):
                if "payload_b64" not in series["columns"]:
                    continue
                column = series["columns"].index("payload_b64")
                decoded += [b64_text(row[column]) for row in series["values"] if row[column]]
    text = "\n".join(json.dumps(answer, ensure_ascii=False) for answer in answers)
    return text, "\n".join(decoded)


def b64_text(value: str) -> str:
    return base64.b64decode(value).decode("utf-8", "replace")


def plate_of(payload: bytes) -> str | None:
    try:
        document = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None
    plate = document.get("plate") if isinstance(document, dict) else None
    return plate if isinstance(plate, str) else None


def forms(secret: str) -> set[str]:
    """A secret as it could appear: itself, JSON-escaped, Python-escaped."""
    return {secret, json.dumps(secret)[1:-1], secret.encode("unicode_escape").decode("ascii")}


def leaks(haystack: str, secrets: dict[str, str]) -> list[str]:
    return sorted(
        f"{what} ({secret!r})"
        for what, secret in secrets.items()
        if any(form in haystack for form in forms(secret))
    )


def test_no_password_key_or_plate_is_in_clear_after_a_secured_run(tmp_path: Path) -> None:
    process, _ = start_platform(tmp_path)
    watchers: list[Watcher] = []
    try:
        wait_for_readings(process)
        note = json.loads((tmp_path / "endpoints.json").read_text())
        security = tmp_path / "security"
        credentials = Credentials.from_json(
            (security / "credentials.json").read_text(), where="credentials.json"
        )
        assert (security / "credentials.json").stat().st_mode & 0o777 == 0o600
        tls = BrokerTls(
            security / "ca.pem", security / "client.pem", security / "client.key", verify=True
        )
        url = note["mqtt_url"]
        gateway = credentials.service_login(ServiceRole.GATEWAY)
        monitor = credentials.service_login(ServiceRole.MONITOR)
        assert gateway is not None
        assert monitor is not None
        cameras = Watcher(
            url, tls, (gateway.username, gateway.password), "city/+/checkpoint/+/event"
        )
        letters = Watcher(url, tls, (monitor.username, monitor.password), "city/deadletter/#")
        watchers += [cameras, letters]
        camera = credentials.device_login(CAMERA)
        assert camera is not None
        device = Watcher(url, tls, (camera.username, camera.password), "city/+/+/CP-0001/cmd")
        watchers.append(device)
        sent = [
            vehicle_pass(OWN_PLATES[0], 900_001),
            vehicle_pass(OWN_PLATES[1], 900_002, speed_kmh=999.0),
            vehicle_pass(OWN_PLATES[2], 900_003)[:-20],
            vehicle_pass(OWN_PLATES[3], 900_004),
        ]
        for payload in sent:
            device.client.publish(CAMERA_TOPIC, payload, qos=1).wait_for_publish(5)
        deadline = time.monotonic() + 30
        while len(letters.messages) < 3 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(letters.messages) >= 3, letters.messages
        time.sleep(2)  # the stored pass and the dead letters' points
        stored, stored_payloads = influx_dump(note["influx_url"])
        plates = {plate_of(payload) for _, payload in cameras.messages} - {None}
        assert len(plates) > 1, "the simulated cameras reported no passes"
    finally:
        for watcher in watchers:
            watcher.close()
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=60)
    assert process.returncode == 0

    secrets = {f"password of {login.username}": login.password for login in credentials.logins()}
    secrets["plate hash key"] = PLATE_KEY
    secrets.update({f"plate {plate}": plate for plate in [*OWN_PLATES, *plates] if plate})
    published = "\n".join(payload.decode("utf-8", "replace") for _, payload in letters.messages)
    published_payloads = "\n".join(
        b64_text(orjson.loads(payload)["payload_b64"]) for _, payload in letters.messages
    )
    logs = "\n".join(
        path.read_text(errors="replace")
        for path in tmp_path.rglob("*.log")
        if "security" not in path.parts
    )
    # a stored pass and the dead letters really are there, in hashed form
    assert "plate_hash" in stored
    assert "deadletter" in stored
    assert "withheld" in stored
    assert "plate_hash:" in stored_payloads  # the dead letters' payloads, plates hashed
    assert leaks(stored + stored_payloads, secrets) == []
    assert leaks(published + published_payloads, secrets) == []
    assert leaks(logs, secrets) == []
