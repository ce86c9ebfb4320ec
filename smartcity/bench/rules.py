"""`smartcity bench rules`: how fast the rule engine evaluates, what it costs, how late it is.

1. throughput: a 100,000-device city (the simulators' scaled fleet), the default pack plus
   1,000 extra rules (each on one kind in one district: a city's local rules), fed one simulated
   report round after another through the real decoder; readings/s of the evaluator alone and of
   the async engine (queue, SQLite state, announcements);
2. memory: the resident growth of the process while the engine holds that city's state;
3. latency: a real Mosquitto and InfluxDB, the real gateway (store, then hand over), the
   engine publishing its changes on MQTT: from a device's publish to an operator's client
   receiving the alert, p50/p95/max over repeated trips, idle and under background load.

Prints JSON and writes it to ``bench/results/rules-<time>.json``.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import statistics
import tempfile
import threading
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiomqtt
import httpx
import orjson
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

import simulators
from alerts import (
    AlertEngine,
    Evaluator,
    Observation,
    Rule,
    RuleSet,
    load_rules,
    parse_rules,
)
from devices import (
    Channel,
    Kind,
    Registry,
    Topic,
    alert_subscription,
    decode_message,
    load_registry,
)
from gateway import Gateway
from ingest import DurableStore, Spool
from smartcity.assembly import (
    alert_listeners,
    alerts_config,
    gateway_config,
    influx_writer,
    spool_config,
    store_config,
)
from smartcity.settings import Settings, load_settings
from smartcity.stack import LocalInfluxDB, LocalMosquitto

__all__ = ["extra_rules", "run_benchmark"]

_FIELDS: dict[Kind, list[tuple[str, float]]] = {
    Kind.STREETLIGHT: [("lamp_temp_c", 140.0), ("power_w", 900.0), ("current_a", 9.0)],
    Kind.WATER_QUALITY: [("turbidity_ntu", 3000.0), ("conductivity_us_cm", 90_000.0)],
    Kind.TRAFFIC_SIGNAL: [("cycle_s", 500.0), ("approaches.occupancy_pct", 99.5)],
    Kind.CHECKPOINT: [("temp_c", 100.0), ("storage_used_pct", 99.0)],
}


def rss_mb() -> float:
    """This process's resident memory."""
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def extra_rules(registry: Registry, count: int) -> list[Rule]:
    """``count`` local rules: a kind, a district, a threshold (a third of them windowed)."""
    districts = sorted({record.district for record in registry.values()})
    kinds = list(Kind)
    lines = ["rules:"]
    for number in range(count):
        kind = kinds[number % len(kinds)]
        field, limit = _FIELDS[kind][number % len(_FIELDS[kind])]
        district = districts[(number // len(kinds)) % len(districts)]
        windowed = "aggregate: mean, window: 10m, " if number % 3 == 0 else ""
        lines.append(
            f"  - {{name: extra-{number:04d}, kind: {kind.value}, severity: info,"
            f" summary: '{{device}} {{value}}', runbook: https://runbooks.example/extra,"
            f" for: 5m, select: {{districts: [{district}]}},"
            f" condition: {{type: threshold, field: {field}, {windowed}above: {limit}}}}}"
        )
    return [rule for rule, _ in parse_rules("\n".join(lines), "<bench>")]


def _rounds(
    registry: Registry, rounds: int, start_s: float, interval_s: float
) -> list[list[Observation]]:
    simulation = simulators.FleetSimulation(
        registry, seed=7, interval_s=interval_s, start_s=start_s
    )
    out: list[list[Observation]] = []
    for number in range(rounds):
        observations = []
        for message in simulation.step(start_s + number * interval_s):
            decoded = decode_message(message.topic, message.payload)
            at = getattr(decoded.payload, "ts", None) or datetime.fromtimestamp(start_s, UTC)
            observations.append(Observation(decoded, registry.get(decoded.topic.device_id), at))
        out.append(observations)
    return out


def throughput(devices: int, extra: int, rounds: int, settings: Settings) -> dict[str, Any]:
    """Readings/s of the evaluator and of the engine over ``rounds`` report rounds."""
    gc.collect()
    baseline = rss_mb()
    registry = simulators.generate_registry(simulators.scaled_fleet_spec(devices))
    pack = load_rules(settings.rules_path)
    rules = RuleSet((*pack.rules, *extra_rules(registry, extra)), pack.sources)
    with_registry = rss_mb()
    start_s = datetime(2026, 6, 21, 12, 0, tzinfo=UTC).timestamp()  # 20:00 local: lamps on
    interval_s = 60.0
    evaluator = Evaluator(
        rules,
        registry,
        max_clock_skew=None,
        started_at=datetime.fromtimestamp(start_s, UTC),
    )
    timings: list[dict[str, Any]] = []
    transitions = 0
    for number in range(rounds):
        (batch,) = _rounds(registry, 1, start_s + number * interval_s, interval_s)
        gc.collect()
        begin = time.perf_counter()
        for observation in batch:
            transitions += len(evaluator.observe(observation))
        tick_begin = time.perf_counter()
        assert evaluator.watermark is not None
        transitions += len(evaluator.tick(evaluator.watermark))
        end = time.perf_counter()
        timings.append(
            {
                "round": number + 1,
                "readings": len(batch),
                "readings_s": round(len(batch) / (tick_begin - begin)),
                "tick_ms": round((end - tick_begin) * 1000, 1),
            }
        )
        del batch
    gc.collect()
    process_growth_mb = rss_mb() - with_registry
    del evaluator
    steady = timings[1:] or timings
    state_mb = _traced_state_mb(rules, registry, start_s, interval_s)
    return {
        "devices": len(registry),
        "rules": len(rules),
        "default_pack_rules": len(pack),
        "extra_rules": extra,
        "rounds": timings,
        "evaluator_readings_s": round(statistics.mean(t["readings_s"] for t in steady)),
        "transitions": transitions,
        "memory": {
            "baseline_rss_mb": round(baseline, 1),
            "registry_and_rules_mb": round(with_registry - baseline, 1),
            "engine_state_mb": round(state_mb, 1),
            "process_growth_mb": round(process_growth_mb, 1),
            "total_rss_mb": round(rss_mb(), 1),
        },
    }


def _traced_state_mb(
    rules: RuleSet, registry: Registry, start_s: float, interval_s: float
) -> float:
    """What the evaluator itself keeps after two rounds (tracemalloc; readings built before)."""
    batches = _rounds(registry, 2, start_s, interval_s)
    gc.collect()
    tracemalloc.start()
    try:
        evaluator = Evaluator(
            rules, registry, max_clock_skew=None, started_at=datetime.fromtimestamp(start_s, UTC)
        )
        for batch in batches:
            for observation in batch:
                evaluator.observe(observation)
            assert evaluator.watermark is not None
            evaluator.tick(evaluator.watermark)
        del batches
        gc.collect()
        current, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return current / 2**20


async def engine_throughput(devices: int, extra: int, settings: Settings) -> dict[str, Any]:
    """Readings/s through ``AlertEngine.submit`` (queue, lock, SQLite), 2,000 per batch."""
    registry = simulators.generate_registry(simulators.scaled_fleet_spec(devices))
    pack = load_rules(settings.rules_path)
    rules = RuleSet((*pack.rules, *extra_rules(registry, extra)), pack.sources)
    start_s = datetime(2026, 6, 21, 12, 0, tzinfo=UTC).timestamp()
    rounds = _rounds(registry, 2, start_s, 60.0)
    config = alerts_config(settings)
    config = type(config)(**{**_asdict(config), "event_time": True, "watch_rules": False})
    with tempfile.TemporaryDirectory(prefix="bench-rules-") as folder:
        async with AlertEngine(config, rules, registry, Path(folder) / "s.sqlite") as engine:
            for observation_batch in (rounds[0],):  # warm the per-device rule cache
                for first in range(0, len(observation_batch), 2000):
                    await engine.submit(observation_batch[first : first + 2000])
            await engine.flush()
            begin = time.perf_counter()
            batch = rounds[1]
            for first in range(0, len(batch), 2000):
                await engine.submit(batch[first : first + 2000])
            await engine.flush()
            elapsed = time.perf_counter() - begin
    return {"readings": len(rounds[1]), "engine_readings_s": round(len(rounds[1]) / elapsed)}


def _asdict(config: Any) -> dict[str, Any]:
    return {name: getattr(config, name) for name in config.__slots__}


LATENCY_RULE = """\
rules:
  - name: bench-latency
    kind: streetlight
    severity: info
    summary: "{device} probe"
    runbook: https://runbooks.example/bench
    condition: {type: threshold, field: lamp_temp_c, above: 140, clear: 100}
"""


def _telemetry(seq: int, temp_c: float) -> bytes:
    return orjson.dumps(
        {
            "ts": int(time.time() * 1000),
            "seq": seq,
            "power_w": 80.0,
            "voltage_v": 230.0,
            "current_a": 0.36,
            "power_factor": 0.95,
            "energy_kwh": 10.0,
            "lamp_on": True,
            "dimming_pct": 100.0,
            "ambient_lux": 1.0,
            "lamp_temp_c": temp_c,
        }
    )


class _Background:
    """A paho publisher sending ordinary readings at about ``rate_s`` a second, until stopped."""

    def __init__(self, port: int, registry: Registry, rate_s: float) -> None:
        self._client = paho.Client(CallbackAPIVersion.VERSION2, client_id="bench-background")
        self._client.max_queued_messages_set(0)
        self._client.connect("127.0.0.1", port)
        self._client.loop_start()
        self._devices = [r for r in registry.values() if r.kind is Kind.STREETLIGHT]
        self._rate_s = rate_s
        self._stop = threading.Event()
        self.sent = 0
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        seq = 1_000_000
        while not self._stop.is_set():
            begin = time.monotonic()
            for record in self._devices:
                seq += 1
                topic = str(Topic(record.district, Kind.STREETLIGHT, record.id, Channel.TELEMETRY))
                self._client.publish(topic, _telemetry(seq, 40.0), qos=1)
                self.sent += 1
            pause = len(self._devices) / self._rate_s - (time.monotonic() - begin)
            if pause > 0:
                self._stop.wait(pause)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self._client.loop_stop()
        self._client.disconnect()


async def latency(settings: Settings, trips: int, background_rate_s: float) -> dict[str, Any]:
    """Device publish → alert received by an MQTT client, through gateway and engine."""
    registry = load_registry(settings.registry_path)
    probes = [r for r in registry.values() if r.kind is Kind.STREETLIGHT][:4]
    pack = load_rules(settings.rules_path)
    probe_rules = [rule for rule, _ in parse_rules(LATENCY_RULE, "<bench>")]
    rules = RuleSet((*pack.rules, *probe_rules), pack.sources)
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-rules-latency-") as folder:
        root = Path(folder)
        local = load_settings(
            data_dir=root,
            alerts_watch_rules=False,
            influx_database="bench_rules",
        )
        broker = LocalMosquitto(root / "mosquitto")
        influx = LocalInfluxDB(root / "influx")
        with broker, influx:
            writer = influx_writer(local, influx.url)
            async with (
                writer,
                DurableStore(writer, Spool(spool_config(local)), store_config(local)) as store,
                aiomqtt.Client("127.0.0.1", broker.port, identifier="bench-alerts-out") as out,
                aiomqtt.Client("127.0.0.1", broker.port, identifier="bench-operator") as operator,
                aiomqtt.Client("127.0.0.1", broker.port, identifier="bench-device") as device,
            ):
                await _create_database(influx.url, "bench_rules")
                listeners = alert_listeners(local, mqtt_client=out, store=store)
                async with AlertEngine(
                    alerts_config(local),
                    rules,
                    registry,
                    root / "alerts.sqlite",
                    listeners=listeners,
                ) as engine:
                    gateway = Gateway(
                        gateway_config(local, broker.url, worker_count=1),
                        registry,
                        store,
                        sink=engine,
                    )
                    await operator.subscribe(
                        alert_subscription(kind=Kind.STREETLIGHT, rule="bench-latency"), qos=1
                    )
                    async with asyncio.TaskGroup() as group:
                        running = group.create_task(gateway.run())
                        async with asyncio.timeout(30):
                            await gateway.ready.wait()
                        try:
                            figures["idle"] = await _trips(device, operator, probes, trips, 0)
                            background = _Background(
                                broker.port,
                                registry,
                                background_rate_s,
                            )
                            try:
                                loaded = await _trips(device, operator, probes, trips, 10_000)
                            finally:
                                background.close()
                            loaded["background_rate_msg_s"] = background_rate_s
                            figures["under_load"] = loaded
                        finally:
                            running.cancel()
    return figures


async def _create_database(url: str, name: str) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.post(f"{url}/query", params={"q": f'CREATE DATABASE "{name}"'})
        response.raise_for_status()


async def _trips(
    device: aiomqtt.Client,
    operator: aiomqtt.Client,
    probes: list[Any],
    trips: int,
    seq_base: int,
) -> dict[str, Any]:
    samples_ms: list[float] = []
    lost = 0
    messages = operator.messages
    for number in range(trips):
        record = probes[number % len(probes)]
        topic = str(Topic(record.district, Kind.STREETLIGHT, record.id, Channel.TELEMETRY))
        for temp_c, change in ((145.0, "firing"), (40.0, "resolved")):
            seq = seq_base + 2 * number + (0 if change == "firing" else 1)
            sent = time.perf_counter()
            await device.publish(topic, _telemetry(seq, temp_c), qos=1)
            try:
                async with asyncio.timeout(10):
                    async for message in messages:
                        assert isinstance(message.payload, bytes)
                        document = orjson.loads(message.payload)
                        if (
                            document["change"] == change
                            and document["labels"]["device"] == record.id
                        ):
                            break
            except TimeoutError:
                lost += 1  # counted, not hidden: the figures below are of the trips that came
                continue
            samples_ms.append((time.perf_counter() - sent) * 1000)
    samples_ms.sort()
    if not samples_ms:
        return {"trips": 0, "lost": lost}
    return {
        "trips": len(samples_ms),
        "lost": lost,
        "p50_ms": round(statistics.median(samples_ms), 1),
        "p95_ms": round(samples_ms[int(0.95 * (len(samples_ms) - 1))], 1),
        "max_ms": round(samples_ms[-1], 1),
    }


def run_benchmark(*, quick: bool, results_dir: Path) -> dict[str, Any]:
    """The whole benchmark; ``quick`` shrinks it (a smoke run)."""
    settings = load_settings()
    devices = 10_000 if quick else 100_000
    extra = 100 if quick else 1_000
    report: dict[str, Any] = {
        "benchmark": "rules",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
    }
    report["throughput"] = throughput(devices, extra, 2 if quick else 3, settings)
    report["engine"] = asyncio.run(engine_throughput(devices, extra, settings))
    report["latency"] = asyncio.run(latency(settings, 10 if quick else 50, 2_000.0))
    idle, loaded = report["latency"]["idle"], report["latency"]["under_load"]
    report["summary"] = {
        "devices": report["throughput"]["devices"],
        "rules": report["throughput"]["rules"],
        "evaluator_readings_s": report["throughput"]["evaluator_readings_s"],
        "engine_readings_s": report["engine"]["engine_readings_s"],
        "engine_state_mb": report["throughput"]["memory"]["engine_state_mb"],
        "latency_idle_p50_ms": idle.get("p50_ms"),
        "latency_loaded_p50_ms": loaded.get("p50_ms"),
        "latency_trips_lost": idle["lost"] + loaded["lost"],
    }
    results_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    suffix = "-quick" if quick else ""
    (results_dir / f"rules-{stamp}{suffix}.json").write_text(
        json.dumps(report, indent=2) + "\n", encoding="utf-8"
    )
    return report
