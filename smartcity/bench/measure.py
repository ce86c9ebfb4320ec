"""Measurements of the ingest path, for ``smartcity bench ingest`` and the README's figures.

Each function is bounded (a count of messages, points or batches) and returns a frozen result;
none asserts a speed. Only loopback servers the caller started are written to.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson

from devices import Channel, DeviceRecord, Message, Topic, decode_message
from ingest import Point, Spool, SpoolConfig, Writer, encode_lines, points_from_message

__all__ = [
    "EncodeFigures",
    "SpoolFigures",
    "WriteFigures",
    "measure_encode",
    "measure_spool",
    "measure_writer",
    "sample_points",
    "sample_traffic",
]

_BASE_MS = 1_795_420_800_000


@dataclass(frozen=True, slots=True)
class EncodeFigures:
    """Per-message cost of turning messages into line protocol."""

    messages: int
    points: int
    decode_us_per_message: float
    points_and_lines_us_per_message: float
    total_us_per_message: float
    messages_per_s: float
    body_bytes: int


@dataclass(frozen=True, slots=True)
class WriteFigures:
    """What a writer sustained: points and batches per second, latency per batch."""

    points: int
    batch_points: int
    concurrency: int
    seconds: float
    points_per_s: float
    batch_latency_ms_mean: float
    batch_latency_ms_max: float


@dataclass(frozen=True, slots=True)
class SpoolFigures:
    """Spool append and replay rates for one fsync policy."""

    fsync: str
    batches: int
    batch_bytes: int
    append_batches_per_s: float
    append_mb_per_s: float
    replay_batches_per_s: float
    replay_mb_per_s: float


def sample_traffic(count: int) -> list[tuple[str, bytes, DeviceRecord]]:
    """``count`` raw (topic, payload, device) messages: a city's mix of streetlights, water
    stations, junctions and cameras, one device each per 100 messages."""
    devices = {
        "streetlight": DeviceRecord(id="SL-0", kind="streetlight", district="d1", cabinet="C-1"),
        "water_quality": DeviceRecord.model_validate(
            {
                "id": "WQ-0",
                "kind": "water_quality",
                "district": "d1",
                "river": "r",
                "section": "s",
                "section_order": 1,
                "target_class": "III",
            }
        ),
        "traffic_signal": DeviceRecord(
            id="TS-0", kind="traffic_signal", district="d2", junction="J-1"
        ),
        "checkpoint": DeviceRecord(id="CP-0", kind="checkpoint", district="d2", junction="J-1"),
    }
    out: list[tuple[str, bytes, DeviceRecord]] = []
    for index in range(count):
        ts = _BASE_MS + index
        choice = index % 10
        if choice < 6:
            kind = "streetlight"
            payload: dict[str, object] = {
                "ts": ts,
                "seq": index,
                "power_w": 80 + index % 7,
                "voltage_v": 229.1,
                "current_a": 0.35,
                "power_factor": 0.96,
                "energy_kwh": 1000 + index / 100,
                "lamp_on": True,
                "dimming_pct": 70,
                "ambient_lux": 3.5,
                "lamp_temp_c": 40.5,
                "faults": [],
            }
            channel = "telemetry"
        elif choice < 7:
            kind, channel = "water_quality", "telemetry"
            payload = {
                "ts": ts,
                "seq": index,
                "water_temp_c": 12.5,
                "ph": 7.2,
                "dissolved_oxygen_mg_l": 8.1,
                "permanganate_index_mg_l": 3.0,
                "ammonia_mg_l": 0.3,
                "total_phosphorus_mg_l": 0.05,
                "turbidity_ntu": 10.0,
                "conductivity_us_cm": 420.0,
            }
        elif choice < 8:
            kind, channel = "traffic_signal", "telemetry"
            payload = {
                "ts": ts,
                "seq": index,
                "mode": "actuated",
                "plan_id": 2,
                "phase": 1,
                "cycle_s": 90.0,
                "approaches": [
                    {"approach": name, "queue_veh": 3, "volume_veh": 40, "occupancy_pct": 12.5}
                    for name in ("north", "east", "south", "west")
                ],
            }
        elif choice < 9:
            kind, channel = "checkpoint", "event"
            payload = {
                "ts": ts,
                "seq": index,
                "event": "vehicle_pass",
                "plate": f"A{index % 100000:05d}",
                "vehicle_class": "car",
                "speed_kmh": 48.5,
                "lane": 2,
                "direction": "inbound",
            }
        else:
            kind, channel = "checkpoint", "telemetry"
            payload = {
                "ts": ts,
                "seq": index,
                "online": True,
                "fps": 25.0,
                "storage_used_pct": 40.5,
                "temp_c": 35.0,
                "vehicles_per_min": 12.0,
            }
        device = devices[kind]
        topic = str(Topic(device.district, device.kind, device.id, Channel(channel)))
        out.append((topic, orjson.dumps(payload), device))
    return out


def measure_encode(count: int = 50_000, *, plate_key: bytes = b"bench-key") -> EncodeFigures:
    """Decode, convert and encode ``count`` sample messages; time each stage."""
    traffic = sample_traffic(count)
    started = time.perf_counter()
    decoded: list[tuple[Message, DeviceRecord]] = [
        (decode_message(topic, data), device) for topic, data, device in traffic
    ]
    decoded_at = time.perf_counter()
    points: list[Point] = []
    for message, device in decoded:
        points.extend(points_from_message(message, device, plate_key=plate_key))
    body = encode_lines(points)
    finished = time.perf_counter()
    return EncodeFigures(
        messages=count,
        points=len(points),
        decode_us_per_message=(decoded_at - started) / count * 1e6,
        points_and_lines_us_per_message=(finished - decoded_at) / count * 1e6,
        total_us_per_message=(finished - started) / count * 1e6,
        messages_per_s=count / (finished - started),
        body_bytes=len(body),
    )


def sample_points(count: int, *, plate_key: bytes = b"bench-key") -> list[Point]:
    """``count`` or a few more points from the sample traffic (each its own identity)."""
    points: list[Point] = []
    for topic, data, device in sample_traffic(count):
        points.extend(points_from_message(decode_message(topic, data), device, plate_key=plate_key))
        if len(points) >= count:
            break
    return points[:count]


async def measure_writer(
    writer: Writer, points: Sequence[Point], *, batch_points: int = 5_000, concurrency: int = 4
) -> WriteFigures:
    """Write ``points`` in batches of ``batch_points``, ``concurrency`` at once; time it.

    Bodies are encoded before the clock starts, so this measures the database and the writer.
    """
    bodies = [
        encode_lines(points[start : start + batch_points])
        for start in range(0, len(points), batch_points)
    ]
    latencies: list[float] = []
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)

    async def worker() -> None:
        while True:
            try:
                body = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            began = time.perf_counter()
            await writer.write(body)
            latencies.append(time.perf_counter() - began)

    started = time.perf_counter()
    async with asyncio.TaskGroup() as group:
        for _ in range(concurrency):
            group.create_task(worker())
    seconds = time.perf_counter() - started
    return WriteFigures(
        points=len(points),
        batch_points=batch_points,
        concurrency=concurrency,
        seconds=seconds,
        points_per_s=len(points) / seconds,
        batch_latency_ms_mean=sum(latencies) / len(latencies) * 1000,
        batch_latency_ms_max=max(latencies) * 1000,
    )


async def measure_spool(
    *,
    batches: int = 200,
    batch_points: int = 5_000,
    fsync: str = "always",
    directory: Path | None = None,
) -> SpoolFigures:
    """Append ``batches`` batches of ``batch_points`` sample points to a fresh spool, then
    replay (peek + commit) them all; time both. Uses a temporary folder unless given one."""
    body = encode_lines(sample_points(batch_points))
    folder = Path(tempfile.mkdtemp(prefix="spool-bench-", dir=directory))
    try:
        max_bytes = max(len(body) * (batches + 1) * 2, 1 << 20)
        config = SpoolConfig(
            directory=folder,
            max_bytes=max_bytes,
            segment_max_bytes=min(16 << 20, max_bytes),
            fsync="always" if fsync == "always" else "never",
        )
        async with Spool(config) as spool:
            started = time.perf_counter()
            for _ in range(batches):
                await spool.append(body, batch_points)
            appended = time.perf_counter()
            while (batch := await spool.peek()) is not None:
                await spool.commit(batch)
            replayed = time.perf_counter()
    finally:
        await asyncio.to_thread(shutil.rmtree, folder, True)
    megabytes = len(body) * batches / 1e6
    return SpoolFigures(
        fsync=fsync,
        batches=batches,
        batch_bytes=len(body),
        append_batches_per_s=batches / (appended - started),
        append_mb_per_s=megabytes / (appended - started),
        replay_batches_per_s=batches / (replayed - appended),
        replay_mb_per_s=megabytes / (replayed - appended),
    )
