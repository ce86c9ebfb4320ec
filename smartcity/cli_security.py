"""``smartcity devices credentials`` and ``smartcity certs``: the security material."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

import alerts
import devices
import simulators
from smartcity.settings import Settings, SettingsInvalid, load_settings

__all__ = ["devices_app", "register"]

devices_app = typer.Typer(no_args_is_help=True)
err = Console(stderr=True)


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsInvalid as exc:
        err.print(f"[red]smartcity: {exc}[/red]")
        raise typer.Exit(2) from None


def _registry(settings: Settings) -> tuple[devices.Registry, Path]:
    """The registry ``smartcity up`` would use: the registry file, else the demo fleet."""
    from smartcity.assembly import fleet_registry

    if Path(settings.registry_path).exists():
        return devices.load_registry(settings.registry_path), Path(settings.registry_path)
    return fleet_registry(settings.simulate_fleet_path), Path(settings.simulate_fleet_path)


def _running_broker_pid(settings: Settings) -> int | None:
    """The local Mosquitto of a running ``smartcity up`` here, if any."""
    from smartcity.platform import state_paths

    note = state_paths(settings)["endpoints"]
    try:
        info = json.loads(note.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    pid = (info.get("server_pids") or {}).get("mosquitto")
    return int(pid) if pid else None


@devices_app.command("credentials")
def credentials(
    rotate: Annotated[
        list[str] | None,
        typer.Option("--rotate", help="give this device (or platform.* user) a new password"),
    ] = None,
) -> None:
    """Give every registry device a password; write Mosquitto's password file and ACLs.

    Existing passwords are kept; new devices get one; removed devices lose theirs. The secrets
    go to a 0600 file (SMARTCITY_CREDENTIALS_PATH); a running local broker reloads (SIGHUP).
    """
    from smartcity.security import reload_broker, security_paths, write_credentials

    settings = _settings()
    try:
        registry, source = _registry(settings)
        written = write_credentials(settings, registry, rotate=rotate or ())
    except (devices.DeviceError, simulators.SimulatorError, alerts.AlertsError) as exc:
        err.print(f"[red]smartcity: {exc}[/red]")
        raise typer.Exit(2) from None
    paths = security_paths(settings)
    err.print(
        f"smartcity: {len(written.devices)} devices from {source}; secrets in {paths.credentials}"
        f" (0600); password file {paths.password_file}; ACLs {paths.acl_file}"
    )
    for name in rotate or ():
        err.print(f"smartcity: {name}: new password written")
    pid = _running_broker_pid(settings)
    if pid is not None and reload_broker(pid):
        err.print(f"smartcity: the local Mosquitto (pid {pid}) reloaded its users and ACLs")
    elif rotate:
        err.print(
            "smartcity: no local broker running here; another broker takes the new password"
            " file on its next reload (SIGHUP) or start"
        )


def register(app: typer.Typer) -> None:
    """Add ``smartcity certs`` to the top-level app."""

    @app.command()
    def certs(
        renew: Annotated[
            bool, typer.Option("--renew", help="make a new CA and new certificates")
        ] = False,
    ) -> None:
        """Make the local CA, the broker's server certificate and the platform's client
        certificate (where missing), for TLS on MQTT (8883) and HTTPS."""
        from smartcity.security import ensure_certificates, security_paths

        settings = _settings()
        written = ensure_certificates(settings, renew=renew)
        paths = security_paths(settings)
        if not written:
            err.print(f"smartcity: certificates already in {paths.directory} (--renew remakes)")
            return
        for path in written:
            if path.suffix == ".pem":
                err.print(f"smartcity: wrote {path} ({devices.subject_of(path.read_bytes())})")
            else:
                err.print(f"smartcity: wrote {path} (private key, 0600)")
