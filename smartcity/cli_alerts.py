"""`smartcity alerts list|ack|silence|silences|unsilence`: the operators' commands.

They work on the rule engine's SQLite state (``SMARTCITY_ALERTS_STATE_PATH``), so they run with
or without the engine; a running engine picks acknowledgements and silences up on its next tick
and announces them.
"""

from __future__ import annotations

import getpass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.console import Console
from rich.table import Table

from alerts import AlertState, AlertStore, alert_document, parse_duration
from smartcity.settings import load_settings

__all__ = ["app"]

app = typer.Typer(no_args_is_help=True)

StateOption = Annotated[
    Path | None, typer.Option("--state", help="alert state file (default: from settings)")
]


def _store(state: Path | None) -> AlertStore:
    path = state if state is not None else load_settings().alerts_state_path
    if not path.exists():
        typer.echo(f"error: no alert state at {path} (has the rule engine run?)", err=True)
        raise typer.Exit(1)
    return AlertStore(path)


def _when(moment: datetime | None) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S") if moment else ""


@app.command("list")
def list_alerts(
    state: StateOption = None,
    include_resolved: Annotated[
        bool, typer.Option("--all", help="include resolved alerts")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False,
) -> None:
    """List pending and firing alerts (and resolved ones with --all)."""
    with _store(state) as store:
        found = store.alerts(include_resolved=include_resolved)
        silences = store.silences(datetime.now(UTC))
    now = datetime.now(UTC)
    if as_json:
        for alert in found:
            silenced = any(silence.mutes(alert, now) for silence in silences)
            typer.echo(orjson.dumps(alert_document(alert, silenced=silenced)).decode())
        return
    table = Table(title=f"{len(found)} alert(s)")
    for column in ("fingerprint", "state", "severity", "rule", "since", "summary", "ack"):
        table.add_column(column)
    for alert in found:
        state_text = alert.state.value
        if any(silence.mutes(alert, now) for silence in silences):
            state_text += " (silenced)"
        table.add_row(
            alert.fingerprint,
            state_text,
            alert.severity,
            alert.rule,
            _when(alert.starts_at),
            alert.summary,
            alert.acknowledged_by or "",
        )
    Console().print(table)


@app.command()
def ack(
    fingerprint: str = typer.Argument(
        ..., help="the alert's fingerprint (a unique prefix will do)"
    ),
    by: str = typer.Option(None, "--by", help="who acknowledges (default: your login)"),
    comment: str = typer.Option("", "--comment"),
    state: StateOption = None,
) -> None:
    """Acknowledge a firing alert: "someone is on it"."""
    with _store(state) as store:
        matches = [
            alert
            for alert in store.alerts()
            if alert.fingerprint.startswith(fingerprint) and alert.state is AlertState.FIRING
        ]
        if len(matches) != 1:
            problem = "no firing alert" if not matches else f"{len(matches)} firing alerts"
            typer.echo(f"error: {problem} with fingerprint {fingerprint!r}", err=True)
            raise typer.Exit(1)
        alert = matches[0]
        store.add_ack(alert.fingerprint, by or getpass.getuser(), comment, datetime.now(UTC))
    typer.echo(f"acknowledged {alert.fingerprint} ({alert.rule}); the engine announces it shortly")


@app.command()
def silence(
    match: Annotated[
        list[str],
        typer.Option("--match", help="label=value (rule=NAME for a rule); repeat to narrow"),
    ],
    comment: Annotated[str, typer.Option("--comment", help="why: people will ask")],
    duration: Annotated[str, typer.Option("--for", help="how long, like 30m, 2h, 1d")] = "2h",
    by: Annotated[
        str | None, typer.Option("--by", help="who silences (default: your login)")
    ] = None,
    state: StateOption = None,
) -> None:
    """Silence alerts matching labels: they still fire and show, but are not notified."""
    matchers: dict[str, str] = {}
    for item in match:
        name, sep, value = item.partition("=")
        if not sep or not name or not value:
            typer.echo(f"error: --match {item!r} is not label=value", err=True)
            raise typer.Exit(1)
        matchers[name] = value
    try:
        length = parse_duration(duration)
    except ValueError as exc:
        typer.echo(f"error: --for: {exc}", err=True)
        raise typer.Exit(1) from None
    now = datetime.now(UTC)
    with _store(state) as store:
        made = store.add_silence(matchers, now, now + length, by or getpass.getuser(), comment)
    typer.echo(f"silence {made.id} until {_when(made.ends_at)}")


@app.command()
def silences(state: StateOption = None) -> None:
    """List silences in force."""
    with _store(state) as store:
        found = store.silences(datetime.now(UTC))
    table = Table(title=f"{len(found)} silence(s) in force")
    for column in ("id", "matchers", "until", "by", "comment"):
        table.add_column(column)
    for item in found:
        matchers = ", ".join(f"{k}={v}" for k, v in sorted(item.matchers.items()))
        table.add_row(str(item.id), matchers, _when(item.ends_at), item.created_by, item.comment)
    Console().print(table)


@app.command()
def unsilence(
    silence_id: Annotated[int, typer.Argument(help="the silence's id")],
    state: StateOption = None,
) -> None:
    """End a silence now."""
    with _store(state) as store:
        ended = store.expire_silence(silence_id, datetime.now(UTC))
    if not ended:
        typer.echo(f"error: no silence {silence_id} in force", err=True)
        raise typer.Exit(1)
    typer.echo(f"silence {silence_id} ended")
