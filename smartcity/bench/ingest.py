"""``smartcity bench ingest``: how fast readings go from the broker into InfluxDB, and the limits.

Everything runs against a Mosquitto and an InfluxDB started here on loopback, in a temporary
folder, and stops by itself (bounded counts and durations). Figures:

- **limits**: Mosquitto delivering a queued backlog to a null subscriber (``mosquitto_sub``),
  paho-mqtt's raw QoS 1 receive rate with no work per message, InfluxDB's own write rate for
  the same points (5,000-point batches, 4 at once);
- **gateway**: ``smartcity gateway --no-engine`` as its own process, configured by its
  environment as in production, draining the same QoS 1 backlog, validated and stored durably
  before each ack: sustained messages/s, and its ratio to paho's
  raw rate;
- **latency**: publish → queryable in InfluxDB, p50/p99, with background load at half the
  gateway's sustained rate;
- **memory**: the gateway's RSS at start, at its peak and at the end.

A backlog is queued for a persistent session before the receiver connects, so each receive
rate is the receiver's, not the publisher's.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from devices import (
    Channel,
    DeviceRecord,
    Kind,
    Registry,
    Topic,
    decode_message,
    device_subscription,
    dump_registry,
)
from ingest import InfluxV1Config, InfluxV1Writer, Point, encode_lines, points_from_message
from smartcity.bench.gateway_process import GatewayProcess
from smartcity.settings import Settings
from smartcity.stack import LocalInfluxDB, LocalMosquitto

__all__ = ["run_ingest_bench"]

DATABASE = "bench"
DISTRICT = "bench"
DEVICES = 100
PROBE_DEVICE = "SL-PROBE"
_POLL_S = 0.005


def _registry() -> Registry:
    records = [
        DeviceRecord(id=f"SL-{index:04d}", kind=Kind.STREETLIGHT, district=DISTRICT, cabinet="C-01")
        for index in range(DEVICES)
    ]
    records.append(
        DeviceRecord(id=PROBE_DEVICE, kind=Kind.STREETLIGHT, district=DISTRICT, cabinet="C-01")
    )
    return Registry.from_records(records)


def _reading(seq: int, ts_ms: int, power_w: float) -> bytes:
    return orjson.dumps(
        {
            "ts": ts_ms,
            "seq": seq,
            "power_w": power_w,
            "voltage_v": 220.0,
            "current_a": 0.4,
            "power_factor": 0.95,
            "energy_kwh": 12.5,
            "lamp_on": True,
            "dimming_pct": 80.0,
            "ambient_lux": 2.0,
            "lamp_temp_c": 35.0,
        }
    )


_TELEMETRY = device_subscription(district=DISTRICT, channel=Channel.TELEMETRY)


def _topic(device_id: str) -> str:
    return str(Topic(DISTRICT, Kind.STREETLIGHT, device_id, Channel.TELEMETRY))


def _messages(count: int, ts_ms: int, round_: int) -> list[tuple[str, bytes]]:
    """``count`` readings over the fleet; ``round_`` keeps each run's points distinct."""
    out = []
    for number in range(count):
        index = number % DEVICES
        seq = round_ * 10_000_000 + number // DEVICES
        out.append(
            (
                _topic(f"SL-{index:04d}"),
                # each round in its own past hour, so no round overwrites another's points
                _reading(seq, ts_ms - round_ * 3_600_000 + number // DEVICES, float(index)),
            )
        )
    return out


def _client(client_id: str, **options: Any) -> mqtt.Client:
    return mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5, **options
    )


def _publish_backlog(port: int, messages: list[tuple[str, bytes]]) -> float:
    """Publish at QoS 1 and wait for every PUBACK; the publish rate."""
    client = _client(f"bench-pub-{time.monotonic_ns()}")
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    started = time.perf_counter()
    infos = []
    for number, (topic, payload) in enumerate(messages):
        infos.append(client.publish(topic, payload, qos=1))
        if number % 2000 == 1999:
            while sum(1 for info in infos[-4000:] if not info.is_published()) > 3000:
                time.sleep(0.002)
    for info in infos:
        info.wait_for_publish(timeout=60)
    seconds = time.perf_counter() - started
    client.disconnect()
    client.loop_stop()
    return len(messages) / seconds


def _make_session(port: int, client_id: str, topic_filter: str, receive_max: int) -> None:
    """A persistent session subscribed to ``topic_filter``, left offline to queue a backlog."""
    client = _client(client_id)
    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    properties.SessionExpiryInterval = 3600
    properties.ReceiveMaximum = receive_max
    done = threading.Event()
    client.on_subscribe = lambda *args: done.set()
    client.connect("127.0.0.1", port, clean_start=True, properties=properties)
    client.loop_start()
    client.subscribe(topic_filter, qos=1)
    done.wait(10)
    client.disconnect()
    client.loop_stop()


def _drop_session(port: int, client_id: str) -> None:
    """End a persistent session, so the broker stops queueing for it."""
    client = _client(client_id)
    client.connect("127.0.0.1", port, clean_start=True)
    client.loop_start()
    time.sleep(0.2)
    client.disconnect()
    client.loop_stop()


def _null_subscriber_rate(port: int, count: int) -> float:
    """Mosquitto draining a QoS 1 backlog into ``mosquitto_sub > /dev/null``."""
    binary = shutil.which("mosquitto_sub")
    if binary is None:
        return float("nan")
    base = [binary, "-h", "127.0.0.1", "-p", str(port), "-q", "1", "-c", "-i", "bench-null"]
    base += ["-V", "mqttv5", "-x", "3600", "-t", _TELEMETRY]
    subprocess.run([*base, "-E"], check=True, timeout=30)
    _publish_backlog(port, _messages(count, int(time.time() * 1000), 0))
    started = time.perf_counter()
    subprocess.run([*base, "-C", str(count)], check=True, timeout=300, stdout=subprocess.DEVNULL)
    rate = count / (time.perf_counter() - started)
    _drop_session(port, "bench-null")
    return rate


def _paho_raw_rate(port: int, count: int, receive_max: int) -> float:
    """paho-mqtt receiving a QoS 1 backlog with no work per message (automatic acks)."""
    client_id = "bench-raw"
    _make_session(port, client_id, _TELEMETRY, receive_max)
    _publish_backlog(port, _messages(count, int(time.time() * 1000), 0))
    received = 0
    done = threading.Event()

    def on_message(client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        nonlocal received
        received += 1
        if received >= count:
            done.set()

    client = _client(client_id)
    client.on_message = on_message
    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    properties.SessionExpiryInterval = 3600
    properties.ReceiveMaximum = receive_max
    started = time.perf_counter()
    client.connect("127.0.0.1", port, clean_start=False, properties=properties)
    client.loop_start()
    done.wait(300)
    seconds = time.perf_counter() - started
    client.disconnect()
    client.loop_stop()
    _drop_session(port, client_id)
    return received / seconds


async def _influx_write_rate(url: str, messages: list[tuple[str, bytes]]) -> float:
    """InfluxDB's own rate for the same points: 5,000-point batches, 4 writes at once."""
    registry = _registry()
    points: list[Point] = []
    for topic, payload in messages:
        message = decode_message(topic, payload)
        points.extend(
            points_from_message(message, registry[message.topic.device_id], plate_key=b"k")
        )
    bodies = [encode_lines(points[start : start + 5000]) for start in range(0, len(points), 5000)]
    config = InfluxV1Config(
        url=url,
        database=DATABASE + "_raw",
        retention_policy=None,
        username=None,
        password=None,
        timeout_s=30,
        gzip=False,
        max_in_flight=4,
    )
    async with httpx.AsyncClient(timeout=10) as http:
        await http.post(f"{url}/query", params={"q": f"CREATE DATABASE {DATABASE}_raw"})
    async with InfluxV1Writer(config) as writer:
        queue = list(reversed(bodies))

        async def worker() -> None:
            while queue:
                await writer.write(queue.pop())

        started = time.perf_counter()
        async with asyncio.TaskGroup() as group:
            for _ in range(4):
                group.create_task(worker())
        return len(points) / (time.perf_counter() - started)


def _gateway(
    folder: Path, mosquitto: LocalMosquitto, url: str, *, index: int = 0, count: int = 1
) -> GatewayProcess:
    """``smartcity gateway`` as its own process, configured by its environment as in
    production; without the rule engine, which ``smartcity bench rules`` measures."""
    registry_path = folder / "fleet.yaml"
    dump_registry(_registry(), registry_path)
    settings = {
        "mqtt_url": mosquitto.url,
        "influx_url": url,
        "influx_database": DATABASE,
        "registry_path": registry_path,
        "gateway_client_id": f"bench-gateway-{count}",
        "gateway_workers": count,
        "gateway_worker_index": index,
        "gateway_stats_interval_s": 1.0,
        "plate_hash_key": "bench-key",
        "log_level": "WARNING",
    }
    return GatewayProcess(folder / f"gateway-{index}of{count}", settings, engine=False, cwd=folder)


def _gateway_rate(
    workers: list[GatewayProcess], port: int, count: int, round_: int, rss: list[float]
) -> tuple[float, float]:
    """Gateway workers draining a QoS 1 backlog: validated, stored durably, then acked.

    Returns messages/s and the workers' CPU time per message in µs (start-up excluded).
    """
    for worker in workers:
        worker.start()  # makes the persistent session and its subscriptions
    for worker in workers:
        worker.stop()
    _publish_backlog(port, _messages(count, int(time.time() * 1000) - 3_600_000, round_))
    for worker in workers:
        worker.start()
    cpu_at_start = sum(worker.cpu_s() for worker in workers)
    rss.append(workers[0].rss_mb())
    first: tuple[float, float] | None = None
    stored = 0.0
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        # rejected counts too: a bench that dead-letters must end, and says so in its figures
        stored = sum(
            worker.metric("gateway_messages_stored") + worker.metric("gateway_messages_rejected")
            for worker in workers
        )
        now = time.perf_counter()
        if first is None and stored > 0:
            first = (now, stored)
        if stored >= count:
            break
        rss.append(workers[0].rss_mb())
        time.sleep(0.05)
    rss.append(workers[0].rss_mb())
    cpu_us = (sum(worker.cpu_s() for worker in workers) - cpu_at_start) / max(stored, 1) * 1e6
    if first is None:
        return 0.0, cpu_us
    return (stored - first[1]) / max(time.perf_counter() - first[0], 1e-9), cpu_us


def _latency(
    port: int, url: str, rate_per_s: float, seconds: float, rss: Callable[[], None]
) -> tuple[float, float, int]:
    """p50/p99 publish → queryable under background load at ``rate_per_s``."""
    stop = threading.Event()
    background = _client(f"bench-load-{time.monotonic_ns()}")
    background.max_inflight_messages_set(1000)
    background.max_queued_messages_set(0)
    background.connect("127.0.0.1", port)
    background.loop_start()

    def load() -> None:
        messages = _messages(int(rate_per_s * seconds) + 1000, int(time.time() * 1000), 2)
        started = time.perf_counter()
        for number, (topic, payload) in enumerate(messages):
            if stop.is_set():
                return
            target = started + number / rate_per_s
            delay = target - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            background.publish(topic, payload, qos=1)

    loader = threading.Thread(target=load, daemon=True)
    loader.start()
    probe = _client(f"bench-probe-{time.monotonic_ns()}")
    probe.connect("127.0.0.1", port)
    probe.loop_start()
    # a probe goes out every 50 ms whatever became of earlier ones; a poller sees each land
    sent_at: dict[int, float] = {}
    landed_at: dict[int, float] = {}
    query = f"SELECT last(seq) FROM streetlight WHERE device_id = '{PROBE_DEVICE}'"
    probing = threading.Event()
    stopped_at = [float("inf")]

    def poll() -> None:
        seen = 0
        with httpx.Client(base_url=url, timeout=5) as http:
            while True:
                response = http.get("/query", params={"db": DATABASE, "q": query})
                series = response.json()["results"][0].get("series")
                now = time.perf_counter()
                if series:
                    last = int(series[0]["values"][0][1])
                    for seq in range(seen + 1, last + 1):
                        landed_at.setdefault(seq, now)
                    seen = max(seen, last)
                done = not probing.is_set() and seen >= len(sent_at)
                if done or now - stopped_at[0] > 15:
                    return
                time.sleep(_POLL_S)

    probing.set()
    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    end = time.monotonic() + seconds
    seq = 0
    while time.monotonic() < end:
        seq += 1
        sent_at[seq] = time.perf_counter()
        probe.publish(_topic(PROBE_DEVICE), _reading(seq, int(time.time() * 1000), 1.0), qos=1)
        rss()
        time.sleep(0.05)
    stopped_at[0] = time.perf_counter()
    probing.clear()
    poller.join(timeout=30)
    latencies = [landed_at[seq] - sent_at[seq] for seq in sent_at if seq in landed_at]
    stop.set()
    loader.join(timeout=10)
    probe.disconnect()
    probe.loop_stop()
    background.disconnect()
    background.loop_stop()
    latencies.sort()
    p50 = statistics.median(latencies) if latencies else float("nan")
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] if latencies else 0.0
    return p50, p99, len(latencies)


def _goals(figures: dict[str, Any], workers: int) -> dict[str, dict[str, Any]]:
    """Each figure against its own goal: one worker is judged on one worker's ratio, never on
    the better of one and several workers."""
    goals = {
        "one_worker_to_paho_raw": {
            "measured": figures["gateway_to_paho_raw"],
            "goal": "at least 0.8",
            "met": figures["gateway_to_paho_raw"] >= 0.8,
        },
        "latency_p99_s": {
            "measured": figures["latency_p99_s"],
            "goal": "under 1.0",
            "met": figures["latency_p99_s"] < 1.0,
        },
    }
    several = f"gateway_{workers}_workers_to_paho_raw"
    if several in figures:
        goals[f"{workers}_workers_to_paho_raw"] = {
            "measured": figures[several],
            "goal": "at least 0.8",
            "met": figures[several] >= 0.8,
        }
    return goals


def run_ingest_bench(
    *,
    messages: int = 100_000,
    latency_s: float = 20.0,
    workers: int = 2,
    results_dir: Path = Path("bench/results"),
) -> dict[str, Any]:
    """Run every measurement; return the figures and write them to ``results_dir``."""
    settings = Settings()
    folder = Path(tempfile.mkdtemp(prefix="smartcity-bench-ingest-"))
    figures: dict[str, Any] = {
        "benchmark": "ingest",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "messages": messages,
        "receive_max": settings.gateway_receive_max,
        "batch_max": settings.gateway_batch_max,
        "batch_age_s": settings.gateway_batch_age_s,
        "cpus": os.cpu_count(),
        "gateway": "smartcity gateway --no-engine",
    }
    try:
        mosquitto = LocalMosquitto(folder / "mosquitto")
        influx = LocalInfluxDB(folder / "influxdb")
        with mosquitto, influx:
            httpx.post(f"{influx.url}/query", params={"q": f"CREATE DATABASE {DATABASE}"})
            limits = {
                "mosquitto_null_subscriber_msg_per_s": round(
                    _null_subscriber_rate(mosquitto.port, messages)
                ),
                "paho_raw_receive_msg_per_s": round(
                    _paho_raw_rate(mosquitto.port, messages, settings.gateway_receive_max)
                ),
                "influx_write_points_per_s": round(
                    asyncio.run(
                        _influx_write_rate(
                            influx.url, _messages(messages, int(time.time() * 1000), 3)
                        )
                    )
                ),
            }
            figures["limits"] = limits
            worker = _gateway(folder, mosquitto, influx.url)
            rss: list[float] = []
            try:
                rate, cpu_us = _gateway_rate([worker], mosquitto.port, messages, 1, rss)
                figures["gateway_msg_per_s"] = round(rate)
                figures["gateway_cpu_us_per_msg"] = round(cpu_us, 1)
                figures["gateway_to_paho_raw"] = round(
                    rate / limits["paho_raw_receive_msg_per_s"], 3
                )
                p50, p99, probes = _latency(
                    mosquitto.port,
                    influx.url,
                    max(rate / 2, 1.0),
                    latency_s,
                    lambda: rss.append(worker.rss_mb()),
                )
                figures["latency_load_msg_per_s"] = round(rate / 2)
                figures["latency_p50_s"] = round(p50, 4)
                figures["latency_p99_s"] = round(p99, 4)
                figures["latency_probes"] = probes
                figures["gateway_store_latency_s_mean"] = round(
                    worker.metric("gateway_store_latency_seconds_sum")
                    / max(worker.metric("gateway_store_latency_seconds_count"), 1),
                    4,
                )
                figures["gateway_dead_lettered"] = round(worker.metric("gateway_messages_rejected"))
                figures["gateway_rss_mb"] = {
                    "start": round(rss[0], 1),
                    "peak": round(max(rss), 1),
                    "end": round(rss[-1], 1),
                }
            finally:
                worker.stop()
                _drop_session(mosquitto.port, "bench-gateway-1")
            if workers > 1:
                pool = [
                    _gateway(folder, mosquitto, influx.url, index=index, count=workers)
                    for index in range(workers)
                ]
                try:
                    rate, cpu_us = _gateway_rate(pool, mosquitto.port, messages, 4, [])
                finally:
                    for each in pool:
                        each.stop()
                figures[f"gateway_{workers}_workers_msg_per_s"] = round(rate)
                figures[f"gateway_{workers}_workers_to_paho_raw"] = round(
                    rate / limits["paho_raw_receive_msg_per_s"], 3
                )
                figures[f"gateway_{workers}_workers_cpu_us_per_msg"] = round(cpu_us, 1)
            figures["goals"] = _goals(figures, workers)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    results_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (results_dir / f"ingest-{stamp}.json").write_text(json.dumps(figures, indent=2) + "\n")
    return figures
