"""``smartcity dashboards build DIR`` and ``smartcity dashboards push``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from dashboards import DashboardsError, push, write_folder
from devices import DeviceError
from smartcity.assembly import build_dashboards, grafana_sources
from smartcity.settings import Settings, SettingsInvalid, load_settings

__all__ = ["app"]

app = typer.Typer(no_args_is_help=True)
err = Console(stderr=True)


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsInvalid as exc:
        err.print(f"[red]smartcity: {exc}[/red]")
        raise typer.Exit(2) from None


def _influx_url(settings: Settings, given: str | None) -> str:
    return given or settings.influx_url or f"http://127.0.0.1:{settings.local_influx_port}"


def _alertmanagers(given: str | None) -> tuple[str, ...] | None:
    if given is None:
        return None
    return tuple(part.strip() for part in given.split(",") if part.strip())


@app.command()
def build(
    folder: Annotated[Path, typer.Argument(help="where to write dashboards/ and provisioning/")],
    influx_url: Annotated[
        str | None,
        typer.Option(help="InfluxDB as Grafana reaches it (default: SMARTCITY_INFLUX_URL)"),
    ] = None,
    alertmanager_url: Annotated[
        str | None,
        typer.Option(help="Alertmanager(s) as Grafana reaches them, comma-separated"),
    ] = None,
    dashboards_path: Annotated[
        str | None,
        typer.Option(help="FOLDER/dashboards as Grafana sees it (inside a container)"),
    ] = None,
) -> None:
    """Write every dashboard's JSON and Grafana's provisioning files to FOLDER."""
    settings = _settings()
    try:
        built = build_dashboards(settings)
    except (DeviceError, DashboardsError) as exc:
        err.print(f"[red]smartcity: {exc}[/red]")
        raise typer.Exit(1) from None
    written = write_folder(
        folder,
        built,
        grafana_sources(
            settings,
            influx_url=_influx_url(settings, influx_url),
            alertmanager=_alertmanagers(alertmanager_url),
            for_file=True,
        ),
        dashboards_path=dashboards_path,
    )
    # plain lines, never wrapped: paths are for copying
    for path in written.files:
        typer.echo(str(path))
    typer.echo(f"GF_PATHS_PROVISIONING={written.provisioning}")


@app.command("push")
def push_command(
    url: Annotated[
        str | None, typer.Option(help="Grafana's URL (default: SMARTCITY_GRAFANA_URL)")
    ] = None,
    influx_url: Annotated[str | None, typer.Option(help="InfluxDB as Grafana reaches it")] = None,
    alertmanager_url: Annotated[
        str | None, typer.Option(help="Alertmanager(s) as Grafana reaches them, comma-separated")
    ] = None,
) -> None:
    """Send the dashboards and datasources to a running Grafana (token: SMARTCITY_GRAFANA_TOKEN)."""
    settings = _settings()
    if settings.grafana_token is None or not settings.grafana_token.get_secret_value():
        err.print(
            "[red]smartcity: SMARTCITY_GRAFANA_TOKEN is not set: create a service-account "
            "token in Grafana (Administration → Service accounts) and export it[/red]"
        )
        raise typer.Exit(2)
    target = url or settings.grafana_url
    try:
        result = push(
            target,
            settings.grafana_token.get_secret_value(),
            build_dashboards(settings),
            grafana_sources(
                settings,
                influx_url=_influx_url(settings, influx_url),
                alertmanager=_alertmanagers(alertmanager_url),
                for_file=False,
            ),
            timeout_s=settings.grafana_timeout_s,
        )
    except (DeviceError, DashboardsError) as exc:
        err.print(f"[red]smartcity: {target}: {exc}[/red]")
        raise typer.Exit(1) from None
    typer.echo(
        f"pushed {len(result.dashboards)} dashboards to {target} "
        f"(datasources created: {', '.join(result.datasources_created) or 'none'}; "
        f"updated: {', '.join(result.datasources_updated) or 'none'})"
    )
    for board in result.dashboards:
        typer.echo(f"  {target.rstrip('/')}{board}")
