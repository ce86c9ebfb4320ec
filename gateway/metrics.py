"""Prometheus metrics of one gateway, and the tiny HTTP server for ``/metrics`` and ``/healthz``.

Each gateway has its own ``CollectorRegistry``, so several can live in one process (tests).
Every label has a small, bounded set of values (a reason code, a kind, a district, an anomaly),
never a device id: Prometheus keeps one time series per label combination, and 100,000 devices
would make 100,000 series. What is per device is written to InfluxDB.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import orjson
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["GatewayMetrics", "serve_http"]

log = logging.getLogger(__name__)

_REQUEST_TIMEOUT_S = 5.0


class GatewayMetrics:
    """The gateway's counters, gauges and histograms."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.received = Counter(
            "gateway_messages_received", "Messages received from the broker", registry=r
        )
        self.stored = Counter(
            "gateway_messages_stored", "Valid messages made durable and acknowledged", registry=r
        )
        self.rejected = Counter(
            "gateway_messages_rejected", "Messages dead-lettered, by reason", ["reason"], registry=r
        )
        self.points = Counter("gateway_points_stored", "Points made durable", registry=r)
        self.deadletters_published = Counter(
            "gateway_deadletters_published", "Dead letters published on MQTT", registry=r
        )
        self.acks_skipped = Counter(
            "gateway_acks_skipped",
            "Acks not sent because the connection they belonged to was gone (redelivered)",
            registry=r,
        )
        self.store_retries = Counter(
            "gateway_store_retries", "Batches retried because the store refused them", registry=r
        )
        self.store_latency = Histogram(
            "gateway_store_latency_seconds",
            "Time for a batch to become durable (database or spool)",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=r,
        )
        self.batch_size = Histogram(
            "gateway_batch_messages",
            "Messages per batch",
            buckets=(1, 10, 100, 500, 1000, 2000, 5000, 10000),
            registry=r,
        )
        self.in_flight = Gauge(
            "gateway_messages_in_flight", "Messages received and not yet acknowledged", registry=r
        )
        self.queue_depth = Gauge(
            "gateway_queue_depth", "Messages waiting in the receive hand-off", registry=r
        )
        self.spool_depth = Gauge(
            "gateway_spool_points", "Points waiting in the store's spool", registry=r
        )
        self.connected = Gauge("gateway_broker_connected", "1 while connected", registry=r)
        self.connects = Gauge("gateway_broker_connects", "Connections made so far", registry=r)
        self.devices_seen = Gauge("gateway_devices_seen", "Devices heard from", registry=r)
        self.devices_online = Gauge(
            "gateway_devices_online", "Devices whose last status was online", registry=r
        )
        # Labels stay few and bounded (4 kinds x the districts x 5 anomalies): a label per
        # device would make one series per device. Per-device counts go to InfluxDB instead
        # (measurement ``gateway_sequence``, written by the gateway's stats task).
        self.sequence = Counter(
            "gateway_sequence_anomalies",
            "Sequence anomalies: gap (messages missing), duplicate, late, replay, reset",
            ["kind", "district", "anomaly"],
            registry=r,
        )

    def exposition(self) -> bytes:
        """The text format Prometheus scrapes."""
        return generate_latest(self.registry)


async def serve_http(
    host: str,
    port: int,
    metrics: GatewayMetrics,
    health: Callable[[], tuple[bool, dict[str, object]]],
    bound: Callable[[int], None],
    refresh: Callable[[], None],
) -> None:
    """Serve ``GET /metrics`` and ``GET /healthz`` until cancelled; reports the bound port.

    ``refresh`` updates the gauges read from elsewhere (queue, spool, devices) before a scrape.
    """

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(_REQUEST_TIMEOUT_S):
                request = await reader.readline()
                while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                    pass
                parts = request.decode("latin-1").split()
                path = parts[1].split("?")[0] if len(parts) >= 2 else ""
                if path == "/metrics":
                    refresh()
                    status, kind, body = "200 OK", CONTENT_TYPE_LATEST, metrics.exposition()
                elif path == "/healthz":
                    healthy, detail = health()
                    status = "200 OK" if healthy else "503 Service Unavailable"
                    kind, body = "application/json", orjson.dumps({"healthy": healthy, **detail})
                else:
                    status, kind, body = "404 Not Found", "text/plain", b"not found\n"
                writer.write(
                    f"HTTP/1.1 {status}\r\nContent-Type: {kind}\r\n"
                    f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode("latin-1")
                    + body
                )
                await writer.drain()
        except (TimeoutError, ConnectionError, UnicodeDecodeError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    server = await asyncio.start_server(handle, host, port)
    bound(int(server.sockets[0].getsockname()[1]))
    log.info("metrics_listening", extra={"host": host, "port": server.sockets[0].getsockname()[1]})
    async with server:
        await server.serve_forever()
