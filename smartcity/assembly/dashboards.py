"""Settings and the other rooms' names → what the dashboards room needs.

``dashboards`` may import only ``devices``; the names of the platform's own measurements, the
retention policies and the rollups are read here from the rooms that own them.
"""

from __future__ import annotations

from pathlib import Path

import dashboards
from devices import Registry, load_registry
from gateway import DEADLETTER_MEASUREMENT, STATS_MEASUREMENT
from ingest import DOWNSAMPLED_POLICY, RAW_POLICY, ROLLUP_INTERVALS
from smartcity.settings import Settings

__all__ = [
    "DEFAULT_ALERTMANAGER_URL",
    "alertmanager_urls",
    "build_dashboards",
    "data_names",
    "grafana_folder",
    "grafana_sources",
    "write_grafana_folder",
]

# Alertmanager's own default port, where the local stack's Alertmanager listens when there is one
DEFAULT_ALERTMANAGER_URL = "http://127.0.0.1:9093"


def data_names(settings: Settings) -> dashboards.DataNames:
    """The names the dashboards read, from the rooms that own them."""
    return dashboards.DataNames(
        raw_policy=RAW_POLICY,
        downsampled_policy=DOWNSAMPLED_POLICY,
        rollups=ROLLUP_INTERVALS,
        presence_lookback=settings.influx_raw_retention,
        stats_measurement=STATS_MEASUREMENT,
        deadletter_measurement=DEADLETTER_MEASUREMENT,
        alert_measurement=settings.alerts_influx_measurement,
        incident_measurement=settings.incidents_influx_measurement,
    )


def alertmanager_urls(settings: Settings) -> tuple[str, ...]:
    """The Alertmanager(s) Grafana should read: ``SMARTCITY_ALERTMANAGER_URL`` (one URL or a
    comma-separated cluster) when the platform has that setting and it is set, else the local
    default."""
    return settings.alertmanager_urls or (DEFAULT_ALERTMANAGER_URL,)


def grafana_sources(
    settings: Settings,
    *,
    influx_url: str,
    alertmanager: tuple[str, ...] | None = None,
    for_file: bool,
) -> dashboards.GrafanaSources:
    """Where Grafana reaches the servers. A file names the secret's variable; the API gets
    the value."""
    secret: str | None
    if settings.influx_api == "v2":
        if for_file:
            secret = "${SMARTCITY_INFLUX_TOKEN}"
        else:
            secret = settings.influx_token.get_secret_value() if settings.influx_token else None
    elif settings.influx_username is None:
        secret = None
    elif for_file:
        secret = "${SMARTCITY_INFLUX_PASSWORD}"
    else:
        secret = settings.influx_password.get_secret_value() if settings.influx_password else None
    return dashboards.GrafanaSources(
        influx_url=influx_url,
        influx_api=settings.influx_api,
        database=settings.influx_database,
        username=settings.influx_username,
        influx_secret=secret,
        alertmanager_urls=alertmanager or alertmanager_urls(settings),
    )


def build_dashboards(
    settings: Settings, registry: Registry | None = None
) -> tuple[dashboards.BuiltDashboard, ...]:
    """Every dashboard, for this platform's fleet."""
    return dashboards.build_all(
        data_names(settings), registry or load_registry(settings.registry_path)
    )


def grafana_folder(settings: Settings) -> Path:
    """Where ``smartcity up`` writes Grafana's provisioning: ``{data_dir}/grafana``."""
    return Path(settings.data_dir) / "grafana"


def write_grafana_folder(
    settings: Settings,
    registry: Registry,
    *,
    influx_url: str,
    alertmanager: tuple[str, ...] | None = None,
) -> dashboards.WrittenFolder:
    """``smartcity up``'s Grafana files, pointing at the servers it runs."""
    return dashboards.write_folder(
        grafana_folder(settings),
        build_dashboards(settings, registry),
        grafana_sources(
            settings, influx_url=influx_url, alertmanager=alertmanager or None, for_file=True
        ),
    )
