"""Grafana's provisioning: the datasources (InfluxDB, Alertmanager, the registry frame) and a
dashboard provider, as the files Grafana reads at start and as the bodies its HTTP API takes.

Secrets never land in a file: a provisioning file names an environment variable
(``${SMARTCITY_INFLUX_TOKEN}``), which Grafana expands when it reads the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from dashboards.influxql import INFLUXDB_TYPE
from dashboards.names import (
    ALERTMANAGER_TYPE,
    ALERTMANAGER_UID,
    INFLUXDB_UID,
    REGISTRY_UID,
    TESTDATA_TYPE,
)

__all__ = [
    "FOLDER_TITLE",
    "FOLDER_UID",
    "GrafanaSources",
    "dashboard_provider",
    "datasources",
]

FOLDER_UID = "smartcity"
FOLDER_TITLE = "Smart city"


@dataclass(frozen=True, slots=True)
class GrafanaSources:
    """Where Grafana finds the platform's servers, as Grafana (not we) must reach them.

    ``influx_secret`` is the token (v2) or password (v1): the value itself for the HTTP API,
    or a ``${VARIABLE}`` reference for a provisioning file.
    """

    influx_url: str
    influx_api: Literal["v1", "v2"]
    database: str
    username: str | None
    influx_secret: str | None
    alertmanager_urls: tuple[str, ...]


def datasources(sources: GrafanaSources) -> list[dict[str, Any]]:
    """The datasources, as Grafana's API and provisioning files both describe them."""
    influx: dict[str, Any] = {
        "name": "InfluxDB (smartcity)",
        "uid": INFLUXDB_UID,
        "type": INFLUXDB_TYPE,
        "access": "proxy",
        "url": sources.influx_url,
        "isDefault": True,
        # InfluxQL everywhere: 1.x natively, 2.x through its DBRP mapping, 3.x natively
        "jsonData": {"version": "InfluxQL", "dbName": sources.database, "httpMode": "POST"},
    }
    if sources.influx_api == "v2":
        influx["jsonData"]["httpHeaderName1"] = "Authorization"
        if sources.influx_secret is not None:
            influx["secureJsonData"] = {"httpHeaderValue1": f"Token {sources.influx_secret}"}
    elif sources.username is not None:
        influx["user"] = sources.username
        if sources.influx_secret is not None:
            influx["secureJsonData"] = {"password": sources.influx_secret}
    found = [influx]
    for index, url in enumerate(sources.alertmanager_urls):
        suffix = "" if index == 0 else f"-{index + 1}"
        found.append(
            {
                "name": f"Alertmanager (smartcity){'' if index == 0 else f' {index + 1}'}",
                "uid": f"{ALERTMANAGER_UID}{suffix}",
                "type": ALERTMANAGER_TYPE,
                "access": "proxy",
                "url": url,
                "jsonData": {"implementation": "prometheus", "handleGrafanaManagedAlerts": False},
            }
        )
    found.append(
        {
            "name": "Registry (smartcity)",
            "uid": REGISTRY_UID,
            "type": TESTDATA_TYPE,
            "access": "proxy",
        }
    )
    return found


def dashboard_provider(dashboards_path: str) -> dict[str, Any]:
    """The provider that loads every JSON file in ``dashboards_path`` into one folder."""
    return {
        "apiVersion": 1,
        "providers": [
            {
                "name": "smartcity",
                "orgId": 1,
                "folder": FOLDER_TITLE,
                "folderUid": FOLDER_UID,
                "type": "file",
                "disableDeletion": False,
                "allowUiUpdates": False,
                "updateIntervalSeconds": 30,
                "options": {"path": dashboards_path, "foldersFromFilesStructure": False},
            }
        ],
    }
