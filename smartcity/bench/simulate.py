"""`smartcity simulate bench`: how fast the simulators publish, against the broker's own limit.

In one run, on one local Mosquitto with one null subscriber (``mosquitto_sub``, output
discarded but counted):

1. the broker's limit, two ways: ``mosquitto_pub -l`` (C) processes flooding a realistic
   payload (but mosquitto_pub keeps only 20 QoS 1 messages in flight, so it is window-bound),
   and lean Python raw publishers of a precomputed payload with a 5,000-message window; the
   best rate the subscriber receives is taken as what Mosquitto sustains on this machine;
2. the simulator in one process, flat out; then the multi-process load mode;
3. memory: the simulator's resident size for 10,000 and 100,000 devices, each in a fresh process.

Prints JSON and writes it to ``bench/results/simulate-<time>.json``.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import resource
import statistics
import subprocess
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import simulators
from devices import EVERY_TOPIC, Channel, Kind, Topic
from smartcity.stack import LocalMosquitto

__all__ = ["run_benchmark"]


def _topic(number: int) -> str:
    return str(Topic("bench", Kind.STREETLIGHT, f"SL-{number}", Channel.TELEMETRY))


_PAYLOAD = (
    '{"ts":1718900000000,"seq":1,"power_w":92.4,"voltage_v":229.8,"current_a":0.421,'
    '"power_factor":0.955,"energy_kwh":3120.1234,"lamp_on":true,"dimming_pct":100.0,'
    '"ambient_lux":0.2,"lamp_temp_c":49.3,"faults":[]}'
)


def _client(program: str, port: int) -> list[str]:
    return [program, "-h", "127.0.0.1", "-p", str(port), "-i", f"bench-{program}-{time.time_ns()}"]


class NullSubscriber:
    """``mosquitto_sub`` on ``city/#`` printing one byte per message, which we only count."""

    def __init__(self, port: int, qos: int) -> None:
        self.process = subprocess.Popen(
            [*_client("mosquitto_sub", port), "-t", EVERY_TOPIC, "-q", str(qos), "-F", "x"],
            stdout=subprocess.PIPE,
        )
        self.count = 0
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        time.sleep(0.5)

    def _read(self) -> None:
        assert self.process.stdout is not None
        stream = self.process.stdout
        while chunk := os.read(stream.fileno(), 1 << 16):
            self.count += len(chunk) // 2  # "x\n" per message

    def settle(self, expected: int, timeout_s: float) -> float:
        """Wait for ``expected`` messages (or until none arrive for 2 s); when the last came."""
        deadline = time.monotonic() + timeout_s
        last, last_change = self.count, time.monotonic()
        while self.count < expected and time.monotonic() < deadline:
            time.sleep(0.01)
            if self.count != last:
                last, last_change = self.count, time.monotonic()
            elif time.monotonic() - last_change > 2.0:
                break
        return last_change if self.count < expected else time.monotonic()

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def broker_limit(
    port: int, subscriber: NullSubscriber, *, publishers: int, messages: int, qos: int
) -> dict[str, Any]:
    """Flood the broker from ``publishers`` C clients; the rate the subscriber receives."""
    with tempfile.TemporaryDirectory(prefix="bench-pub-") as folder:
        feeds = []
        for number in range(publishers):
            feed = Path(folder) / f"feed-{number}.txt"
            feed.write_text((_PAYLOAD + "\n") * (messages // publishers), encoding="utf-8")
            feeds.append(feed)
        before = subscriber.count
        started = time.monotonic()
        processes = []
        for number, feed in enumerate(feeds):
            with feed.open("rb") as stdin:
                processes.append(
                    subprocess.Popen(
                        [
                            *_client("mosquitto_pub", port),
                            "-l",
                            "-q",
                            str(qos),
                            "-t",
                            _topic(number),
                        ],
                        stdin=stdin,
                    )
                )
        for process in processes:
            process.wait(timeout=300)
        sent = (messages // publishers) * publishers
        ended = subscriber.settle(before + sent, timeout_s=60)
        received = subscriber.count - before
    elapsed = ended - started
    return {
        "publishers": publishers,
        "qos": qos,
        "sent": sent,
        "received": received,
        "elapsed_s": round(elapsed, 3),
        "rate_msg_s": round(received / elapsed, 1),
        "complete": received == sent,
    }


def _flood_worker(
    port: int,
    number: int,
    duration_s: float,
    qos: int,
    ready: Any,
    results: multiprocessing.Queue[tuple[int, float]],
) -> None:
    link = simulators.RawPublisher(
        "127.0.0.1",
        port,
        client_id=f"bench-raw-{number}-{time.time_ns()}",
        username=None,
        password=None,
        tls=False,
        keepalive_s=30,
        timeout_s=10.0,
    )
    link.connect()
    batch = [(_topic(number), _PAYLOAD.encode(), qos, False)] * 500
    ready.wait(timeout=60)
    started = time.monotonic()
    stop = started + duration_s
    while time.monotonic() < stop:
        link.publish(batch)
        while link.outstanding > 5_000:
            time.sleep(0.0005)
    deadline = time.monotonic() + 30
    while link.outstanding and time.monotonic() < deadline:
        time.sleep(0.001)
    elapsed = time.monotonic() - started
    link.close()
    results.put((link.sent, elapsed))


def broker_limit_raw(
    port: int, subscriber: NullSubscriber, *, publishers: int, duration_s: float, qos: int
) -> dict[str, Any]:
    """Flood from ``publishers`` lean Python processes sending one precomputed payload, with a
    5,000-message window each: no model cost, so what the subscriber receives is the broker's
    (and the null subscriber's) limit. Timed from when all are connected."""
    context = multiprocessing.get_context("spawn")
    results: multiprocessing.Queue[tuple[int, float]] = context.Queue()
    ready = context.Barrier(publishers)
    workers = [
        context.Process(target=_flood_worker, args=(port, n, duration_s, qos, ready, results))
        for n in range(publishers)
    ]
    before = subscriber.count
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=duration_s + 120) for _ in workers]
    for worker in workers:
        worker.join(timeout=10)
    sent = sum(count for count, _ in outcomes)
    elapsed = max(seconds for _, seconds in outcomes)
    subscriber.settle(before + sent, timeout_s=60)
    received = subscriber.count - before
    return {
        "publishers": publishers,
        "qos": qos,
        "sent": sent,
        "received": received,
        "elapsed_s": round(elapsed, 3),
        "rate_msg_s": round(received / elapsed, 1),
        "complete": received == sent,
    }


def simulator_load(
    url: str,
    subscriber: NullSubscriber,
    *,
    processes: int,
    devices: int,
    duration_s: float,
    qos: int,
    rate_msg_s: float = 0.0,
) -> dict[str, Any]:
    """The load mode with ``processes`` processes; the rate as sent and as received."""
    config = simulators.LoadConfig(
        mqtt_url=url,
        fleet=simulators.scaled_fleet_spec(devices),
        seed=42,
        processes=processes,
        rate_msg_s=rate_msg_s,
        duration_s=duration_s,
        qos=qos,
        connections=2,
        inflight_max=5_000,
        interval_s=5.0,
        start_s=datetime(2024, 6, 24, 7, tzinfo=UTC).timestamp(),
        client_id_prefix=f"bench-load-{processes}",
        connect_timeout_s=30.0,
    )
    before = subscriber.count
    result = simulators.run_load(config)
    subscriber.settle(before + result.acknowledged, timeout_s=30)
    received = subscriber.count - before
    figures = result.as_dict()
    figures["received"] = received
    figures["received_rate_msg_s"] = round(received / result.elapsed_s, 1)
    return figures


def _memory_probe(devices: int, results: multiprocessing.Queue[dict[str, Any]]) -> None:
    def rss_mb() -> float:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

    baseline = rss_mb()
    registry = simulators.generate_registry(simulators.scaled_fleet_spec(devices))
    with_registry = rss_mb()
    simulation = simulators.FleetSimulation(registry, seed=1, interval_s=5.0, start_s=1.7189e9)
    for round_number in range(3):
        for first in range(0, len(simulation), 500):
            simulation.step(1.7189e9 + 5 * round_number, first, first + 500)
    results.put(
        {
            "devices": devices,
            "baseline_rss_mb": round(baseline, 1),
            "registry_mb": round(with_registry - baseline, 1),
            "simulation_mb": round(rss_mb() - with_registry, 1),
            "total_rss_mb": round(rss_mb(), 1),
            "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        }
    )


def _model_probe(seconds: float, results: multiprocessing.Queue[dict[str, Any]]) -> None:
    registry = simulators.generate_registry(simulators.scaled_fleet_spec(10_000))
    simulation = simulators.FleetSimulation(registry, seed=1, interval_s=5.0, start_s=1.7189e9)
    count, t = 0, 1.7189e9
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        for first in range(0, len(simulation), 500):
            count += len(simulation.step(t, first, first + 500))
        t += 5.0
    elapsed = time.perf_counter() - started
    results.put({"messages": count, "elapsed_s": round(elapsed, 3), "rate_msg_s": count / elapsed})


def model_only(seconds: float) -> dict[str, Any]:
    """How fast one process makes messages with no broker at all: the models' own ceiling."""
    context = multiprocessing.get_context("spawn")
    results: multiprocessing.Queue[dict[str, Any]] = context.Queue()
    probe = context.Process(target=_model_probe, args=(seconds, results))
    probe.start()
    figures = results.get(timeout=seconds + 120)
    probe.join(timeout=30)
    figures["rate_msg_s"] = round(figures["rate_msg_s"], 1)
    return figures


def memory(devices: int) -> dict[str, Any]:
    """Resident memory of a simulator process for ``devices`` devices, after three rounds."""
    context = multiprocessing.get_context("spawn")
    results: multiprocessing.Queue[dict[str, Any]] = context.Queue()
    probe = context.Process(target=_memory_probe, args=(devices, results))
    probe.start()
    figures = results.get(timeout=300)
    probe.join(timeout=30)
    return figures


def run_benchmark(*, quick: bool, results_dir: Path) -> dict[str, Any]:
    """The whole benchmark; ``quick`` shortens it (for a smoke test).

    The machine is shared, so its load moves under us: the broker's limit and the simulator
    runs are interleaved in rounds, each round compares figures taken within seconds of each
    other, and the summary gives medians over rounds.
    """
    duration = 2.0 if quick else 4.0
    rounds = 1 if quick else 3
    process_counts = [2] if quick else [2, 3, 4]
    # mosquitto_pub -l stops early once its message ids wrap (65,535): keep each feed below that
    flood = 40_000 if quick else 240_000
    qos = 1
    report: dict[str, Any] = {
        "benchmark": "simulate",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "load_average_before": os.getloadavg(),
        "qos": qos,
        "devices": 10_000,
        "duration_s": duration,
        "rounds": [],
    }
    with tempfile.TemporaryDirectory(prefix="bench-mosquitto-") as folder:
        server = LocalMosquitto(Path(folder), max_inflight_messages=1000)
        with server:
            subscriber = NullSubscriber(server.port, qos)
            try:
                report["broker_limit_mosquitto_pub"] = broker_limit(
                    server.port, subscriber, publishers=4, messages=flood, qos=qos
                )
                for _ in range(rounds):
                    # the broker's limit: the best of one and two flat-out raw publishers
                    limit = max(
                        (
                            broker_limit_raw(
                                server.port, subscriber, publishers=n, duration_s=duration, qos=qos
                            )
                            for n in (1, 2)
                        ),
                        key=lambda run: run["rate_msg_s"],
                    )
                    runs = {
                        count: simulator_load(
                            server.url,
                            subscriber,
                            processes=count,
                            devices=10_000,
                            duration_s=duration,
                            qos=qos,
                        )
                        for count in [1, *process_counts]
                    }
                    report["rounds"].append(
                        {
                            "broker_limit_raw": limit,
                            "load_average": os.getloadavg(),
                            "simulator": {str(count): run for count, run in runs.items()},
                        }
                    )
            finally:
                subscriber.close()
    report["load_average_after"] = os.getloadavg()
    report["summary"] = _summary(report["rounds"], report["broker_limit_mosquitto_pub"])
    report["one_process_model_only"] = model_only(duration)
    report["memory"] = [memory(10_000)] + ([] if quick else [memory(100_000)])
    results_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    suffix = "-quick" if quick else ""
    (results_dir / f"simulate-{stamp}{suffix}.json").write_text(
        json.dumps(report, indent=2) + "\n", encoding="utf-8"
    )
    return report


def _summary(rounds: list[dict[str, Any]], mosquitto_pub: dict[str, Any]) -> dict[str, Any]:
    """Medians over rounds; shares of the limit are taken within a round, then the median."""
    limits = [r["broker_limit_raw"]["rate_msg_s"] for r in rounds]
    counts = list(rounds[0]["simulator"])
    rates = {c: [r["simulator"][c]["received_rate_msg_s"] for r in rounds] for c in counts}
    shares = {
        c: [
            r["simulator"][c]["received_rate_msg_s"] / max(r["broker_limit_raw"]["rate_msg_s"], 1)
            for r in rounds
        ]
        for c in counts
    }
    best = max(counts, key=lambda c: statistics.median(rates[c]))
    return {
        "broker_limit_msg_s": round(statistics.median(limits), 1),
        "broker_limit_msg_s_by_round": limits,
        "broker_limit_mosquitto_pub_msg_s": mosquitto_pub["rate_msg_s"],
        "one_process_msg_s": round(statistics.median(rates["1"]), 1),
        "by_processes_msg_s": {c: round(statistics.median(v), 1) for c, v in rates.items()},
        "share_of_limit_by_processes": {
            c: round(statistics.median(v), 3) for c, v in shares.items()
        },
        "best_processes": int(best),
        "best_msg_s": round(statistics.median(rates[best]), 1),
    }
