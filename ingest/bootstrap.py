"""Prepare the database at start, idempotently: database, retention policies, downsampling.

InfluxDB 1.x (``bootstrap_database``):

- database ``{database}``;
- retention policy ``raw`` (default; every write without ``rp`` lands there), duration
  ``raw_retention`` (30 d by default);
- retention policy ``downsampled``, duration ``downsampled_retention`` (400 d by default);
- for each measurement with numeric telemetry (derived from the ``devices`` schemas), two
  continuous queries ``{measurement}_1m`` and ``{measurement}_1h`` writing the 1-minute and
  1-hour means of every numeric field, grouped by every tag, into
  ``"downsampled"."{measurement}_1m"`` / ``"_1h"``. The 1-minute query runs every
  ``resample_every`` over the last ``resample_for``; the hourly one every ``resample_every`` but
  at most every 10 minutes, over at least two hours. So points replayed late from the spool
  within that window are averaged too; an outage longer than it leaves a gap in the rollups
  (the raw points are all there; re-run the SELECT ... INTO for that span to fill it).

Running it again changes nothing that is already right: an existing policy is altered to the
configured duration, a continuous query whose text differs is dropped and created again.

InfluxDB 2.x (``bootstrap_bucket``): a bucket with ``raw_retention`` and, when the server has
the tasks API, the same downsampling as Flux tasks (``downsampling_tasks_flux`` gives their
text) into a ``{bucket}_downsampled`` bucket.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from typing import Any

import httpx
from influxdb_client.client.influxdb_client import InfluxDBClient
from influxdb_client.domain.bucket_retention_rules import BucketRetentionRules
from influxdb_client.domain.task_create_request import TaskCreateRequest
from influxdb_client.rest import ApiException

from ingest.config import BootstrapConfig, InfluxV2Config
from ingest.errors import BootstrapFailed
from ingest.points import NUMERIC_MEASUREMENTS

__all__ = [
    "DOWNSAMPLED_POLICY",
    "RAW_POLICY",
    "ROLLUP_INTERVALS",
    "BootstrapResult",
    "bootstrap_bucket",
    "bootstrap_database",
    "continuous_queries",
    "downsampling_tasks_flux",
    "duration_seconds",
]

log = logging.getLogger(__name__)

RAW_POLICY = "raw"
DOWNSAMPLED_POLICY = "downsampled"
_ROLLUPS = (("1m", "1m"), ("1h", "1h"))
ROLLUP_INTERVALS = tuple(suffix for suffix, _ in _ROLLUPS)
"""The rollups' suffixes: ``downsampled.{measurement}_{suffix}`` holds their means."""
_DURATION = re.compile(r"(\d+)(s|m|h|d|w)")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def duration_seconds(text: str) -> int:
    """Seconds in an InfluxQL duration literal such as ``30d`` or ``1h30m``."""
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"{text!r} is not a duration like 30d, 12h or 1h30m")
    return sum(int(number) * _UNIT_S[unit] for number, unit in parts)


def _duration_text(seconds: int) -> str:
    """Seconds as InfluxQL writes a duration back (``60`` → ``1m``), so stored CQ text matches."""
    for unit in ("w", "d", "h", "m", "s"):
        if seconds % _UNIT_S[unit] == 0:
            return f"{seconds // _UNIT_S[unit]}{unit}"
    raise AssertionError("unreachable: every whole number of seconds divides by 1")


def _ident(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def continuous_queries(config: BootstrapConfig) -> dict[str, str]:
    """Name → ``CREATE CONTINUOUS QUERY`` statement, one per measurement and rollup."""
    database = _ident(config.database)
    every_s = duration_seconds(config.resample_every)
    for_s = duration_seconds(config.resample_for)
    statements: dict[str, str] = {}
    for measurement, fields in NUMERIC_MEASUREMENTS.items():
        if not fields:
            continue
        means = ", ".join(f"mean({_ident(name)}) AS {_ident(name)}" for name in fields)
        for suffix, interval in _ROLLUPS:
            interval_s = duration_seconds(interval)
            span_s = max(for_s, 2 * interval_s)
            # Recomputing hours of raw data every minute would cost more than it is worth:
            # an hourly rollup is refreshed at most every ten minutes.
            every = max(every_s, interval_s // 6, 1)
            name = f"{measurement}_{suffix}"
            statements[name] = (
                f"CREATE CONTINUOUS QUERY {_ident(name)} ON {database} "
                f"RESAMPLE EVERY {_duration_text(every)} FOR {_duration_text(span_s)} BEGIN "
                f"SELECT {means} INTO {database}.{_ident(DOWNSAMPLED_POLICY)}.{_ident(name)} "
                f"FROM {database}.{_ident(RAW_POLICY)}.{_ident(measurement)} "
                f"GROUP BY time({interval}), * END"
            )
    return statements


async def _query(client: httpx.AsyncClient, statement: str, database: str | None = None) -> Any:
    params = {"q": statement}
    if database is not None:
        params["db"] = database
    try:
        response = await client.post("/query", params=params)
    except httpx.HTTPError as exc:
        raise BootstrapFailed(statement, f"{type(exc).__name__}: {exc}") from exc
    try:
        document = response.json()
    except ValueError:
        document = {}
    if response.status_code != 200:
        raise BootstrapFailed(statement, f"HTTP {response.status_code}: {response.text[:300]}")
    for result in document.get("results", []):
        if "error" in result:
            raise BootstrapFailed(statement, str(result["error"]))
    return document


@dataclass(frozen=True, slots=True)
class BootstrapResult:
    """What ``bootstrap_database`` did: continuous queries created, replaced or kept as they
    were (a second run with the same configuration keeps them all)."""

    database: str
    created: tuple[str, ...]
    replaced: tuple[str, ...]
    kept: tuple[str, ...]


async def bootstrap_database(config: BootstrapConfig) -> BootstrapResult:
    """Create or correct the database, its retention policies and continuous queries (1.x)."""
    auth = (
        httpx.BasicAuth(config.username, config.password or "")
        if config.username is not None
        else None
    )
    database = _ident(config.database)
    async with httpx.AsyncClient(
        base_url=config.url, auth=auth, timeout=httpx.Timeout(config.timeout_s)
    ) as client:
        await _query(client, f"CREATE DATABASE {database}")
        document = await _query(client, f"SHOW RETENTION POLICIES ON {database}")
        existing = {
            row[0]
            for result in document.get("results", [])
            for series in result.get("series", [])
            for row in series.get("values", [])
        }
        for policy, duration, default in (
            (RAW_POLICY, config.raw_retention, True),
            (DOWNSAMPLED_POLICY, config.downsampled_retention, False),
        ):
            duration_seconds(duration)
            verb = "ALTER" if policy in existing else "CREATE"
            await _query(
                client,
                f"{verb} RETENTION POLICY {_ident(policy)} ON {database} DURATION {duration} "
                f"REPLICATION 1{' DEFAULT' if default else ''}",
            )
        document = await _query(client, "SHOW CONTINUOUS QUERIES")
        present: dict[str, str] = {}
        for result in document.get("results", []):
            for series in result.get("series", []):
                if series.get("name") != config.database:
                    continue
                for name, text in series.get("values", []):
                    present[name] = text
        wanted = continuous_queries(config)
        created: list[str] = []
        replaced: list[str] = []
        kept: list[str] = []
        for name, statement in wanted.items():
            if name in present:
                if _same_query(present[name], statement):
                    kept.append(name)
                    continue
                await _query(client, f"DROP CONTINUOUS QUERY {_ident(name)} ON {database}")
                replaced.append(name)
            else:
                created.append(name)
            await _query(client, statement)
    result = BootstrapResult(config.database, tuple(created), tuple(replaced), tuple(kept))
    log.info(
        "influx_bootstrapped",
        extra={
            "database": config.database,
            "queries_created": len(created),
            "queries_replaced": len(replaced),
            "queries_kept": len(kept),
        },
    )
    return result


def _same_query(stored: str, wanted: str) -> bool:
    """Whether InfluxDB's stored text of a CQ says what we want (it re-quotes and re-spaces)."""

    def norm(text: str) -> str:
        return re.sub(r"[\s\"]+", "", text).lower()

    return norm(stored) == norm(wanted)


def downsampling_tasks_flux(bucket: str, org: str, downsampled_bucket: str) -> dict[str, str]:
    """Name → Flux task: the 2.x equivalent of the 1.x continuous queries."""
    tasks: dict[str, str] = {}
    for measurement, fields in NUMERIC_MEASUREMENTS.items():
        if not fields:
            continue
        field_set = ", ".join(f'"{name}"' for name in fields)
        for suffix, interval in _ROLLUPS:
            name = f"{measurement}_{suffix}"
            tasks[name] = (
                f'option task = {{name: "{name}", every: {interval}, offset: 10s}}\n\n'
                f'from(bucket: "{bucket}")\n'
                f"  |> range(start: -task.every * 2)\n"
                f'  |> filter(fn: (r) => r._measurement == "{measurement}")\n'
                f"  |> filter(fn: (r) => contains(value: r._field, set: [{field_set}]))\n"
                f"  |> aggregateWindow(every: {interval}, fn: mean, createEmpty: false)\n"
                f'  |> set(key: "_measurement", value: "{name}")\n'
                f'  |> to(bucket: "{downsampled_bucket}", org: "{org}")\n'
            )
    return tasks


async def bootstrap_bucket(
    config: InfluxV2Config, *, raw_retention: str, downsampled_retention: str
) -> None:
    """Create the bucket (and ``{bucket}_downsampled`` with its tasks) on InfluxDB 2.x if absent."""
    await asyncio.to_thread(_bootstrap_bucket_sync, config, raw_retention, downsampled_retention)


def _bootstrap_bucket_sync(
    config: InfluxV2Config, raw_retention: str, downsampled_retention: str
) -> None:
    downsampled = f"{config.bucket}_downsampled"
    with InfluxDBClient(
        url=config.url,
        token=config.token or "",
        org=config.org,
        timeout=int(config.timeout_s * 1000),
    ) as client:
        buckets = client.buckets_api()
        for name, retention in (
            (config.bucket, raw_retention),
            (downsampled, downsampled_retention),
        ):
            statement = f"find or create bucket {name}"
            try:
                if buckets.find_bucket_by_name(name) is None:
                    rules = BucketRetentionRules(  # type: ignore[no-untyped-call]
                        type="expire", every_seconds=duration_seconds(retention)
                    )
                    buckets.create_bucket(bucket_name=name, retention_rules=rules, org=config.org)
            except Exception as exc:  # the client raises many types; name the step and go
                raise BootstrapFailed(statement, _client_error(exc)) from exc
        tasks_api = client.tasks_api()
        for name, flux in downsampling_tasks_flux(config.bucket, config.org, downsampled).items():
            try:
                if not tasks_api.find_tasks(name=name, org=config.org):
                    request = TaskCreateRequest(  # type: ignore[no-untyped-call]
                        flux=flux, org=config.org, status="active"
                    )
                    tasks_api.create_task(task_create_request=request)
            except Exception as exc:
                raise BootstrapFailed(f"create task {name}", _client_error(exc)) from exc


def _client_error(exc: Exception) -> str:
    """influxdb-client's error as one short line: status and the server's own words."""
    if isinstance(exc, ApiException):
        body = exc.body.decode("utf-8", "replace") if isinstance(exc.body, bytes) else exc.body
        return f"HTTP {exc.status}: {str(body or exc.reason)[:300]}"
    return f"{type(exc).__name__}: {str(exc)[:300]}"
