"""The room's configuration: frozen dataclasses without defaults (settings.py has those)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

__all__ = ["BootstrapConfig", "InfluxV1Config", "InfluxV2Config", "SpoolConfig", "StoreConfig"]


@dataclass(frozen=True, slots=True)
class InfluxV1Config:
    """Where and how ``InfluxV1Writer`` writes (InfluxDB 1.x ``/write``)."""

    url: str
    database: str
    retention_policy: str | None
    username: str | None
    password: str | None
    timeout_s: float
    gzip: bool
    max_in_flight: int


@dataclass(frozen=True, slots=True)
class InfluxV2Config:
    """Where and how ``InfluxV2Writer`` writes (``/api/v2/write`` through influxdb-client)."""

    url: str
    token: str | None
    org: str
    bucket: str
    timeout_s: float
    gzip: bool
    max_in_flight: int


@dataclass(frozen=True, slots=True)
class SpoolConfig:
    """The disk spool: its folder, its bound, its segment size and when it fsyncs.

    ``fsync``: ``always`` fsyncs every append before it returns (survives power loss);
    ``never`` leaves it to the OS page cache (survives a process crash, not a power cut).
    """

    directory: Path
    max_bytes: int
    segment_max_bytes: int
    fsync: Literal["always", "never"]


@dataclass(frozen=True, slots=True)
class StoreConfig:
    """How ``DurableStore`` writes and replays."""

    max_in_flight: int
    retry_initial_s: float
    retry_max_s: float


@dataclass(frozen=True, slots=True)
class BootstrapConfig:
    """What ``bootstrap_database`` prepares on InfluxDB 1.x.

    Durations are InfluxQL literals (``30d``, ``400d``, ``1h``). ``raw_retention`` becomes the
    default policy ``raw``; the 1-minute and 1-hour means land in ``downsampled``.
    ``resample_every`` is how often each continuous query runs, ``resample_for`` how far back it
    recomputes (late points from a replayed spool within that window are still downsampled).
    """

    url: str
    database: str
    username: str | None
    password: str | None
    timeout_s: float
    raw_retention: str
    downsampled_retention: str
    resample_every: str
    resample_for: str
