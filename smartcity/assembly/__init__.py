"""Settings → every room's config and objects: the one place where settings meet the rooms.

The CLI parses arguments and calls these; rooms take frozen configs with no defaults of their
own (the defaults live in ``smartcity/settings.py``)::

    async with durable_store(settings, influx_url) as store, alert_engine(
        settings, registry, mqtt_url, store
    ) as engine:
        gateway = Gateway(gateway_config(settings, mqtt_url), registry, store, sink=engine)

Split by the side it assembles: ``gateway`` (gateway, writers, spool, store, database),
``engine`` (rule engine and its listeners), ``incidents`` (emergency command), ``fleet``
(simulators), ``dashboards`` (Grafana), ``api`` (the operators' API: token store, MQTT link,
command desk, app and server), ``page`` (the operators' page: the charts' series from the
dashboards, live events), ``relay`` (Alertmanager's webhook and the local Alertmanager's token
for it), ``notifications`` (the demo's receivers).
"""

from smartcity.assembly.api import ApiService, GatewayPresence, build_api, token_store
from smartcity.assembly.dashboards import (
    alertmanager_urls,
    build_dashboards,
    data_names,
    grafana_folder,
    grafana_sources,
    write_grafana_folder,
)
from smartcity.assembly.engine import (
    InfluxAlertRecorder,
    NotifierCollector,
    alert_engine,
    alert_listeners,
    alert_operations,
    alert_point,
    alert_publisher,
    alertmanager_config,
    alerts_config,
)
from smartcity.assembly.fleet import fleet_registry, load_config, run_config, scenario_by_name
from smartcity.assembly.gateway import (
    bootstrap_config,
    durable_store,
    gateway_config,
    influx_writer,
    owned_devices,
    spool_config,
    store_config,
)
from smartcity.assembly.incidents import (
    IncidentHost,
    InfluxIncidentRecorder,
    alert_feed,
    incident_host,
    incident_point,
    incident_service,
)
from smartcity.assembly.notifications import (
    demo_receivers,
    notifications,
    with_demo_receivers,
)
from smartcity.assembly.relay import (
    AlertmanagerHook,
    alertmanager_hook,
    build_relay,
    ensure_alertmanager_token,
)

__all__ = [
    "AlertmanagerHook",
    "ApiService",
    "GatewayPresence",
    "IncidentHost",
    "InfluxAlertRecorder",
    "InfluxIncidentRecorder",
    "NotifierCollector",
    "alert_engine",
    "alert_feed",
    "alert_listeners",
    "alert_operations",
    "alert_point",
    "alert_publisher",
    "alertmanager_config",
    "alertmanager_hook",
    "alertmanager_urls",
    "alerts_config",
    "bootstrap_config",
    "build_api",
    "build_dashboards",
    "build_relay",
    "data_names",
    "demo_receivers",
    "durable_store",
    "ensure_alertmanager_token",
    "fleet_registry",
    "gateway_config",
    "grafana_folder",
    "grafana_sources",
    "incident_host",
    "incident_point",
    "incident_service",
    "influx_writer",
    "load_config",
    "notifications",
    "owned_devices",
    "run_config",
    "scenario_by_name",
    "spool_config",
    "store_config",
    "token_store",
    "with_demo_receivers",
    "write_grafana_folder",
]
