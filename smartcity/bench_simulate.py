"""`smartcity simulate bench`: how fast the simulators publish, against the broker's own limit.

In one run, on one local Mosquitto with one null subscriber (``mosquitto_sub``, output
discarded but counted):

1. the broker's limit: several ``mosquitto_pub -l`` (C) processes flood it with a realistic
   payload; the rate the subscriber receives is what Mosquitto sustains on this machine;
2. the simulator in one process, flat out; then the multi-process load mode;
3. memory: the simulator's resident size for 10,000 and 100,000 devices, each in a fresh process.

Prints JSON and writes it to ``bench/results/simulate-<time>.json``.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import resource
import subprocess
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import simulators
from smartcity.stack import LocalMosquitto

__all__ = ["run_benchmark"]

_TOPIC = "city/bench/streetlight/SL-{n}/telemetry"
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
            [*_client("mosquitto_sub", port), "-t", "city/#", "-q", str(qos), "-F", "x"],
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
                            _TOPIC.format(n=number),
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
    """The whole benchmark; ``quick`` shortens it (for a smoke test)."""
    duration = 2.0 if quick else 6.0
    flood = 40_000 if quick else 400_000
    qos = 1
    report: dict[str, Any] = {
        "benchmark": "simulate",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "qos": qos,
    }
    with tempfile.TemporaryDirectory(prefix="bench-mosquitto-") as folder:
        server = LocalMosquitto(Path(folder), max_inflight_messages=1000)
        with server:
            subscriber = NullSubscriber(server.port, qos)
            try:
                report["broker_limit"] = broker_limit(
                    server.port, subscriber, publishers=2, messages=flood, qos=qos
                )
                report["one_process"] = simulator_load(
                    server.url,
                    subscriber,
                    processes=1,
                    devices=10_000,
                    duration_s=duration,
                    qos=qos,
                )
                runs = [2] if quick else [2, 3, 4]
                report["multi_process"] = [
                    simulator_load(
                        server.url,
                        subscriber,
                        processes=count,
                        devices=10_000,
                        duration_s=duration,
                        qos=qos,
                    )
                    for count in runs
                ]
            finally:
                subscriber.close()
    limit = report["broker_limit"]["rate_msg_s"]
    best = max(report["multi_process"], key=lambda run: run["received_rate_msg_s"])
    report["summary"] = {
        "broker_limit_msg_s": limit,
        "one_process_msg_s": report["one_process"]["received_rate_msg_s"],
        "best_multi_process_msg_s": best["received_rate_msg_s"],
        "best_processes": best["processes"],
        "one_process_share_of_limit": round(
            report["one_process"]["received_rate_msg_s"] / limit, 3
        ),
        "multi_process_share_of_limit": round(best["received_rate_msg_s"] / limit, 3),
    }
    report["memory"] = [memory(10_000)] + ([] if quick else [memory(100_000)])
    results_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    suffix = "-quick" if quick else ""
    (results_dir / f"simulate-{stamp}{suffix}.json").write_text(
        json.dumps(report, indent=2) + "\n", encoding="utf-8"
    )
    return report
