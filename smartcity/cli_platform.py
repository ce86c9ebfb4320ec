"""``smartcity up``, ``smartcity gateway`` and ``smartcity status``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Annotated

import httpx
import typer
from rich.console import Console
from rich.table import Table

from alerts import AlertsError
from api import ApiError
from command import CommandError, IncidentStore
from devices import DeviceError
from gateway import GatewayError
from ingest import IngestError
from simulators import SimulatorError
from smartcity.logs import configure_logging
from smartcity.settings import Settings, SettingsInvalid, load_settings
from smartcity.stack import StackError

__all__ = ["register"]

err = Console(stderr=True)


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsInvalid as exc:
        err.print(f"[red]smartcity: {exc}[/red]")
        raise typer.Exit(2) from None


def _stop_grace_s(settings: Settings) -> float:
    """How long a stop may take before it is forced: each part's flush, in turn, and a margin."""
    return 3 * settings.shutdown_timeout_s + 15


def _run(settings: Settings, options: object) -> None:
    """Run the platform until Ctrl-C or SIGTERM; turn start-up failures into clear messages."""
    from smartcity.platform import PlatformOptions, run_platform
    from smartcity.shutdown import install_signal_handlers

    assert isinstance(options, PlatformOptions)
    # Logs go to a file while the live console owns the terminal.
    log_file = settings.log_file
    configure_logging(settings.log_level, file=log_file)

    async def main() -> None:
        task = asyncio.create_task(run_platform(settings, options))
        install_signal_handlers(task, grace_s=_stop_grace_s(settings))
        with contextlib.suppress(asyncio.CancelledError):
            await task

    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    try:
        asyncio.run(main())
    except (
        StackError,
        DeviceError,
        OSError,
        GatewayError,
        IngestError,
        AlertsError,
        ApiError,
        CommandError,
        ExceptionGroup,
    ) as exc:
        known = _known_failures(exc)
        if not known:
            raise
        for failure in known:
            err.print(f"[red]smartcity: {failure}[/red]")
        err.print(f"smartcity: see {log_file}")
        raise typer.Exit(1) from None
    err.print(f"smartcity: stopped; logs in {log_file}")


def _known_failures(exc: BaseException) -> list[BaseException]:
    """The start-up failures a person can act on (missing binary, taken port, bad registry,
    unreachable server), wherever they sit in an exception group; empty if any is a bug."""
    if isinstance(exc, BaseExceptionGroup):
        leaves = [leaf for inner in exc.exceptions for leaf in _known_failures(inner) or [inner]]
        known = (
            StackError,
            DeviceError,
            OSError,
            GatewayError,
            IngestError,
            AlertsError,
            CommandError,
            SimulatorError,
            ApiError,
        )
        return leaves if all(isinstance(leaf, known) for leaf in leaves) else []
    if isinstance(
        exc,
        StackError
        | DeviceError
        | OSError
        | GatewayError
        | IngestError
        | AlertsError
        | CommandError
        | ApiError,
    ):
        return [exc]
    return []


def register(app: typer.Typer) -> None:
    """Add the platform commands to the top-level app."""

    @app.command()
    def up(
        demo: Annotated[bool, typer.Option("--demo", help="also run a simulated city")] = False,
        scenario: Annotated[
            str | None, typer.Option(help="with --demo: a scenario name or file")
        ] = None,
        speed: Annotated[
            float | None, typer.Option(help="with --demo: simulated seconds per real second")
        ] = None,
        console: Annotated[bool, typer.Option(help="show the live console")] = True,
        insecure: Annotated[
            bool,
            typer.Option(
                "--insecure", help="local broker without passwords, ACLs or TLS (anonymous)"
            ),
        ] = False,
    ) -> None:
        """Start the whole platform; Ctrl-C stops it all.

        Local Mosquitto, InfluxDB and Alertmanager (unless SMARTCITY_MQTT_URL /
        SMARTCITY_INFLUX_URL / SMARTCITY_ALERTMANAGER_URL are set), the gateway, the rule
        engine, the operators' API and page (SMARTCITY_API_PORT), and with --demo a simulated
        city.
        """
        from smartcity.platform import PlatformOptions

        settings = _settings()
        if insecure:
            settings = settings.model_copy(update={"insecure": True})
        err.print(
            "smartcity: starting"
            + (" with a simulated city" if demo else "")
            + f"; data in {settings.data_dir}/ (Ctrl-C to stop)"
        )
        _say_security(settings)
        options = PlatformOptions(
            engine=True, demo=demo, scenario=scenario, speed=speed, console=console
        )
        _run(settings, options)

    @app.command()
    def gateway(
        engine: Annotated[bool, typer.Option(help="also run the rule engine")] = True,
        console: Annotated[bool, typer.Option(help="show the live console")] = False,
        api: Annotated[
            bool,
            typer.Option(help="also serve the operators' API (one worker; else smartcity api)"),
        ] = False,
    ) -> None:
        """Run the gateway and the rule engine, without simulators.

        Uses SMARTCITY_MQTT_URL and SMARTCITY_INFLUX_URL; starts local servers only for those
        left unset. With SMARTCITY_GATEWAY_WORKERS=N, run N of these, each with its own
        SMARTCITY_GATEWAY_WORKER_INDEX (0..N-1), SMARTCITY_DATA_DIR and SMARTCITY_METRICS_PORT.
        """
        from smartcity.platform import PlatformOptions

        _run(
            _settings(),
            PlatformOptions(engine=engine, demo=False, console=console, partitioned=True, api=api),
        )

    @app.command()
    def status() -> None:
        """One screen on a running platform: its servers, the gateway's figures, the alerts."""
        from alerts import AlertState, AlertStore
        from smartcity.assembly import notifications
        from smartcity.platform import endpoints_file

        settings = _settings()
        note = endpoints_file(settings)
        if not note.exists():
            err.print(f"smartcity: no platform is running here ({note} is absent); `make up`")
            raise typer.Exit(1)
        info = json.loads(note.read_text(encoding="utf-8"))
        table = Table(title="smartcity", show_header=False)
        running = _alive(int(info["pid"]))
        table.add_row("platform", f"pid {info['pid']} {'running' if running else 'NOT running'}")
        table.add_row("broker", str(info["mqtt_url"]))
        table.add_row("influxdb", f"{info['influx_url']} {_ping(info['influx_url'])}")
        api_url = info.get("api_url")
        if api_url:
            table.add_row("api", f"{api_url} {_api_health(api_url)}  (docs at {api_url}/docs)")
        for url in info.get("alertmanager_urls", []):
            table.add_row("alertmanager", f"{url} {_ping(url, '/-/ready')}")
        if info.get("grafana_provisioning"):
            table.add_row("grafana files", f"GF_PATHS_PROVISIONING={info['grafana_provisioning']}")
        metrics = _metrics(info.get("metrics_port"))
        for label, name in (
            ("messages received", "gateway_messages_received_total"),
            ("messages stored", "gateway_messages_stored_total"),
            ("messages rejected", "gateway_messages_rejected_total"),
            ("in flight", "gateway_messages_in_flight"),
            ("devices online", "gateway_devices_online"),
            ("points in the spool", "gateway_spool_points"),
            ("alerts sent to Alertmanager", "smartcity_alertmanager_alerts_sent_total"),
            ("Alertmanager sends failed", "smartcity_alertmanager_sends_errored_total"),
            ("alerts dropped", "smartcity_alertmanager_alerts_dropped_total"),
        ):
            if name in metrics:
                table.add_row(label, f"{metrics[name]:,.0f}")
        if Path(settings.alerts_state_path).exists():
            with AlertStore(settings.alerts_state_path) as store:
                active = store.alerts(include_resolved=False)
            firing = sum(1 for alert in active if alert.state is AlertState.FIRING)
            table.add_row("alerts", f"{firing} firing, {len(active) - firing} pending")
            # the most urgent first: critical before warning before info, firing before pending
            urgency = {"critical": 0, "warning": 1, "info": 2}
            active.sort(
                key=lambda a: (urgency.get(str(a.severity), 3), a.state is not AlertState.FIRING)
            )
            for alert in active[:10]:
                table.add_row(f"  {alert.severity}", f"{alert.rule}: {alert.summary}")
        if Path(settings.incidents_state_path).exists():
            with IncidentStore(settings.incidents_state_path) as incidents:
                open_ones = [incidents.get(number) for number in incidents.ids()]
            table.add_row("incidents", f"{len(open_ones)} not closed")
            for incident in open_ones[:10]:
                table.add_row(f"  #{incident.id} {incident.status.value}", incident.title)
        received = notifications(settings, 5)
        if received:  # what the demo's webhook receiver and SMTP catcher got, newest first
            table.add_row("notifications", f"last {len(received)} received, newest first")
            for item in received:
                table.add_row(f"  {item.channel}", f"{item.received_at[11:19]} {item.subject}")
        Console().print(table)
        if not running:
            raise typer.Exit(1)


def _say_security(settings: Settings) -> None:
    """One line on the console: how the broker is locked, or loudly that it is not."""
    if settings.mqtt_url is not None:
        return  # an existing broker: its own configuration decides
    if settings.insecure:
        err.print(
            "[bold red]smartcity: INSECURE: the local broker takes anonymous clients on plain"
            f" MQTT (127.0.0.1:{settings.local_mqtt_port}); no passwords, no ACLs, no TLS"
            "[/bold red]"
        )
        return
    from smartcity.security import security_paths

    port = f"127.0.0.1:{settings.local_mqtts_port}" if settings.local_mqtts_port else "loopback"
    err.print(
        f"smartcity: secured: MQTT over TLS on {port}"
        " (client certificate, per-device passwords, ACLs from the registry);"
        f" material in {security_paths(settings).directory}/"
    )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def _ping(url: str, path: str = "/ping") -> str:
    try:
        code = httpx.get(f"{url}{path}", timeout=2).status_code
    except httpx.HTTPError as exc:
        return f"(down: {type(exc).__name__})"
    return "(up)" if code in (200, 204) else f"(answers {code})"


def _api_health(url: str) -> str:
    try:
        answer = httpx.get(f"{url}/healthz", timeout=5)
    except httpx.HTTPError as exc:
        return f"(down: {type(exc).__name__})"
    if answer.status_code == 200:
        return "(up)"
    if answer.status_code != 503:
        return f"(answers {answer.status_code})"
    states = answer.json().get("dependencies", {})
    down = [name for name, state in states.items() if not state.get("ok")]
    return f"(degraded: {', '.join(down)} down)"


def _metrics(port: object) -> dict[str, float]:
    """Sum each sample family of the gateway's /metrics (label sets added up)."""
    if not isinstance(port, int) or not port:
        return {}
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
    except httpx.HTTPError:
        return {}
    totals: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("#") or " " not in line:
            continue
        name, _, value = line.rpartition(" ")
        family = name.split("{", 1)[0]
        with contextlib.suppress(ValueError):
            totals[family] = totals.get(family, 0.0) + float(value)
    return totals


if __name__ == "__main__":  # pragma: no cover
    sys.exit(0)
