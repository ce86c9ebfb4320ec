"""Grafana dashboards as code: built with grafana-foundation-sdk, InfluxQL queries, written as
provisioning files or pushed over Grafana's HTTP API.

```python
built = build_all(names, registry)              # names: DataNames from the front door
write_folder(Path("grafana"), built, sources)   # dashboards/*.json + provisioning/*.yaml
push("http://127.0.0.1:3000", token, built, sources, timeout_s=10)
```
"""

from dashboards.build import WrittenFolder, build_all, dashboards_markdown, write_folder
from dashboards.errors import DashboardsError, PushFailed, UnknownName
from dashboards.influxql import (
    INFLUXDB_TYPE,
    InfluxAnnotationTarget,
    InfluxQuery,
    InfluxQueryBuilder,
    register_influxdb_variant,
)
from dashboards.kit import BuiltDashboard, PanelSummary, Query, VariableSummary
from dashboards.names import DataNames
from dashboards.overview import registry_csv
from dashboards.provisioning import FOLDER_UID, GrafanaSources, dashboard_provider, datasources
from dashboards.push import PushResult, push
from dashboards.water import class_thresholds

__all__ = [
    "FOLDER_UID",
    "INFLUXDB_TYPE",
    "BuiltDashboard",
    "DashboardsError",
    "DataNames",
    "GrafanaSources",
    "InfluxAnnotationTarget",
    "InfluxQuery",
    "InfluxQueryBuilder",
    "PanelSummary",
    "PushFailed",
    "PushResult",
    "Query",
    "UnknownName",
    "VariableSummary",
    "WrittenFolder",
    "build_all",
    "class_thresholds",
    "dashboard_provider",
    "dashboards_markdown",
    "datasources",
    "push",
    "register_influxdb_variant",
    "registry_csv",
    "write_folder",
]
