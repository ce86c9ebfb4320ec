"""`smartcity api` (serve the operators' API on its own) and `smartcity api token ...`."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from alerts import AlertsError, RelayConfigInvalid
from api import ApiError, Scope
from command import CommandError
from devices import DeviceError, Registry, load_registry
from ingest import IngestError
from smartcity.logs import configure_logging
from smartcity.settings import Settings, SettingsInvalid, load_settings

if TYPE_CHECKING:
    from smartcity.assembly import ApiService, IncidentHost

__all__ = ["app"]

app = typer.Typer(invoke_without_command=True)
token_app = typer.Typer(no_args_is_help=True)
app.add_typer(token_app, name="token", help="Make, list and revoke API tokens.")

err = Console(stderr=True)


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsInvalid as exc:
        err.print(f"[red]smartcity: {exc}[/red]")
        raise typer.Exit(2) from None


@app.callback()
def serve(ctx: typer.Context) -> None:
    """Serve the operators' API on its own, against SMARTCITY_MQTT_URL (SMARTCITY_INFLUX_URL for
    its health, SMARTCITY_ALERTMANAGER_URL for silences and acknowledgements), on
    SMARTCITY_API_HOST:SMARTCITY_API_PORT. With SMARTCITY_API_INCIDENTS=true it also hosts the
    platform's one incident service, fed with every engine's alert changes from the broker."""
    if ctx.invoked_subcommand is not None:
        return
    from smartcity.shutdown import install_signal_handlers

    settings = _settings()
    mqtt_url = settings.mqtt_url
    if mqtt_url is None:
        err.print("[red]smartcity api: set SMARTCITY_MQTT_URL (the broker commands go through)")
        raise typer.Exit(2)
    configure_logging(settings.log_level, file=settings.log_file)
    try:
        registry = load_registry(settings.registry_path)
    except DeviceError as exc:
        err.print(f"[red]smartcity api: {exc}[/red]")
        raise typer.Exit(1) from None

    async def main() -> None:
        async with contextlib.AsyncExitStack() as stack:
            host = await _incidents(stack, settings, registry, mqtt_url)
            service = _build(settings, registry, mqtt_url, host)
            err.print(
                f"smartcity api: {service.server.url}  (docs at {service.server.url}/docs;"
                f" logs in {settings.log_file})"
            )
            if host is not None:
                err.print("smartcity api: hosts the incident service (alerts from city/alerts/#)")
            task = asyncio.create_task(_run(service, host))
            install_signal_handlers(task, grace_s=3 * settings.shutdown_timeout_s + 15)
            with contextlib.suppress(asyncio.CancelledError):
                await task

    asyncio.run(main())
    err.print(f"smartcity api: stopped; logs in {settings.log_file}")


async def _incidents(
    stack: contextlib.AsyncExitStack, settings: Settings, registry: Registry, mqtt_url: str
) -> IncidentHost | None:
    """The incident service with its feed, if this API hosts it (SMARTCITY_API_INCIDENTS)."""
    from smartcity.assembly import incident_host

    if not settings.api_incidents:
        return None
    try:
        return await stack.enter_async_context(
            incident_host(
                settings,
                registry,
                mqtt_url,
                influx_url=settings.influx_url,
                alertmanager_urls=settings.alertmanager_urls,
            )
        )
    except (AlertsError, CommandError, DeviceError, IngestError, OSError) as exc:
        err.print(f"[red]smartcity api: incidents: {exc}[/red]")
        raise typer.Exit(1) from None


def _build(
    settings: Settings, registry: Registry, mqtt_url: str, host: IncidentHost | None
) -> ApiService:
    from smartcity.assembly import build_api

    try:
        return build_api(
            settings,
            registry,
            mqtt_url=mqtt_url,
            influx_url=settings.influx_url,
            alertmanager_urls=settings.alertmanager_urls,
            incidents=host.service if host is not None else None,
        )
    except (ApiError, DeviceError, RelayConfigInvalid, SettingsInvalid) as exc:
        err.print(f"[red]smartcity api: {exc}[/red]")
        raise typer.Exit(1) from None


async def _run(service: ApiService, host: IncidentHost | None) -> None:
    async with asyncio.TaskGroup() as group:
        group.create_task(service.run(), name="api")
        if host is not None:
            group.create_task(host.run(), name="incidents")


@token_app.command("create")
def create(
    name: Annotated[str, typer.Option("--name", help="who holds it, e.g. alice")],
    scope: Annotated[Scope, typer.Option("--scope", help="read, operate or admin")] = Scope.READ,
) -> None:
    """Make a token and print it, once: only its hash is kept."""
    from smartcity.assembly import token_store

    store = token_store(_settings())
    try:
        issued = store.create(name, scope)
    except (ApiError, ValueError) as exc:
        err.print(f"[red]smartcity api token: {exc}[/red]")
        raise typer.Exit(1) from None
    err.print(
        f"token {issued.record.id} for {name} (scope {scope.value}), kept as a hash in "
        f"{store.path}; it is shown this once:"
    )
    typer.echo(issued.secret)


@token_app.command("list")
def list_tokens() -> None:
    """List the live tokens (never their secrets)."""
    from smartcity.assembly import token_store

    try:
        records = token_store(_settings()).list()
    except ApiError as exc:
        err.print(f"[red]smartcity api token: {exc}[/red]")
        raise typer.Exit(1) from None
    table = Table("id", "name", "scope", "created")
    for record in records:
        table.add_row(record.id, record.name, record.scope.value, record.created_at.isoformat())
    Console().print(table)


@token_app.command("revoke")
def revoke(
    key: Annotated[str, typer.Argument(help="the token's id or name")],
) -> None:
    """Revoke a token; a running API refuses it from the next request."""
    from smartcity.assembly import token_store

    try:
        record = token_store(_settings()).revoke(key)
    except ApiError as exc:
        err.print(f"[red]smartcity api token: {exc}[/red]")
        raise typer.Exit(1) from None
    err.print(f"revoked token {record.id} ({record.name})")
