"""The ``smartcity`` command: one surface for operators, engineers and subscribers."""

from __future__ import annotations

import typer

from smartcity import (
    cli_alerts,
    cli_api,
    cli_dashboards,
    cli_incidents,
    cli_platform,
    cli_rules,
    cli_security,
    cli_simulate,
)
from smartcity.bench import cli as cli_bench

__all__ = ["app", "main"]

app = typer.Typer(
    name="smartcity",
    help="IoT sensing and monitoring platform for a city's control centre.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
cli_platform.register(app)
app.add_typer(cli_simulate.app, name="simulate", help="Simulated devices: fleets, scenarios, load.")
app.add_typer(cli_rules.app, name="rules", help="Alert rules: check and test rule files.")
app.add_typer(cli_alerts.app, name="alerts", help="Alerts: list, acknowledge, silence.")
app.add_typer(cli_incidents.app, name="incidents", help="Incidents: open, work, close.")
app.add_typer(cli_incidents.plans_app, name="plans", help="Response plans: check plan files.")
app.add_typer(cli_bench.app, name="bench", help="Benchmarks that print JSON figures.")
app.add_typer(cli_api.app, name="api", help="The operators' HTTP API; its tokens.")
app.add_typer(cli_dashboards.app, name="dashboards", help="Grafana dashboards: build, push.")
app.add_typer(cli_security.devices_app, name="devices", help="Devices: credentials and ACLs.")
cli_security.register(app)


def main() -> None:
    """Entry point of the console script."""
    app()
