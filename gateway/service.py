"""The gateway service: receive → validate → store durably → acknowledge.

Tasks, in one ``TaskGroup``::

    receiver ──Handoff──▶ collect ──batches──▶ write ×N ──▶ ack, dead letters, sink
    (paho on the loop)                          stats, http, keepalive/reconnect

``collect`` takes size/age batches from the hand-off, validates each message, updates presence
and sequence state in receive order, and turns the batch into points (readings and dead letters
alike). Several ``write`` tasks make batches durable at once; a batch is acknowledged only after
``store`` returned, and handed to the rule engine in the order the batches were made.

Long because: the service's tasks (collect, write, acknowledge, stats, health) share one
batch state; receiving, presence, sequence and dead letters are already modules of their own.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from alerts import Observation, ObservationSink
from devices import (
    DeviceRecord,
    Reading,
    ServiceRole,
    Status,
    Topic,
    service_username,
    ssl_context,
)
from gateway.config import GatewayConfig
from gateway.deadletter import DeadLetter, redact_personal
from gateway.errors import PayloadRejected
from gateway.handoff import Handoff
from gateway.identity import check_publisher
from gateway.metrics import GatewayMetrics, serve_http
from gateway.partition import partition_subscriptions
from gateway.presence import Presence, SeqVerdict
from gateway.receive import Received, Receiver
from gateway.validate import Validator
from ingest import IngestError, Point, PointStore, WriteFailed, points_from_message

__all__ = ["SEQUENCE_MEASUREMENT", "STATS_MEASUREMENT", "Gateway", "GatewayStats"]

log = logging.getLogger(__name__)

STATS_MEASUREMENT = "gateway_stats"
SEQUENCE_MEASUREMENT = "gateway_sequence"
_UNREGISTERED = "unregistered"
_CONNECT_TIMEOUT_S = 30.0
_RETRY_INITIAL_S = 0.1
_RETRY_MAX_S = 5.0
# publishers that may speak for any device: the simulators' pooled links
_TRUSTED_PUBLISHERS = frozenset({service_username(ServiceRole.SIMULATOR)})
# CPython's cyclic garbage collector runs a young collection every 700 container allocations,
# and a message allocates a dozen (its model, Message, Accepted, points, tuples). The batches
# in flight survive those collections, so they are traversed again and again and promoted, and
# each full collection also walks everything loaded at start (the registry, the caches). That
# was 5-9 us of the 16-23 us a message took to validate and convert (README, figures). So once
# started the gateway moves what it loaded out of the collector's sight (``gc.freeze``) and
# collects the young generation every 50,000 allocations (a few batches). Garbage stays
# bounded, and what reference counting frees (nearly everything here) is freed as before.
_GC_YOUNG_THRESHOLD = 50_000


@dataclass(frozen=True, slots=True)
class GatewayStats:
    """A snapshot of one gateway's figures, for the live console and ``gateway_stats``."""

    received: int
    stored: int
    rejected: int
    in_flight: int
    queue_depth: int
    devices_seen: int
    devices_online: int
    connected: bool
    rate_per_s: float
    rejected_by_reason: Mapping[str, int]


@dataclass(slots=True)
class _Batch:
    """One batch on its way to durable: its points, what to ack and what follows.

    ``owners[i]`` is the index in ``items`` of the message point ``i`` came from (``-1`` for a
    dead letter's point), so a point the database refuses for good names its message.
    """

    items: list[Received]
    points: list[Point] = field(default_factory=list)
    owners: list[int] = field(default_factory=list)
    deadletters: list[DeadLetter] = field(default_factory=list)
    observations: dict[int, Observation] = field(default_factory=dict)
    valid: set[int] = field(default_factory=set)
    handed_over: asyncio.Event = field(default_factory=asyncio.Event)
    previous: asyncio.Event | None = None


class Gateway:
    """One gateway worker. ``await run()`` until cancelled; cancelling flushes and acks first.

    ``registry`` is the fleet; ``store`` makes points durable (``ingest.DurableStore``);
    ``sink``, when given, receives each durable batch's observations in receive order.
    """

    def __init__(
        self,
        config: GatewayConfig,
        registry: Mapping[str, DeviceRecord],
        store: PointStore,
        *,
        sink: ObservationSink | None = None,
    ) -> None:
        self.config = config
        self._registry = registry
        self._store = store
        self._sink = sink
        self.metrics = GatewayMetrics()
        self.presence = Presence()
        self._validator = Validator(
            registry,
            register_unknown=config.unknown_devices == "register",
            payload_max_bytes=config.payload_max_bytes,
            ts_future_max_s=config.ts_future_max_s,
            ts_past_max_s=config.ts_past_max_s,
        )
        self._received = 0
        self._stored = 0
        self._rejected = 0
        self._rejected_by_reason: dict[str, int] = {}
        self._in_flight = 0
        self._handed_to_rules = 0
        self._handoff: Handoff[Received] | None = None
        self._receiver: Receiver | None = None
        self._last_ns = 0
        self._rate_mark = (time.monotonic(), 0)
        self._rate_per_s = 0.0
        self._previous_handed_over: asyncio.Event | None = None
        # devices whose sequence counts changed since the last stats point: device → (kind,
        # district)
        self._sequence_changed: dict[str, tuple[str, str]] = {}
        self.metrics_port: int | None = None
        """The port ``/metrics`` and ``/healthz`` answer on, once listening."""
        self.ready = asyncio.Event()
        """Set once connected and subscribed."""

    # -- public -----------------------------------------------------------------------------
    def stats(self) -> GatewayStats:
        """The figures right now."""
        return GatewayStats(
            received=self._received,
            stored=self._stored,
            rejected=self._rejected,
            in_flight=self._in_flight,
            queue_depth=self._handoff.depth if self._handoff else 0,
            devices_seen=len(self.presence.devices),
            devices_online=self.presence.online_count(),
            connected=self._receiver.connected if self._receiver else False,
            rate_per_s=self._rate_per_s,
            rejected_by_reason=dict(self._rejected_by_reason),
        )

    async def run(self) -> None:
        """Receive and store until cancelled; then flush and ack within the shutdown timeout."""
        config = self.config
        handoff: Handoff[Received] = Handoff(config.queue_max)
        self._handoff = handoff
        if config.worker_count == 1:
            subscriptions = list(config.subscriptions)
        else:
            subscriptions = partition_subscriptions(
                self._registry, config.worker_index, config.worker_count
            )
        receiver = Receiver(
            host=config.mqtt_host,
            port=config.mqtt_port,
            client_id=config.worker_client_id,
            username=config.mqtt_username,
            password=config.mqtt_password,
            subscriptions=subscriptions,
            receive_max=config.receive_max,
            session_expiry_s=config.session_expiry_s,
            keepalive_s=config.keepalive_s,
            handoff=handoff,
            tls=ssl_context(config.mqtt_tls) if config.mqtt_tls is not None else None,
            publisher_property=config.publisher_property,
        )
        self._receiver = receiver
        await receiver.start(_CONNECT_TIMEOUT_S)
        _settle_garbage_collector()
        log.info(
            "gateway_started",
            extra={
                "client_id": config.worker_client_id,
                "subscriptions": len(subscriptions),
                "worker": config.worker_index,
                "workers": config.worker_count,
            },
        )
        batches: asyncio.Queue[_Batch | None] = asyncio.Queue(maxsize=config.batches_in_flight)
        try:
            async with asyncio.TaskGroup() as group:
                collector = group.create_task(self._collect(handoff, batches))
                writers = [
                    group.create_task(self._write(batches, receiver))
                    for _ in range(config.batches_in_flight)
                ]
                group.create_task(self._report_stats())
                group.create_task(receiver.run())
                if config.metrics_port is not None:
                    group.create_task(
                        serve_http(
                            config.metrics_host,
                            config.metrics_port,
                            self.metrics,
                            self._health,
                            self._bound,
                            self._refresh_gauges,
                        )
                    )
                self.ready.set()
                try:
                    await asyncio.Future()
                except asyncio.CancelledError:
                    await self._drain(handoff, [collector, *writers])
                    raise
        finally:
            await receiver.stop()
            log.info("gateway_stopped", extra={"client_id": config.worker_client_id})

    # -- shutdown ---------------------------------------------------------------------------
    async def _drain(self, handoff: Handoff[Received], tasks: list[asyncio.Task[None]]) -> None:
        """Stop taking messages, finish the batches already taken, within the timeout."""
        handoff.close()
        _, pending = await asyncio.wait(tasks, timeout=self.config.shutdown_timeout_s)
        if pending:
            # what is not acked is redelivered on the next start: late, not lost
            log.warning("shutdown_timed_out", extra={"in_flight": self._in_flight})
        else:
            log.info("gateway_drained", extra={"stored": self._stored})

    # -- the pipeline -----------------------------------------------------------------------
    async def _collect(
        self, handoff: Handoff[Received], batches: asyncio.Queue[_Batch | None]
    ) -> None:
        config = self.config
        while True:
            received = await handoff.take(config.batch_max, config.batch_age_s)
            if not received:
                break
            await batches.put(self._prepare(received))
        # closed and drained: one stop mark per writer, behind the last batch
        for _ in range(config.batches_in_flight):
            await batches.put(None)

    def _prepare(self, received: list[Received]) -> _Batch:
        """Validate a batch of messages and turn it into points, in receive order."""
        batch = _Batch(received, previous=self._previous_handed_over)
        self._previous_handed_over = batch.handed_over
        count = len(received)
        self._received += count
        self._in_flight += count
        self.metrics.received.inc(count)
        self.metrics.in_flight.set(self._in_flight)
        self.metrics.batch_size.observe(count)
        key = self.config.plate_hash_key
        sink = self._sink
        for index, item in enumerate(received):
            try:
                if item.publishers is not None:
                    check_publisher(item.topic, item.publishers, trusted=_TRUSTED_PUBLISHERS)
                accepted = self._validator.check(item.topic, item.payload, item.received_at)
                message = accepted.message
                # only a status without ts is timed by its arrival
                timeless = getattr(message.payload, "ts", None) is None
                points = points_from_message(
                    message,
                    accepted.device,
                    plate_key=key,
                    now=datetime.fromtimestamp(item.received_at, UTC) if timeless else None,
                )
            except PayloadRejected as rejected:
                self._dead_letter(batch, rejected, item)
                continue
            except Exception as exc:  # one bad message must not stop the others
                log.exception("message_check_failed", extra={"topic": item.topic})
                failure = PayloadRejected(item.topic, "internal_error", type(exc).__name__)
                self._dead_letter(batch, failure, item)
                continue
            batch.points.extend(points)
            batch.owners.extend([index] * len(points))
            batch.valid.add(index)
            self._track(message.topic, accepted.device, message.payload, item.received_at)
            if sink is not None:
                batch.observations[index] = Observation(
                    message, accepted.device, datetime.fromtimestamp(item.received_at, UTC)
                )
        return batch

    def _dead_letter(self, batch: _Batch, rejected: PayloadRejected, item: Received) -> None:
        time_ns = max(int(item.received_at * 1e9), self._last_ns + 1)
        self._last_ns = time_ns
        payload = redact_personal(item.payload, self.config.plate_hash_key)
        letter = DeadLetter.of(rejected, payload, item.received_at, time_ns)
        batch.deadletters.append(letter)
        batch.points.append(letter.point(self.config.deadletter_payload_max_bytes))
        batch.owners.append(-1)
        self._rejected += 1
        self._rejected_by_reason[rejected.reason] = (
            self._rejected_by_reason.get(rejected.reason, 0) + 1
        )
        self.metrics.rejected.labels(rejected.reason).inc()
        log.warning(
            "message_dead_lettered", extra={"topic": letter.topic, "reason": rejected.reason}
        )

    def _track(
        self, topic: Topic, device: DeviceRecord | None, payload: object, received_at: float
    ) -> None:
        device_id = topic.device_id
        if isinstance(payload, Status):
            if self.presence.status(device_id, payload, received_at):
                log.info(
                    "device_presence_changed",
                    extra={"device_id": device_id, "online": payload.online},
                )
            return
        if isinstance(payload, Reading):
            verdict, missing = self.presence.reading(device_id, payload.seq, received_at)
            if verdict is SeqVerdict.NEXT or verdict is SeqVerdict.FIRST:
                return
            # an auto-registered device's district comes from its topic, which anyone may
            # choose: it would make the label's values unbounded
            district = device.district if device is not None else _UNREGISTERED
            labels = self.metrics.sequence.labels(topic.kind.value, district, verdict.value)
            labels.inc(missing if verdict is SeqVerdict.GAP else 1)
            self._sequence_changed[device_id] = (topic.kind.value, district)

    async def _write(self, batches: asyncio.Queue[_Batch | None], receiver: Receiver) -> None:
        while True:
            batch = await batches.get()
            if batch is None:
                return
            await self._make_batch_durable(batch)
            sent = receiver.ack_many(batch.items)
            skipped = len(batch.items) - sent
            if skipped:
                self.metrics.acks_skipped.inc(skipped)
            limit = self.config.deadletter_payload_max_bytes
            for letter in batch.deadletters:
                receiver.publish(letter.publish_topic, letter.message(limit))
            self.metrics.deadletters_published.inc(len(batch.deadletters))
            self._stored += len(batch.valid)
            self._in_flight -= len(batch.items)
            self.metrics.stored.inc(len(batch.valid))
            self.metrics.points.inc(len(batch.points))
            self.metrics.in_flight.set(self._in_flight)
            if batch.previous is not None:
                await batch.previous.wait()
            if self._sink is not None and batch.observations:
                handed = [
                    batch.observations[i] for i in sorted(batch.observations) if i in batch.valid
                ]
                await self._sink.submit(handed)
                self._handed_to_rules += len(handed)
            batch.handed_over.set()

    async def _make_batch_durable(self, batch: _Batch) -> None:
        """Store a batch; messages whose points the database refuses for good are dead-lettered."""
        while batch.points:
            try:
                await self._make_durable(batch.points)
            except WriteFailed as exc:
                self._refuse_for_good(batch, exc)
                continue
            return

    def _refuse_for_good(self, batch: _Batch, exc: WriteFailed) -> None:
        named = {line - 1 for line in exc.lines if 0 < line <= len(batch.points)}
        # when the database does not say which, dead-letter every message rather than stall
        bad = {batch.owners[index] for index in named} if named else set(batch.owners)
        log.error(
            "points_refused_for_good",
            extra={"messages": len(bad - {-1}), "reason": exc.reason[:200]},
        )
        kept_points: list[Point] = []
        kept_owners: list[int] = []
        for index, (point, owner) in enumerate(zip(batch.points, batch.owners, strict=True)):
            if owner in bad and owner >= 0:
                continue
            if owner == -1 and (index in named or not named):
                # a dead letter the database refuses cannot be kept; it is still published
                continue
            kept_points.append(point)
            kept_owners.append(owner)
        batch.points, batch.owners = kept_points, kept_owners
        for owner in sorted(bad - {-1}):
            batch.valid.discard(owner)
            batch.observations.pop(owner, None)
            item = batch.items[owner]
            rejected = PayloadRejected(item.topic, "store_rejected", exc.reason[:200])
            self._dead_letter(batch, rejected, item)

    async def _make_durable(self, points: Sequence[Point]) -> None:
        """Store until durable: a passing refusal is a delay, never a reason to ack."""
        delay = _RETRY_INITIAL_S
        while True:
            started = time.perf_counter()
            try:
                await self._store.store(points)
            except WriteFailed as exc:
                if not exc.retryable:
                    raise
                failure: IngestError = exc
            except IngestError as exc:
                failure = exc
            else:
                self.metrics.store_latency.observe(time.perf_counter() - started)
                return
            self.metrics.store_retries.inc()
            log.warning(
                "store_refused_retrying",
                extra={"error": type(failure).__name__, "detail": str(failure), "retry_s": delay},
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, _RETRY_MAX_S)

    # -- stats, health ----------------------------------------------------------------------
    async def _report_stats(self) -> None:
        while True:
            await asyncio.sleep(self.config.stats_interval_s)
            now = time.monotonic()
            mark_time, mark_received = self._rate_mark
            self._rate_per_s = (self._received - mark_received) / max(now - mark_time, 1e-9)
            self._rate_mark = (now, self._received)
            self._refresh_gauges()
            try:
                await self._make_durable([self._stats_point(), *self._sequence_points()])
            except WriteFailed as exc:
                log.error("stats_refused", extra={"reason": exc.reason[:200]})

    def _stats_point(self) -> Point:
        stats = self.stats()
        fields: dict[str, bool | int | float | str] = {
            "received": stats.received,
            "stored": stats.stored,
            "rejected": stats.rejected,
            "in_flight": stats.in_flight,
            "queue_depth": stats.queue_depth,
            "devices_seen": stats.devices_seen,
            "devices_online": stats.devices_online,
            "rate_per_s": float(stats.rate_per_s),
            "connected": stats.connected,
            "handed_to_rules": self._handed_to_rules,
        }
        # the store's figures, for the platform dashboard's spool depth and write latency;
        # one type per field for ever: InfluxDB refuses a float where an int was written
        figures = self._store.stats()
        fields["spool_points"] = int(figures.spool_points)
        fields["write_seconds_last"] = float(figures.write_seconds_last)
        return Point(
            STATS_MEASUREMENT,
            (("worker", self.config.worker_client_id),),
            tuple(sorted(fields.items())),
            time.time_ns(),
        )

    def _sequence_points(self) -> list[Point]:
        """Per-device sequence counts (since start) of the devices whose counts changed."""
        changed, self._sequence_changed = self._sequence_changed, {}
        worker = self.config.worker_client_id
        time_ns = time.time_ns()
        points = []
        for device_id, (kind, district) in sorted(changed.items()):
            state = self.presence.devices[device_id]
            fields: tuple[tuple[str, bool | int | float | str], ...] = (
                ("duplicates", state.duplicates),
                ("late", state.late),
                ("missing", state.missing),
                ("replays", state.replays),
                ("resets", state.resets),
            )
            tags = (
                ("device_id", device_id),
                ("district", district),
                ("kind", kind),
                ("worker", worker),
            )
            points.append(Point(SEQUENCE_MEASUREMENT, tags, fields, time_ns))
        return points

    def _refresh_gauges(self) -> None:
        stats = self.stats()
        self.metrics.queue_depth.set(stats.queue_depth)
        self.metrics.devices_seen.set(stats.devices_seen)
        self.metrics.devices_online.set(stats.devices_online)
        self.metrics.connected.set(1 if stats.connected else 0)
        if self._receiver is not None:
            self.metrics.connects.set(self._receiver.connects)
        self.metrics.spool_depth.set(self._store.stats().spool_points)

    def _health(self) -> tuple[bool, dict[str, object]]:
        self._refresh_gauges()
        stats = self.stats()
        return stats.connected, {
            "connected": stats.connected,
            "received": stats.received,
            "stored": stats.stored,
            "rejected": stats.rejected,
            "in_flight": stats.in_flight,
        }

    def _bound(self, port: int) -> None:
        self.metrics_port = port


def _settle_garbage_collector() -> None:
    """Freeze what start-up loaded and collect the young generation less often (see above)."""
    gc.collect()
    gc.freeze()
    young, middle, old = gc.get_threshold()
    if young < _GC_YOUNG_THRESHOLD:
        gc.set_threshold(_GC_YOUNG_THRESHOLD, middle, old)
