"""Settings → each room's config: the one place where platform settings meet the rooms.

Rooms take frozen config dataclasses with no defaults; the defaults live in ``settings.py``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from devices import Registry, ServiceRole, device_subscriptions, parse_broker_url
from gateway import GatewayConfig, owner_of
from ingest import (
    BootstrapConfig,
    DurableStore,
    InfluxV1Config,
    InfluxV1Writer,
    InfluxV2Config,
    InfluxV2Writer,
    Spool,
    SpoolConfig,
    StoreConfig,
    bootstrap_bucket,
    bootstrap_database,
)
from smartcity.security import mqtt_login, mqtt_tls
from smartcity.settings import Settings

__all__ = [
    "bootstrap_config",
    "durable_store",
    "gateway_config",
    "influx_writer",
    "owned_devices",
    "spool_config",
    "store_config",
]


def gateway_config(
    settings: Settings,
    mqtt_url: str,
    *,
    worker_index: int | None = None,
    worker_count: int | None = None,
) -> GatewayConfig:
    """One gateway worker's config: by default the worker the settings name
    (``SMARTCITY_GATEWAY_WORKER_INDEX`` of ``SMARTCITY_GATEWAY_WORKERS``). It logs in as
    ``platform.gateway`` unless the URL names a user, and checks a TLS broker's certificate."""
    endpoint = parse_broker_url(mqtt_url)
    login = mqtt_login(settings, mqtt_url, ServiceRole.GATEWAY)
    subscriptions = (
        (settings.gateway_subscription,)
        if settings.gateway_subscription
        else tuple(device_subscriptions())
    )
    return GatewayConfig(
        mqtt_host=endpoint.host,
        mqtt_port=endpoint.port,
        mqtt_username=login.username if login else None,
        mqtt_password=login.password if login else None,
        client_id=settings.gateway_client_id,
        subscriptions=subscriptions,
        worker_index=settings.gateway_worker_index if worker_index is None else worker_index,
        worker_count=worker_count or settings.gateway_workers,
        receive_max=settings.gateway_receive_max,
        session_expiry_s=settings.gateway_session_expiry_s,
        keepalive_s=settings.gateway_keepalive_s,
        payload_max_bytes=settings.payload_max_bytes,
        unknown_devices=settings.gateway_unknown_devices,
        ts_future_max_s=settings.gateway_ts_future_max_s,
        ts_past_max_s=settings.gateway_ts_past_max_s,
        batch_max=settings.gateway_batch_max,
        batch_age_s=settings.gateway_batch_age_s,
        batches_in_flight=settings.gateway_batches_in_flight,
        queue_max=settings.gateway_queue_max,
        deadletter_payload_max_bytes=settings.deadletter_payload_max_bytes,
        plate_hash_key=settings.plate_hash_key.get_secret_value().encode("utf-8"),
        stats_interval_s=settings.gateway_stats_interval_s,
        metrics_host=settings.metrics_host,
        metrics_port=settings.metrics_port,
        shutdown_timeout_s=settings.shutdown_timeout_s,
        mqtt_tls=mqtt_tls(settings, mqtt_url),
        publisher_property=settings.gateway_publisher_property,
    )


def owned_devices(registry: Registry, config: GatewayConfig) -> Registry:
    """The devices one gateway worker owns, for its rule engine: each worker's engine judges
    the devices whose readings it receives, so no device is judged twice or judged silent."""
    if config.worker_count == 1:
        return registry
    return Registry(
        {
            device_id: record
            for device_id, record in registry.items()
            if owner_of(device_id, config.worker_count) == config.worker_index
        },
        city=registry.city,
    )


def influx_v2_config(settings: Settings, url: str) -> InfluxV2Config:
    """Where and how the 2.x API is written to."""
    return InfluxV2Config(
        url=url,
        token=settings.influx_token.get_secret_value() if settings.influx_token else None,
        org=settings.influx_org,
        bucket=settings.influx_bucket,
        timeout_s=settings.influx_timeout_s,
        gzip=settings.ingest_gzip,
        max_in_flight=settings.ingest_max_in_flight,
    )


def influx_writer(settings: Settings, url: str) -> InfluxV1Writer | InfluxV2Writer:
    """The writer for the configured API: 1.x ``/write`` or 2.x ``/api/v2/write``."""
    if settings.influx_api == "v2":
        return InfluxV2Writer(influx_v2_config(settings, url))
    return InfluxV1Writer(
        InfluxV1Config(
            url=url,
            database=settings.influx_database,
            retention_policy=settings.influx_retention_policy,
            username=settings.influx_username,
            password=(
                settings.influx_password.get_secret_value() if settings.influx_password else None
            ),
            timeout_s=settings.influx_timeout_s,
            gzip=settings.ingest_gzip,
            max_in_flight=settings.ingest_max_in_flight,
        )
    )


def spool_config(settings: Settings) -> SpoolConfig:
    """The disk spool."""
    return SpoolConfig(
        directory=settings.spool_dir,
        max_bytes=settings.spool_max_bytes,
        segment_max_bytes=settings.spool_segment_max_bytes,
        fsync=settings.spool_fsync,
    )


def store_config(settings: Settings) -> StoreConfig:
    """How the durable store writes and replays."""
    return StoreConfig(
        max_in_flight=settings.ingest_max_in_flight,
        retry_initial_s=settings.ingest_retry_initial_s,
        retry_max_s=settings.ingest_retry_max_s,
    )


def bootstrap_config(settings: Settings, url: str) -> BootstrapConfig:
    """Database, retention policies and downsampling on InfluxDB 1.x."""
    return BootstrapConfig(
        url=url,
        database=settings.influx_database,
        username=settings.influx_username,
        password=settings.influx_password.get_secret_value() if settings.influx_password else None,
        timeout_s=settings.influx_timeout_s,
        raw_retention=settings.influx_raw_retention,
        downsampled_retention=settings.influx_downsampled_retention,
        resample_every=settings.influx_downsample_every,
        resample_for=settings.influx_downsample_for,
    )


@contextlib.asynccontextmanager
async def durable_store(settings: Settings, influx_url: str) -> AsyncIterator[DurableStore]:
    """The writer for ``influx_url`` behind the disk spool, entered and left; on InfluxDB 1.x
    the database is prepared first, on 2.x the rollup bucket and its Flux tasks (idempotent)."""
    if settings.influx_api == "v1":
        await bootstrap_database(bootstrap_config(settings, influx_url))
    else:
        await bootstrap_bucket(
            influx_v2_config(settings, influx_url),
            raw_retention=settings.influx_raw_retention,
            downsampled_retention=settings.influx_downsampled_retention,
        )
    writer = influx_writer(settings, influx_url)
    async with (
        writer,
        DurableStore(writer, Spool(spool_config(settings)), store_config(settings)) as store,
    ):
        yield store
