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
from collections.abc import Iterator
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
    alert_publisher,
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


CHUNK_DEVICES = 1_000  # a round is fed ~2,000 readings at a time, as the gateway hands them over


def _chunks(
    simulation: simulators.FleetSimulation, registry: Registry, t: float
) -> Iterator[list[Observation]]:
    """One report round at ``t``, decoded a slice of devices at a time: the bench holds one
    gateway-sized batch of readings, not a whole city's round."""
    arrived = datetime.fromtimestamp(t, UTC)
    for first in range(0, len(registry), CHUNK_DEVICES):
        observations = []
        for message in simulation.step(t, first, first + CHUNK_DEVICES):
            decoded = decode_message(message.topic, message.payload)
            at = getattr(decoded.payload, "ts", None) or arrived
            observations.append(Observation(decoded, registry.get(decoded.topic.device_id), at))
        yield observations


def _rounds(
    registry: Registry, rounds: int, start_s: float, interval_s: float
) -> list[list[Observation]]:
    """Whole rounds decoded up front (for the async engine's own figure)."""
    simulation = simulators.FleetSimulation(
        registry, seed=7, interval_s=interval_s, start_s=start_s
    )
    return [
        [o for chunk in _chunks(simulation, registry, start_s + n * interval_s) for o in chunk]
        for n in range(rounds)
    ]


def _city(devices: int, extra: int, settings: Settings) -> tuple[Registry, RuleSet]:
    registry = simulators.generate_registry(simulators.scaled_fleet_spec(devices))
    pack = load_rules(settings.rules_path)
    return registry, RuleSet((*pack.rules, *extra_rules(registry, extra)), pack.sources)


START_S = datetime(2026, 6, 21, 12, 0, tzinfo=UTC).timestamp()  # 20:00 local: lamps on
INTERVAL_S = 60.0


def throughput(devices: int, extra: int, rounds: int, settings: Settings) -> dict[str, Any]:
    """Readings/s of the evaluator over ``rounds`` report rounds, and the process's memory."""
    gc.collect()
    baseline = rss_mb()
    registry, rules = _city(devices, extra, settings)
    gc.collect()
    with_registry = rss_mb()
    simulation = simulators.FleetSimulation(
        registry, seed=7, interval_s=INTERVAL_S, start_s=START_S
    )
    evaluator = Evaluator(
        rules, registry, max_clock_skew=None, started_at=datetime.fromtimestamp(START_S, UTC)
    )
    timings: list[dict[str, Any]] = []
    transitions = 0
    for number in range(rounds):
        readings = 0
        evaluating_s = 0.0
        for chunk in _chunks(simulation, registry, START_S + number * INTERVAL_S):
            begin = time.perf_counter()
            for observation in chunk:
                transitions += len(evaluator.observe(observation))
            evaluating_s += time.perf_counter() - begin
            readings += len(chunk)
        tick_begin = time.perf_counter()
        assert evaluator.watermark is not None
        transitions += len(evaluator.tick(evaluator.watermark))
        end = time.perf_counter()
        timings.append(
            {
                "round": number + 1,
                "readings": readings,
                "readings_s": round(readings / evaluating_s),
                "tick_ms": round((end - tick_begin) * 1000, 1),
            }
        )
    gc.collect()
    process_growth_mb = rss_mb() - with_registry
    del evaluator, simulation
    gc.collect()
    steady = timings[1:] or timings
    traced = _traced_state(registry, rules, rounds)
    return {
        "devices": len(registry),
        "rules": len(rules),
        "extra_rules": extra,
        "rounds": timings,
        "evaluator_readings_s": round(statistics.mean(t["readings_s"] for t in steady)),
        "transitions": transitions,
        "memory": {
            "baseline_rss_mb": round(baseline, 1),
            "registry_and_rules_mb": round(with_registry - baseline, 1),
            # the process grew by this while evaluating (resident, after the rounds) ...
            "process_growth_mb": round(process_growth_mb, 1),
            # ... of which this is still allocated (tracemalloc, same rounds, by where) ...
            "engine_state_mb": traced["retained_mb"],
            "engine_state_by_module_mb": traced["by_module_mb"],
            # ... and the rest is memory the allocator keeps after the rounds' readings are
            # freed (Python's arenas return to the system only when wholly empty)
            "allocator_kept_mb": round(process_growth_mb - traced["retained_mb"], 1),
            "peak_traced_mb": traced["peak_mb"],
            "total_rss_mb": round(rss_mb(), 1),
        },
    }


def _traced_state(registry: Registry, rules: RuleSet, rounds: int) -> dict[str, Any]:
    """What stays allocated after evaluating ``rounds`` rounds (tracemalloc), by module: the
    evaluator's state, and the caches of the decoding on its way (the parsed topics)."""
    gc.collect()
    tracemalloc.start()
    try:
        simulation = simulators.FleetSimulation(
            registry, seed=7, interval_s=INTERVAL_S, start_s=START_S
        )
        before = tracemalloc.take_snapshot()
        evaluator = Evaluator(
            rules, registry, max_clock_skew=None, started_at=datetime.fromtimestamp(START_S, UTC)
        )
        for number in range(rounds):
            for chunk in _chunks(simulation, registry, START_S + number * INTERVAL_S):
                for observation in chunk:
                    evaluator.observe(observation)
            assert evaluator.watermark is not None
            evaluator.tick(evaluator.watermark)
        gc.collect()
        after = tracemalloc.take_snapshot()
        _, peak = tracemalloc.get_traced_memory()
        del evaluator
    finally:
        tracemalloc.stop()
    by_module: dict[str, float] = {}
    for stat in after.compare_to(before, "filename"):
        name = _module_of(stat.traceback[0].filename)
        by_module[name] = by_module.get(name, 0.0) + stat.size_diff / 2**20
    shown = {name: round(mb, 1) for name, mb in sorted(by_module.items(), key=lambda i: -i[1])}
    return {
        "retained_mb": round(sum(by_module.values()), 1),
        "by_module_mb": {name: mb for name, mb in shown.items() if abs(mb) >= 0.1},
        "peak_mb": round(peak / 2**20, 1),
    }


def _module_of(filename: str) -> str:
    """``alerts/evaluate/evaluator.py`` → ``alerts.evaluate.evaluator``; libraries by package."""
    parts = Path(filename).with_suffix("").parts
    if "site-packages" in parts:
        return parts[parts.index("site-packages") + 1]
    for room in ("alerts", "devices", "simulators", "smartcity"):
        if room in parts:
            return ".".join(parts[len(parts) - parts[::-1].index(room) - 1 :])
    return Path(filename).name


async def engine_throughput(devices: int, extra: int, settings: Settings) -> dict[str, Any]:
    """Readings/s through ``AlertEngine.submit`` (queue, lock, SQLite), 2,000 per batch."""
    registry, rules = _city(devices, extra, settings)
    rounds = _rounds(registry, 2, START_S, INTERVAL_S)
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
PROBE_DEVICES = 4
ON_TIME_S = 10.0  # a probe answered later than this is late, not lost
GRACE_S = 60.0  # how long, after the last probe, late answers are still waited for


def _telemetry(seq: int, temp_c: float, ts_ms: int | None = None) -> bytes:
    return orjson.dumps(
        {
            "ts": ts_ms if ts_ms is not None else int(time.time() * 1000),
            "seq": seq,
            "power_w": 80.0,
            "voltage_v": 220.0,
            "current_a": 0.36,
            "power_factor": 0.95,
            "energy_kwh": 10.0,
            "lamp_on": True,
            "dimming_pct": 100.0,
            "ambient_lux": 1.0,
            "lamp_temp_c": temp_c,
        }
    )


def _telemetry_topic(record: Any) -> str:
    return str(Topic(record.district, Kind.STREETLIGHT, record.id, Channel.TELEMETRY))


class _Background:
    """A paho publisher sending ordinary readings at about ``rate_s`` a second, until stopped.

    It publishes for every streetlight except the probes: a background reading of a probe would
    resolve its alert (or fire none) under the probe's feet.
    """

    def __init__(self, port: int, devices: list[Any], rate_s: float) -> None:
        self._client = paho.Client(CallbackAPIVersion.VERSION2, client_id="bench-background")
        self._client.max_queued_messages_set(0)
        self._client.connect("127.0.0.1", port)
        self._client.loop_start()
        self._devices = devices
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
                topic = _telemetry_topic(record)
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


async def latency(settings: Settings, probes: int, background_rate_s: float) -> dict[str, Any]:
    """Device publish → alert received by an MQTT client, through gateway and engine."""
    registry = load_registry(settings.registry_path)
    lights = [r for r in registry.values() if r.kind is Kind.STREETLIGHT]
    probe_devices, others = lights[:PROBE_DEVICES], lights[PROBE_DEVICES:]
    pack = load_rules(settings.rules_path)
    probe_rules = [rule for rule, _ in parse_rules(LATENCY_RULE, "<bench>")]
    rules = RuleSet((*pack.rules, *probe_rules), pack.sources)
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-rules-latency-") as folder:
        root = Path(folder)
        local = load_settings(
            data_dir=root,
            alerts_watch_rules=False,
            alerts_reannounce_interval_s=0,  # a re-announcement is not an answer to a probe
            influx_database="bench_rules",
            gateway_client_id="bench-gateway",
        )
        broker = LocalMosquitto(root / "mosquitto")
        influx = LocalInfluxDB(root / "influx")
        with broker, influx:
            writer = influx_writer(local, influx.url)
            async with (
                writer,
                DurableStore(writer, Spool(spool_config(local)), store_config(local)) as store,
                alert_publisher(local, broker.url) as out,
                aiomqtt.Client("127.0.0.1", broker.port, identifier="bench-operator") as operator,
                aiomqtt.Client("127.0.0.1", broker.port, identifier="bench-device") as device,
            ):
                await _create_database(influx.url, "bench_rules")
                listeners = alert_listeners(local, publisher=out, store=store)
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
                    answers = _Answers()
                    async with asyncio.TaskGroup() as group:
                        running = group.create_task(gateway.run())
                        listening = group.create_task(answers.listen(operator))
                        async with asyncio.timeout(30):
                            await gateway.ready.wait()
                            await _until_subscribed(device, engine, others[0])
                        try:
                            figures["idle"] = await _probe(
                                device, answers, probe_devices, probes, 0
                            )
                            background = _Background(broker.port, others, background_rate_s)
                            try:
                                loaded = await _probe(
                                    device, answers, probe_devices, probes, 1_000_000
                                )
                            finally:
                                background.close()
                            loaded["background_rate_msg_s"] = background_rate_s
                            loaded["background_devices"] = len(others)
                            figures["under_load"] = loaded
                            figures["store"] = _store_figures(store)
                            figures["listeners"] = [
                                _plain(stats) for stats in engine.listener_stats()
                            ]
                        finally:
                            running.cancel()
                            listening.cancel()
    return figures


async def _until_subscribed(device: aiomqtt.Client, engine: AlertEngine, record: Any) -> None:
    """Wait until the gateway's subscription is in force at the broker.

    ``gateway.ready`` is set once the gateway has *sent* its SUBSCRIBE, not once the broker has
    granted it (SUBACK); a reading published in between has no subscriber and the broker drops
    it. That was the "lost" first probe of earlier runs (probe 0 and, with no alert to resolve,
    probe 1): not the engine. So: ordinary readings from a device that is not a probe, until
    one reaches the engine.
    """
    seq = 0
    while engine.evaluated == 0:
        seq += 1
        await device.publish(_telemetry_topic(record), _telemetry(seq, 40.0), qos=1)
        await asyncio.sleep(0.2)


def _store_figures(store: DurableStore) -> dict[str, Any]:
    stats = store.stats()
    return {name: getattr(stats, name) for name in ("points_spooled", "batches_spooled")}


def _plain(value: Any) -> dict[str, Any]:
    return {name: getattr(value, name) for name in value.__slots__}


async def _create_database(url: str, name: str) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.post(f"{url}/query", params={"q": f'CREATE DATABASE "{name}"'})
        response.raise_for_status()


class _Answers:
    """Every alert change the operator's client receives, by (device, change, the reading's
    ``ts`` in ms) with the time it arrived; kept for the whole run, so a late answer is seen,
    not missed. The probe rule has no ``for:``, so an alert fires (``starts_at``) or resolves
    (``ends_at``) at the very ``ts`` of the reading that caused it."""

    def __init__(self) -> None:
        self.arrived: dict[tuple[str, str, int], float] = {}
        self._news = asyncio.Event()

    async def listen(self, operator: aiomqtt.Client) -> None:
        async for message in operator.messages:
            assert isinstance(message.payload, bytes)
            document = orjson.loads(message.payload)
            change = document["change"]
            moment = document["starts_at"] if change == "firing" else document["ends_at"]
            ts_ms = round(datetime.fromisoformat(moment).timestamp() * 1000)
            key = (document["labels"]["device"], change, ts_ms)
            self.arrived.setdefault(key, time.perf_counter())
            self._news.set()

    async def wait(self, key: tuple[str, str, int], timeout_s: float) -> bool:
        try:
            async with asyncio.timeout(timeout_s):
                while key not in self.arrived:
                    self._news.clear()
                    await self._news.wait()
        except TimeoutError:
            return False
        return True


async def _probe(
    device: aiomqtt.Client,
    answers: _Answers,
    probe_devices: list[Any],
    probes: int,
    seq_base: int,
) -> dict[str, Any]:
    """``probes`` publishes, alternately firing and resolving each probe device's alert; each
    carries a ``ts`` of its own, so an answer is matched to its probe and to no other."""
    sent: dict[tuple[str, str, int], float] = {}
    numbers: dict[tuple[str, str, int], int] = {}
    last_ts_ms = 0
    for number in range(probes):
        record = probe_devices[(number // 2) % len(probe_devices)]
        firing = number % 2 == 0
        temp_c = 145.0 if firing else 40.0
        change = "firing" if firing else "resolved"
        last_ts_ms = max(int(time.time() * 1000), last_ts_ms + 1)
        key = (record.id, change, last_ts_ms)
        topic = _telemetry_topic(record)
        sent[key] = time.perf_counter()
        numbers[key] = number
        await device.publish(topic, _telemetry(seq_base + number, temp_c, last_ts_ms), qos=1)
        await answers.wait(key, ON_TIME_S)  # not answered in time: it is waited for at the end
    deadline = time.perf_counter() + GRACE_S
    for key in sent:
        await answers.wait(key, max(0.0, deadline - time.perf_counter()))
    latencies_ms = sorted(
        (answers.arrived[key] - at) * 1000 for key, at in sent.items() if key in answers.arrived
    )
    lost = len(sent) - len(latencies_ms)
    late = sum(1 for ms in latencies_ms if ms > ON_TIME_S * 1000)
    figures: dict[str, Any] = {
        "probes": len(sent),
        "answered": len(latencies_ms),
        "late": late,  # answered, but after ON_TIME_S
        "lost": lost,  # not answered within GRACE_S after the last probe
        "on_time_s": ON_TIME_S,
        "lost_probes": [
            {"number": numbers[key], "device": key[0], "change": key[1]}
            for key in sent
            if key not in answers.arrived
        ][:20],
    }
    if latencies_ms:
        figures.update(_distribution(latencies_ms))
    return figures


def _distribution(sorted_ms: list[float]) -> dict[str, Any]:
    def at(share: float) -> float:
        return round(sorted_ms[min(len(sorted_ms) - 1, int(share * len(sorted_ms)))], 1)

    bounds_ms = (25, 50, 100, 250, 1_000, 5_000, 10_000)
    histogram = {f"le_{bound}_ms": sum(1 for ms in sorted_ms if ms <= bound) for bound in bounds_ms}
    histogram["over_10000_ms"] = sum(1 for ms in sorted_ms if ms > 10_000)
    return {
        "p50_ms": round(statistics.median(sorted_ms), 1),
        "p90_ms": at(0.90),
        "p95_ms": at(0.95),
        "p99_ms": at(0.99),
        "max_ms": round(sorted_ms[-1], 1),
        "histogram_cumulative": histogram,
    }


def run_benchmark(
    *,
    quick: bool,
    results_dir: Path,
    devices: int | None = None,
    extra: int | None = None,
    probes: int | None = None,
    parts: tuple[str, ...] = ("throughput", "engine", "latency"),
) -> dict[str, Any]:
    """The whole benchmark (or some ``parts`` of it); ``quick`` shrinks it (a smoke run)."""
    settings = load_settings()
    devices = devices or (10_000 if quick else 100_000)
    extra = extra if extra is not None else (100 if quick else 1_000)
    probes = probes or (100 if quick else 1_000)
    report: dict[str, Any] = {
        "benchmark": "rules",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "parts": list(parts),
    }
    summary: dict[str, Any] = {}
    if "throughput" in parts:
        report["throughput"] = throughput(devices, extra, 2 if quick else 3, settings)
        summary.update(
            devices=report["throughput"]["devices"],
            rules=report["throughput"]["rules"],
            evaluator_readings_s=report["throughput"]["evaluator_readings_s"],
            engine_state_mb=report["throughput"]["memory"]["engine_state_mb"],
            process_growth_mb=report["throughput"]["memory"]["process_growth_mb"],
        )
    if "engine" in parts:
        report["engine"] = asyncio.run(engine_throughput(devices, extra, settings))
        summary["engine_readings_s"] = report["engine"]["engine_readings_s"]
    if "latency" in parts:
        report["latency"] = asyncio.run(latency(settings, probes, 2_000.0))
        idle, loaded = report["latency"]["idle"], report["latency"]["under_load"]
        summary.update(
            latency_idle_p50_ms=idle.get("p50_ms"),
            latency_idle_p99_ms=idle.get("p99_ms"),
            latency_loaded_p50_ms=loaded.get("p50_ms"),
            latency_loaded_p99_ms=loaded.get("p99_ms"),
            latency_probes=idle["probes"] + loaded["probes"],
            latency_probes_late=idle["late"] + loaded["late"],
            latency_probes_lost=idle["lost"] + loaded["lost"],
        )
    report["summary"] = summary
    results_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    suffix = "-quick" if quick else ""
    (results_dir / f"rules-{stamp}{suffix}.json").write_text(
        json.dumps(report, indent=2) + "\n", encoding="utf-8"
    )
    return report
