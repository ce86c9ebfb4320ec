"""The whole platform in one process tree: local stack, gateway, rule engine, simulated city.

``smartcity up`` runs :func:`run_platform`. The local servers are children of this process
(started only when ``SMARTCITY_MQTT_URL`` / ``SMARTCITY_INFLUX_URL`` are unset); everything
else (gateway, the incident service's ticker, the operators' API, the demo, the console) is a
task in one ``TaskGroup``; the incident service listens to the rule engine. Stopping (Ctrl-C,
SIGTERM) cancels the group: the simulators say goodbye, the API finishes the requests in
progress, the gateway flushes and acks, the engine saves its state, and only then are the
servers stopped.

Long because: it starts and stops every part of the process tree in order (servers, gateway,
engine, incidents, the API, demo, console); how each part is built lives in ``smartcity.assembly``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import math
import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import alerts
import command
import simulators
from devices import Registry, load_registry, shown_url
from gateway import Gateway
from ingest import DurableStore
from smartcity import console as live
from smartcity.assembly import (
    NotifierCollector,
    alert_engine,
    alertmanager_config,
    alertmanager_hook,
    build_api,
    durable_store,
    fleet_registry,
    gateway_config,
    incident_service,
    owned_devices,
    run_config,
    scenario_by_name,
    with_demo_receivers,
    write_grafana_folder,
)
from smartcity.console_feed import ConsoleFeed
from smartcity.local_alertmanager import LocalAlertmanager
from smartcity.security import broker_security
from smartcity.settings import Settings
from smartcity.stack import LocalInfluxDB, LocalMosquitto, free_port

__all__ = [
    "Endpoints",
    "PlatformOptions",
    "endpoints_file",
    "local_endpoints",
    "replay_start",
    "run_platform",
    "state_paths",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Endpoints:
    """Where the broker and the database are, and which of them we started."""

    mqtt_url: str
    influx_url: str
    alertmanager_urls: tuple[str, ...] = ()
    started: tuple[str, ...] = ()
    pids: dict[str, int] = field(default_factory=dict)
    grafana: str | None = None  # the Grafana provisioning folder written for them
    receivers: dict[str, str] = field(default_factory=dict)  # the demo's: webhook, smtp
    api_url: str | None = None  # the operators' API, once it listens


@dataclass(frozen=True, slots=True)
class PlatformOptions:
    """What ``smartcity up`` runs besides the gateway."""

    engine: bool = True
    demo: bool = False
    scenario: str | None = None
    speed: float | None = None
    console: bool = True
    # smartcity gateway: the worker SMARTCITY_GATEWAY_WORKER_INDEX of SMARTCITY_GATEWAY_WORKERS;
    # smartcity up: one gateway for the whole fleet, in this process
    partitioned: bool = False
    api: bool = True  # the operators' API, on SMARTCITY_API_PORT (unset: off)


def endpoints_file(settings: Settings) -> Path:
    """Where a running platform writes its endpoints, for ``smartcity status``."""
    return state_paths(settings)["endpoints"]


def state_paths(settings: Settings) -> dict[str, Path]:
    """Everything a platform writes, by what it is: under the data folder unless a setting
    places it elsewhere, so two platforms with two data folders share nothing."""
    data = Path(settings.data_dir)
    return {
        "mosquitto": data / "mosquitto",
        "influxdb": data / "influxdb",
        "alertmanager": data / "alertmanager",
        "endpoints": data / "endpoints.json",
        "spool": settings.spool_dir,
        "alerts_state": settings.alerts_state_path,
        "api_tokens": settings.api_tokens_file,
        "api_commands": settings.api_commands_path,
        "incidents_state": settings.incidents_state_path,
        "relay_state": settings.relay_state_path,
        "notifications": settings.demo_notifications_path,
        "log": settings.log_file,
        "security": settings.security_dir,
        "credentials": settings.credentials_path,
    }


@contextlib.contextmanager
def local_endpoints(
    settings: Settings,
    registry: Registry,
    *,
    alertmanager: bool = True,
    relay: bool = False,
    demo_webhook: str | None = None,
) -> Iterator[Endpoints]:
    """Use the configured servers, or start local ones for whichever is not configured (an
    Alertmanager only when asked: the rule engine runs; with ``relay``, its webhooks go to the
    API's ``/hooks/alertmanager`` with a token of its own).

    The local Mosquitto is secured unless ``SMARTCITY_INSECURE``: TLS on loopback with the
    local CA's certificates, passwords for the registry's devices and the platform's users,
    and ACLs (made or brought up to date for ``registry`` before the broker starts).
    """
    with contextlib.ExitStack() as stack:
        started: list[str] = []
        pids: dict[str, int] = {}
        mqtt_url = settings.mqtt_url
        if mqtt_url is None:
            secured = not settings.insecure
            broker = LocalMosquitto(
                state_paths(settings)["mosquitto"],
                port=settings.local_mqtts_port if secured else settings.local_mqtt_port,
                security=broker_security(settings, registry) if secured else None,
            )
            stack.enter_context(broker)
            mqtt_url = broker.url
            started.append("mosquitto")
            pids["mosquitto"] = broker.pid or 0
        influx_url = settings.influx_url
        if influx_url is None:
            database = LocalInfluxDB(
                state_paths(settings)["influxdb"], port=settings.local_influx_port
            )
            stack.enter_context(database)
            influx_url = database.url
            started.append("influxdb")
            pids["influxdb"] = database.pid or 0
        alertmanager_urls = settings.alertmanager_urls
        if not alertmanager_urls and alertmanager:
            # its webhooks reach the API's relay route with a token of its own
            hook = alertmanager_hook(settings) if relay else None
            local = LocalAlertmanager(
                state_paths(settings)["alertmanager"],
                port=settings.local_alertmanager_port,
                config_source=settings.alertmanager_config_path,
                smtp_smarthost=settings.alertmanager_smtp_smarthost,
                webhook_url=hook.url if hook else settings.alertmanager_webhook_url or demo_webhook,
                webhook_credentials_file=hook.credentials_file if hook else None,
                webhook_ca_file=hook.ca_file if hook else None,
                # with the relay, the demo's recording receiver goes beside it
                also_webhook_url=demo_webhook if hook else None,
            )
            stack.enter_context(local)
            alertmanager_urls = (local.url,)
            started.append("alertmanager")
            pids["alertmanager"] = local.pid or 0
        yield Endpoints(mqtt_url, influx_url, alertmanager_urls, tuple(started), pids)


async def run_platform(settings: Settings, options: PlatformOptions) -> None:
    """Run until cancelled (or a signal); stop every part cleanly, servers last."""
    registry = _registry(settings, demo=options.demo)
    if options.api and settings.api_port == 0:
        # a free port now, so the local Alertmanager's webhooks know where the API will listen
        settings = settings.model_copy(update={"api_port": free_port()})
    with contextlib.ExitStack() as stack:
        receivers: dict[str, str] = {}
        if options.demo:
            # a played day runs on the devices' clocks: `for: 10m` means simulated minutes
            settings = settings.model_copy(update={"alerts_event_time": True})
            settings, receivers = with_demo_receivers(settings, stack)
        local = local_endpoints(
            settings,
            registry,
            alertmanager=options.engine,
            relay=options.api,
            demo_webhook=receivers.get("webhook") or None,
        )
        with local as endpoints:
            endpoints = dataclasses.replace(endpoints, receivers=receivers)
            await _run_with(settings, options, registry, endpoints)


async def _run_with(
    settings: Settings, options: PlatformOptions, registry: Registry, endpoints: Endpoints
) -> None:
    # Grafana's provisioning for this platform's servers, so a local Grafana can be
    # pointed at it (GF_PATHS_PROVISIONING); the console and `status` say where
    grafana = write_grafana_folder(
        settings,
        registry,
        influx_url=endpoints.influx_url,
        alertmanager=endpoints.alertmanager_urls,
    )
    log.info("grafana_provisioning_written", extra={"path": str(grafana.provisioning)})
    endpoints = dataclasses.replace(endpoints, grafana=str(grafana.provisioning))
    note = endpoints_file(settings)
    write_note(settings, endpoints, metrics_port=None)
    try:
        await _serve(settings, options, registry, endpoints)
    finally:
        note.unlink(missing_ok=True)


def write_note(settings: Settings, endpoints: Endpoints, *, metrics_port: int | None) -> None:
    """Tell ``smartcity status`` where this platform is (rewritten once the gateway listens)."""
    note = endpoints_file(settings)
    note.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "pid": os.getpid(),
        "mqtt_url": shown_url(endpoints.mqtt_url),
        "influx_url": endpoints.influx_url,
        "alertmanager_urls": list(endpoints.alertmanager_urls),
        "metrics_port": metrics_port,
        "api_url": endpoints.api_url,
        "started": list(endpoints.started),
        "server_pids": endpoints.pids,
        "grafana_provisioning": endpoints.grafana,
        "receivers": endpoints.receivers,
    }
    temporary = note.with_suffix(".tmp")
    temporary.write_text(json.dumps(document), encoding="utf-8")
    temporary.replace(note)


def _registry(settings: Settings, *, demo: bool) -> Registry:
    """The fleet the gateway accepts: the registry file; with ``--demo``, the demo's city."""
    if demo:
        return fleet_registry(settings.demo_fleet_path)
    return load_registry(settings.registry_path)


async def _serve(
    settings: Settings, options: PlatformOptions, registry: Registry, endpoints: Endpoints
) -> None:
    fleet_stats = simulators.SimulationStats()
    config = (
        gateway_config(settings, endpoints.mqtt_url)
        if options.partitioned
        else gateway_config(settings, endpoints.mqtt_url, worker_index=0, worker_count=1)
    )
    async with (
        durable_store(settings, endpoints.influx_url) as store,
        _alert_engine(settings, options, owned_devices(registry, config), endpoints, store) as (
            engine,
            notifier,
            incidents,
        ),
    ):
        gateway = Gateway(config, registry, store, sink=engine)
        if notifier is not None:  # sent, errored, dropped beside the gateway's figures
            gateway.metrics.registry.register(NotifierCollector(notifier))
        async with asyncio.TaskGroup() as group:
            group.create_task(gateway.run(), name="gateway")
            await gateway.ready.wait()
            if settings.metrics_port is not None:
                async with asyncio.timeout(10):
                    # the metrics listener binds just after the gateway subscribes
                    while gateway.metrics_port is None:  # noqa: ASYNC110
                        await asyncio.sleep(0.01)
            if options.api and settings.api_port is not None:
                api = build_api(
                    settings,
                    registry,
                    mqtt_url=endpoints.mqtt_url,
                    influx_url=endpoints.influx_url,
                    alertmanager_urls=endpoints.alertmanager_urls,
                    gateway=gateway,
                    incidents=incidents,
                )
                endpoints = dataclasses.replace(endpoints, api_url=api.server.url)
                group.create_task(api.run(), name="api")
            write_note(settings, endpoints, metrics_port=gateway.metrics_port)
            if incidents is not None:
                group.create_task(incidents.run(), name="incidents")
            if options.demo:
                group.create_task(
                    _run_demo(settings, options, registry, endpoints, fleet_stats), name="demo"
                )
            if options.console:
                where = {
                    "broker": shown_url(endpoints.mqtt_url),
                    "influxdb": endpoints.influx_url,
                    "alertmanager": ", ".join(endpoints.alertmanager_urls) or "off",
                    "metrics": f"http://{config.metrics_host}:{gateway.metrics_port}/metrics"
                    if gateway.metrics_port
                    else "off",
                    "api": f"{endpoints.api_url}/docs" if endpoints.api_url else "off",
                    "grafana": f"GF_PATHS_PROVISIONING={endpoints.grafana}"
                    if endpoints.grafana
                    else "off",
                }
                if endpoints.receivers:
                    where["receivers"] = (
                        f"webhook {endpoints.receivers['webhook'].split('/')[2]}"
                        f"  smtp {endpoints.receivers['smtp']}"
                    )
                source = ConsoleFeed(
                    settings,
                    registry,
                    gateway,
                    store,
                    engine,
                    fleet_stats,
                    where,
                    demo=options.demo,
                    speed=options.speed or settings.demo_speed,
                    page=f"{endpoints.api_url}/  token: smartcity api token create"
                    " --scope operate --name you"
                    if endpoints.api_url
                    else "",
                )
                group.create_task(live.run_console(source.snapshot), name="console")


@contextlib.asynccontextmanager
async def _alert_engine(
    settings: Settings,
    options: PlatformOptions,
    registry: Registry,
    endpoints: Endpoints,
    store: DurableStore,
) -> AsyncIterator[
    tuple[
        alerts.AlertEngine | None,
        alerts.AlertmanagerNotifier | None,
        command.IncidentService | None,
    ]
]:
    if not options.engine:
        yield None, None, None
        return
    client_id = f"{settings.gateway_client_id}-alerts"
    if options.partitioned and settings.gateway_workers > 1:
        client_id += f"-{settings.gateway_worker_index}of{settings.gateway_workers}"
    async with (
        alerts.AlertmanagerNotifier(
            alertmanager_config(settings, endpoints.alertmanager_urls)
        ) as notifier,
        _incident_service(settings, options, registry, endpoints, store, notifier) as incidents,
        alert_engine(
            settings,
            registry,
            endpoints.mqtt_url,
            store,
            client_id=client_id,
            notifier=notifier,
            listeners=[incidents] if incidents is not None else [],
        ) as engine,
    ):
        yield engine, notifier, incidents


@contextlib.asynccontextmanager
async def _incident_service(
    settings: Settings,
    options: PlatformOptions,
    registry: Registry,
    endpoints: Endpoints,
    store: DurableStore,
    notifier: alerts.AlertmanagerNotifier,
) -> AsyncIterator[command.IncidentService | None]:
    """Emergency command beside the one rule engine of ``smartcity up``; partitioned gateway
    workers run none (several auto-openers would race to open the same incident)."""
    if not options.engine or options.partitioned:
        yield None
        return
    async with incident_service(
        settings, registry, endpoints.mqtt_url, store, notifiers=[notifier]
    ) as incidents:
        yield incidents


async def _run_demo(
    settings: Settings,
    options: PlatformOptions,
    registry: Registry,
    endpoints: Endpoints,
    stats: simulators.SimulationStats,
) -> None:
    """The simulated city playing its scenario (the day, unless ``--scenario`` names another):
    it starts on the latest day that is over by now, runs at the demo's speed until it has
    caught up with the wall clock, then goes on live."""
    scenario = scenario_by_name(settings, options.scenario or settings.demo_scenario)
    config = run_config(
        settings,
        endpoints.mqtt_url,
        speed=options.speed or settings.demo_speed,
        interval_s=settings.demo_interval_s,
        scenario=scenario,
        start=replay_start(scenario, registry, datetime.now(UTC)),
        live_after_catch_up=True,
    )
    log.info("scenario_replay_started", extra={"scenario": scenario.name, "speed": config.speed})
    await simulators.run_fleet(config, registry, stats=stats)


def replay_start(scenario: simulators.Scenario, registry: Registry, now: datetime) -> datetime:
    """Where a replayed scenario starts: its own start moved by whole days, so that its local
    clock times ("at 02:10") still hold, to the latest day on which it is over by ``now``."""
    duration = timedelta(seconds=scenario.duration_s or 6 * 3600.0)
    zone = ZoneInfo(registry.city.timezone)
    own = scenario.start or now.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    local = own.astimezone(zone)
    days = math.floor((now - duration - local).total_seconds() / 86_400)
    return local + timedelta(days=days)
