"""The fleet runner: a simulated clock driving the simulation onto a broker.

The clock runs at ``speed`` simulated seconds per real second: 1 is real time, 720 is a day in
two minutes, 0 is backfill — as fast as the broker acknowledges. Real time follows the wall
clock: a run that starts in the past first catches up as fast as the broker takes it (a backlog
replayed), then goes on live, with no break in between. Each device reports once per
``interval_s`` of simulated time; a report round is published in chunks spread over the
interval, so the broker sees a steady rate rather than a burst every interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from devices import BrokerTls, Channel, Credentials, Registry, device_subscription
from simulators.cadence import Cadence
from simulators.engine import FleetSimulation, Outgoing
from simulators.errors import SimulatorError
from simulators.scenario import Scenario
from simulators.transport import ConnectionPool

__all__ = ["FleetRunConfig", "SimulationStats", "run_fleet"]

log = logging.getLogger(__name__)

_CHUNK = 500  # devices stepped between two looks at the clock and the broker


@dataclass(frozen=True, slots=True)
class FleetRunConfig:
    """How to run a fleet. Defaults live in ``smartcity.settings`` (``SMARTCITY_SIMULATE_*``)."""

    mqtt_url: str
    seed: int
    interval_s: float
    speed: float  # simulated seconds per real second; 0: as fast as the broker takes
    start: datetime | None  # None: now
    end: datetime | None  # None: until cancelled
    scenario: Scenario | None
    connections: int  # pooled connections that multiplex devices
    dedicated_max: int  # devices with a connection (and last-will) of their own
    inflight_max: int  # unacknowledged messages before the runner waits
    client_id_prefix: str
    connect_timeout_s: float
    shutdown_timeout_s: float
    shard: tuple[int, int] = (0, 1)  # this process's part of the fleet: (index, count)
    # never ahead of the wall clock: a past day played at ``speed``, then on live in real time
    live_after_catch_up: bool = False
    cadence: Cadence | None = None  # None: every device every interval_s (cadence_for)
    tls: BrokerTls | None = None  # how to check an mqtts:// broker
    credentials: Credentials | None = None  # secured: each device's and the pool's password


@dataclass
class SimulationStats:
    """Live figures of a running fleet; the runner updates them, anyone may read them."""

    devices_total: int = 0
    devices_online: int = 0
    messages_published: int = 0
    publish_errors: int = 0
    commands_handled: int = 0
    reports: int = 0  # completed report rounds
    sim_time: datetime | None = None
    started_s: float = field(default_factory=time.monotonic)
    finished: bool = False

    @property
    def elapsed_s(self) -> float:
        """Real seconds since the run started."""
        return time.monotonic() - self.started_s

    @property
    def rate_msg_s(self) -> float:
        """Average messages per real second since the start."""
        return self.messages_published / max(self.elapsed_s, 1e-9)


async def run_fleet(config: FleetRunConfig, registry: Registry, *, stats: SimulationStats) -> None:
    """Publish the fleet's messages until ``config.end`` (simulated) or until cancelled.

    On the way out, cancelled or not, every device says it is offline and the connections close
    cleanly within ``config.shutdown_timeout_s``.
    """
    start = config.start or datetime.now(UTC)
    start_s = start.timestamp()
    end_s = config.end.timestamp() if config.end else math.inf
    simulation = FleetSimulation(
        registry,
        seed=config.seed,
        interval_s=config.interval_s,
        start_s=start_s,
        scenario=config.scenario,
        shard=config.shard,
        cadence=config.cadence,
    )
    commands: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue(maxsize=1_000)
    loop = asyncio.get_running_loop()

    def on_command(topic: str, payload: bytes) -> None:  # paho's network thread
        loop.call_soon_threadsafe(_offer, commands, (topic, payload))

    dedicated = min(config.dedicated_max, len(simulation))
    wills = simulation.wills(dedicated)
    pool = ConnectionPool(
        config.mqtt_url,
        client_id_prefix=config.client_id_prefix,
        connections=config.connections,
        wills=wills,
        connect_timeout_s=config.connect_timeout_s,
        on_command=on_command,
        command_filter=device_subscription(channel=Channel.CMD),
        tls=config.tls,
        credentials=config.credentials,
    )
    stats.devices_total = len(simulation)
    # connecting runs in a thread that cancellation cannot stop: wait for it (bounded by the
    # connect timeout), then close, so a run cancelled while connecting leaves no threads behind
    connecting = asyncio.ensure_future(asyncio.to_thread(pool.connect))
    try:
        await asyncio.shield(connecting)
    except asyncio.CancelledError:
        with contextlib.suppress(SimulatorError):
            await connecting
        await asyncio.to_thread(pool.close, 0.0)
        raise
    log.info("fleet_connected", extra={"devices": len(simulation), "dedicated": dedicated})
    real_start = time.monotonic()
    t = start_s
    try:
        for first in range(0, len(simulation), _CHUNK):
            statuses = simulation.statuses(t, online=True, first=first, last=first + _CHUNK)
            await _publish(pool, statuses, config, stats)
        stats.devices_online = simulation.devices_online
        while t < end_s:
            size = len(simulation)
            for first in range(0, size, _CHUNK):
                due = t + config.interval_s * first / max(size, 1)
                await _wait_until(
                    due, start_s, real_start, config.speed, cap=config.live_after_catch_up
                )
                await _publish(pool, simulation.step(t, first, first + _CHUNK), config, stats)
                while not commands.empty():
                    topic, payload = commands.get_nowait()
                    await _publish(
                        pool, simulation.handle_command(topic, payload, t), config, stats
                    )
                    stats.commands_handled = simulation.counters.commands_handled
            stats.reports += 1
            stats.devices_online = simulation.devices_online
            stats.sim_time = datetime.fromtimestamp(t, UTC)
            t += config.interval_s
        await _wait_until(t, start_s, real_start, config.speed, cap=config.live_after_catch_up)
    finally:
        # a clean stop: every device says goodbye (a clean disconnect fires no will)
        for first in range(0, len(simulation), _CHUNK):
            goodbye = simulation.statuses(
                min(t, end_s),
                online=False,
                reason="simulator_stopped",
                first=first,
                last=first + _CHUNK,
            )
            pool.publish(goodbye)
        stats.devices_online = 0
        await asyncio.to_thread(pool.close, config.shutdown_timeout_s)
        stats.messages_published = pool.published
        stats.publish_errors = pool.errors
        stats.finished = True
        log.info("fleet_stopped", extra={"published": pool.published, "errors": pool.errors})


def _offer(queue: asyncio.Queue[tuple[str, bytes]], item: tuple[str, bytes]) -> None:
    try:
        queue.put_nowait(item)
    except asyncio.QueueFull:
        log.warning("command_dropped_queue_full")


async def _publish(
    pool: ConnectionPool, messages: list[Outgoing], config: FleetRunConfig, stats: SimulationStats
) -> None:
    """Publish, then wait while more than ``inflight_max`` messages are unacknowledged."""
    pool.publish(messages)
    stats.messages_published = pool.published
    stats.publish_errors = pool.errors
    # acks arrive on paho's threads; polling costs less than a cross-thread wake-up per ack
    while pool.outstanding > config.inflight_max:  # noqa: ASYNC110
        await asyncio.sleep(0.002)
    await asyncio.sleep(0)


async def _wait_until(
    sim_s: float, start_s: float, real_start: float, speed: float, *, cap: bool = False
) -> None:
    """Sleep until the simulated clock reaches ``sim_s`` (no wait in backfill, none in real
    time while the simulated clock is behind the wall clock); with ``cap``, also until the wall
    clock reaches it."""
    if speed <= 0:
        return
    if speed == 1:
        # real time is the wall clock: behind it, catch up; level with it, keep pace
        delay = sim_s - time.time()
    else:
        delay = real_start + (sim_s - start_s) / speed - time.monotonic()
    if cap:
        delay = max(delay, sim_s - time.time())
    if delay > 0:
        await asyncio.sleep(delay)
