"""Load mode: the fleet split over several processes, at a target rate or as fast as possible.

One Python process tops out well below what Mosquitto can take (the paho publish path and the
models share one GIL), so load is spread: process ``i`` of ``n`` simulates every ``n``-th device
of the same registry, over its own connections. Each process paces itself to ``rate / n``
(token bucket) or runs flat out; simulated time advances as fast as reports go out (backfill),
so payloads stay realistic and valid. The parent gathers what each achieved.
"""

from __future__ import annotations

import logging
import multiprocessing
import queue
import resource
import time
from dataclasses import asdict, dataclass

from simulators.engine import FleetSimulation, Outgoing
from simulators.errors import SimulatorError
from simulators.fleet import FleetSpec, generate_registry
from simulators.transport import ConnectionPool

__all__ = ["LoadConfig", "LoadResult", "ProcessResult", "run_load"]

log = logging.getLogger(__name__)

_CHUNK = 250


@dataclass(frozen=True, slots=True)
class LoadConfig:
    """A load run: which city, how hard, for how long, over how many processes."""

    mqtt_url: str
    fleet: FleetSpec
    seed: int
    processes: int
    rate_msg_s: float  # the whole run's target; 0: as fast as possible
    duration_s: float
    qos: int
    connections: int  # per process
    inflight_max: int  # per process
    interval_s: float
    start_s: float
    client_id_prefix: str
    connect_timeout_s: float


@dataclass(frozen=True, slots=True)
class ProcessResult:
    """What one load process did."""

    shard: int
    devices: int
    published: int
    acknowledged: int
    errors: int
    elapsed_s: float
    max_rss_mb: float

    @property
    def rate_msg_s(self) -> float:
        """Acknowledged messages per second."""
        return self.acknowledged / max(self.elapsed_s, 1e-9)


@dataclass(frozen=True, slots=True)
class LoadResult:
    """The run's outcome: the target, the achieved rate, and each process's share."""

    target_rate_msg_s: float
    processes: int
    devices: int
    published: int
    acknowledged: int
    errors: int
    elapsed_s: float
    per_process: tuple[ProcessResult, ...]

    @property
    def achieved_rate_msg_s(self) -> float:
        """Acknowledged messages per second over the slowest process's time."""
        return self.acknowledged / max(self.elapsed_s, 1e-9)

    def as_dict(self) -> dict[str, object]:
        """Plain figures for JSON."""
        figures = asdict(self)
        figures["achieved_rate_msg_s"] = round(self.achieved_rate_msg_s, 1)
        figures["per_process"] = [
            {**asdict(p), "rate_msg_s": round(p.rate_msg_s, 1)} for p in self.per_process
        ]
        return figures


def run_load(config: LoadConfig) -> LoadResult:
    """Run the load over ``config.processes`` processes and wait for all of them."""
    context = multiprocessing.get_context("spawn")
    results: multiprocessing.Queue[ProcessResult | str] = context.Queue()
    ready = context.Barrier(config.processes + 1)
    workers = [
        context.Process(
            target=_worker, args=(config, shard, ready, results), name=f"sim-load-{shard}"
        )
        for shard in range(config.processes)
    ]
    for worker in workers:
        worker.start()
    gathered: list[ProcessResult] = []
    failures: list[str] = []
    try:
        # every process builds its part of the fleet and connects before anyone publishes
        ready.wait(timeout=config.connect_timeout_s + 120)
        deadline = time.monotonic() + config.duration_s + config.connect_timeout_s + 60
        while len(gathered) + len(failures) < config.processes:
            try:
                item = results.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                break
            if isinstance(item, ProcessResult):
                gathered.append(item)
            else:
                failures.append(item)
    finally:
        for worker in workers:
            worker.join(timeout=10)
            if worker.is_alive():
                worker.terminate()
                worker.join(timeout=5)
    if failures or len(gathered) < config.processes:
        raise SimulatorError(f"load processes failed: {failures or 'no result in time'}")
    gathered.sort(key=lambda result: result.shard)
    return LoadResult(
        target_rate_msg_s=config.rate_msg_s,
        processes=config.processes,
        devices=sum(p.devices for p in gathered),
        published=sum(p.published for p in gathered),
        acknowledged=sum(p.acknowledged for p in gathered),
        errors=sum(p.errors for p in gathered),
        elapsed_s=max(p.elapsed_s for p in gathered),
        per_process=tuple(gathered),
    )


def _worker(
    config: LoadConfig,
    shard: int,
    ready: multiprocessing.synchronize.Barrier,
    results: multiprocessing.Queue[ProcessResult | str],
) -> None:  # pragma: no cover - runs in a child process; exercised by the load test
    try:
        results.put(_work(config, shard, ready))
    except Exception as exc:  # the one broad catch: a child's failure must reach the parent
        results.put(f"process {shard}: {type(exc).__name__}: {exc}")
        ready.abort()


def _work(
    config: LoadConfig, shard: int, ready: multiprocessing.synchronize.Barrier
) -> ProcessResult:  # pragma: no cover - runs in a child process
    registry = generate_registry(config.fleet)
    simulation = FleetSimulation(
        registry,
        seed=config.seed,
        interval_s=config.interval_s,
        start_s=config.start_s,
        shard=(shard, config.processes),
    )
    del registry
    pool = ConnectionPool(
        config.mqtt_url,
        client_id_prefix=f"{config.client_id_prefix}-{shard}",
        connections=config.connections,
        wills=[],
        connect_timeout_s=config.connect_timeout_s,
    )
    pool.connect()
    ready.wait(timeout=config.connect_timeout_s + 120)
    share = config.rate_msg_s / config.processes if config.rate_msg_s > 0 else 0.0
    started = time.monotonic()
    stop = started + config.duration_s
    t = config.start_s
    try:
        while time.monotonic() < stop:
            for first in range(0, len(simulation), _CHUNK):
                messages = simulation.step(t, first, first + _CHUNK)
                if config.qos != 1:
                    messages = [_with_qos(m, config.qos) for m in messages]
                pool.publish(messages)
                while pool.outstanding > config.inflight_max:
                    time.sleep(0.0005)
                if share > 0:
                    ahead = started + pool.published / share - time.monotonic()
                    if ahead > 0:
                        time.sleep(ahead)
                if time.monotonic() >= stop:
                    break
            t += config.interval_s
        pool.flush(10.0)  # the run lasts until the broker has acknowledged what we sent
        elapsed = time.monotonic() - started
        acknowledged = pool.published - pool.outstanding
    finally:
        pool.close(5.0)
    return ProcessResult(
        shard=shard,
        devices=len(simulation),
        published=pool.published,
        acknowledged=acknowledged,
        errors=pool.errors,
        elapsed_s=elapsed,
        max_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    )


def _with_qos(message: Outgoing, qos: int) -> Outgoing:
    return Outgoing(message.device, message.topic, message.payload, qos, message.retain)
