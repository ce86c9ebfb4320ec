"""Readings → durable points: line protocol, InfluxDB writers, the disk spool, bootstrap.

The gateway calls, per batch of decoded messages::

    points = [p for m, device in batch for p in points_from_message(m, device, plate_key=key)]
    durability = await store.store(points)      # WRITTEN or SPOOLED; ack only after this

with ``store`` a ``DurableStore(writer, Spool(spool_config), store_config)`` entered as an async
context manager, and ``writer`` an ``InfluxV1Writer`` or ``InfluxV2Writer``. A benchmark may
call a writer directly: ``await writer.write(encode_lines(points))``; the measurements of this
path live with the other benchmarks, in ``smartcity.bench``.
"""

from ingest.bootstrap import (
    DOWNSAMPLED_POLICY,
    RAW_POLICY,
    ROLLUP_INTERVALS,
    BootstrapResult,
    bootstrap_bucket,
    bootstrap_database,
    continuous_queries,
    downsampling_tasks_flux,
)
from ingest.config import (
    BootstrapConfig,
    InfluxV1Config,
    InfluxV2Config,
    SpoolConfig,
    StoreConfig,
)
from ingest.errors import (
    BootstrapFailed,
    IngestError,
    SpoolCorrupt,
    SpoolError,
    SpoolFull,
    SpoolWriteFailed,
    StoreUnavailable,
    WriteFailed,
)
from ingest.influx_v1 import InfluxV1Writer
from ingest.influx_v2 import InfluxV2Writer
from ingest.lineprotocol import encode_line, encode_lines
from ingest.points import (
    NUMERIC_MEASUREMENTS,
    FieldValue,
    Point,
    plate_hash,
    point_time_ns,
    points_from_message,
)
from ingest.spool import Spool, SpoolBatch
from ingest.stats import IngestStats
from ingest.store import Durability, DurableStore, PointStore
from ingest.writer import Writer

__all__ = [
    "DOWNSAMPLED_POLICY",
    "NUMERIC_MEASUREMENTS",
    "RAW_POLICY",
    "ROLLUP_INTERVALS",
    "BootstrapConfig",
    "BootstrapFailed",
    "BootstrapResult",
    "Durability",
    "DurableStore",
    "FieldValue",
    "InfluxV1Config",
    "InfluxV1Writer",
    "InfluxV2Config",
    "InfluxV2Writer",
    "IngestError",
    "IngestStats",
    "Point",
    "PointStore",
    "Spool",
    "SpoolBatch",
    "SpoolConfig",
    "SpoolCorrupt",
    "SpoolError",
    "SpoolFull",
    "SpoolWriteFailed",
    "StoreConfig",
    "StoreUnavailable",
    "WriteFailed",
    "Writer",
    "bootstrap_bucket",
    "bootstrap_database",
    "continuous_queries",
    "downsampling_tasks_flux",
    "encode_line",
    "encode_lines",
    "plate_hash",
    "point_time_ns",
    "points_from_message",
]
