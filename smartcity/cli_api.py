"""`smartcity api` (serve the operators' API on its own) and `smartcity api token ...`."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from alerts import RelayConfigInvalid
from api import ApiError, Scope
from devices import DeviceError, load_registry
from smartcity.logs import configure_logging
from smartcity.settings import Settings, SettingsInvalid, load_settings

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
    SMARTCITY_API_HOST:SMARTCITY_API_PORT."""
    if ctx.invoked_subcommand is not None:
        return
    from smartcity.assembly import build_api
    from smartcity.shutdown import install_signal_handlers

    settings = _settings()
    if settings.mqtt_url is None:
        err.print("[red]smartcity api: set SMARTCITY_MQTT_URL (the broker commands go through)")
        raise typer.Exit(2)
    configure_logging(settings.log_level, file=settings.log_file)
    try:
        registry = load_registry(settings.registry_path)
        service = build_api(
            settings,
            registry,
            mqtt_url=settings.mqtt_url,
            influx_url=settings.influx_url,
            alertmanager_urls=settings.alertmanager_urls,
        )
    except (ApiError, DeviceError, RelayConfigInvalid, SettingsInvalid) as exc:
        err.print(f"[red]smartcity api: {exc}[/red]")
        raise typer.Exit(1) from None
    err.print(
        f"smartcity api: {service.server.url}  (docs at {service.server.url}/docs;"
        f" logs in {settings.log_file})"
    )

    async def main() -> None:
        task = asyncio.create_task(service.run())
        install_signal_handlers(task, grace_s=3 * settings.shutdown_timeout_s + 15)
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(main())
    err.print(f"smartcity api: stopped; logs in {settings.log_file}")


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
