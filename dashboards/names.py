"""What the dashboards read and from where: names owned by other rooms, handed in.

``dashboards`` may import only ``devices``; device measurements, fields and tags come from
there. The platform's own measurements (gateway figures, dead letters, alert changes, incident
timelines), the retention policies and the rollups belong to ``gateway``, ``ingest``, ``alerts``
and ``command``; the front door reads them from those rooms and passes them in as
``DataNames``, so no name is spelled twice.
"""

from __future__ import annotations

from dataclasses import dataclass

from grafana_foundation_sdk.models import dashboard as model

from dashboards.influxql import INFLUXDB_TYPE

__all__ = [
    "ALERTMANAGER_TYPE",
    "ALERTMANAGER_UID",
    "INFLUXDB_UID",
    "REGISTRY_UID",
    "TESTDATA_TYPE",
    "DataNames",
    "alertmanager_ref",
    "influx_ref",
    "registry_ref",
]

INFLUXDB_UID = "smartcity-influxdb"
ALERTMANAGER_UID = "smartcity-alertmanager"
ALERTMANAGER_TYPE = "alertmanager"
# The registry's coordinates reach the map as a static CSV frame of Grafana's built-in TestData
# datasource: InfluxDB holds no coordinates, and this needs no plugin or file server.
REGISTRY_UID = "smartcity-registry"
TESTDATA_TYPE = "grafana-testdata-datasource"


@dataclass(frozen=True, slots=True)
class DataNames:
    """Names other rooms own, as the front door reads them from those rooms."""

    raw_policy: str  # ingest: default retention policy of every write
    downsampled_policy: str  # ingest: where the rollups are written
    rollups: tuple[str, ...]  # ingest: rollup suffixes, e.g. ("1m", "1h") → streetlight_1m
    presence_lookback: str  # how far back "last known state" looks (the raw retention)
    stats_measurement: str  # gateway: gateway_stats
    deadletter_measurement: str  # gateway: deadletter
    alert_measurement: str  # alerts wiring: one point per alert change
    incident_measurement: str  # command wiring: one point per incident timeline entry

    def rollup(self, measurement: str, suffix: str) -> str:
        """``"downsampled"."streetlight_1h"``: the FROM of a rollup."""
        if suffix not in self.rollups:
            raise ValueError(f"no rollup {suffix!r}; the rollups are {', '.join(self.rollups)}")
        return f'"{self.downsampled_policy}"."{measurement}_{suffix}"'


def influx_ref() -> model.DataSourceRef:
    """The InfluxDB datasource every panel reads."""
    return model.DataSourceRef(type_val=INFLUXDB_TYPE, uid=INFLUXDB_UID)


def alertmanager_ref() -> model.DataSourceRef:
    """The platform's Alertmanager, for Grafana's alerting pages."""
    return model.DataSourceRef(type_val=ALERTMANAGER_TYPE, uid=ALERTMANAGER_UID)


def registry_ref() -> model.DataSourceRef:
    """The static registry frame (TestData) the map joins with presence."""
    return model.DataSourceRef(type_val=TESTDATA_TYPE, uid=REGISTRY_UID)
