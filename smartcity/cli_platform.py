"""``smartcity up`` and ``smartcity status``: the whole platform, and one screen on it."""

from __future__ import annotations

import typer

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the platform commands to the top-level app."""

    @app.command()
    def up(demo: bool = typer.Option(False, "--demo", help="also run a simulated city")) -> None:
        """Start the platform (local Mosquitto and InfluxDB unless URLs are set)."""
        raise typer.Exit(1)
