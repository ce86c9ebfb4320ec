"""`smartcity alerts list|history|ack|silence|silences|unsilence`: the operators' commands.

Each is a thin call of ``alerts.AlertOperations`` (the API calls the same): alerts and their
history come from the rule engine's state (``SMARTCITY_ALERTS_STATE_PATH``), silences live in
Alertmanager (``SMARTCITY_ALERTMANAGER_URL``, or the local one of a running ``smartcity up``).
"""

from __future__ import annotations

import asyncio
import getpass
import json
import re
from collections.abc import Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import orjson
import typer
from rich.console import Console
from rich.table import Table

from alerts import (
    AlertOperations,
    AlertsError,
    AlertStore,
    Matcher,
    alert_document,
    parse_duration,
)
from smartcity.assembly import alert_operations
from smartcity.settings import Settings, load_settings

__all__ = ["app", "parse_matcher"]

app = typer.Typer(no_args_is_help=True)
_T = TypeVar("_T")

StateOption = Annotated[
    Path | None, typer.Option("--state", help="alert state file (default: from settings)")
]
AlertmanagerOption = Annotated[
    str | None,
    typer.Option(
        "--alertmanager",
        help="Alertmanager URL(s), comma-separated (default: SMARTCITY_ALERTMANAGER_URL, or the"
        " local one of a running `smartcity up`)",
    ),
]
_MATCHER = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(=~|!~|!=|=)(.+)$")
# the engine's names for two labels, accepted for convenience
_ALIASES = {"rule": "alertname", "device": "device_id"}


def parse_matcher(text: str) -> Matcher:
    """``label=value``, ``label!=value``, ``label=~regex`` or ``label!~regex``."""
    found = _MATCHER.match(text.strip())
    if found is None:
        raise ValueError(f"--match {text!r} is not label=value (or !=, =~, !~)")
    name, operator, value = found.groups()
    return Matcher(
        _ALIASES.get(name, name),
        value,
        is_regex="~" in operator,
        is_equal=not operator.startswith("!"),
    )


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


def _urls(settings: Settings, given: str | None, *, required: bool) -> tuple[str, ...]:
    if given:
        return tuple(url.strip().rstrip("/") for url in given.split(",") if url.strip())
    if settings.alertmanager_urls:
        return settings.alertmanager_urls
    note = Path(settings.data_dir) / "endpoints.json"
    if note.exists():
        urls = json.loads(note.read_text(encoding="utf-8")).get("alertmanager_urls") or []
        if urls:
            return tuple(urls)
    if not required:
        return ()
    raise _fail(
        "no Alertmanager: set SMARTCITY_ALERTMANAGER_URL, pass --alertmanager, or start"
        " `smartcity up` (which runs a local one)"
    )


def _operations(
    state: Path | None, alertmanager: str | None, *, need_state: bool, listing: bool = False
) -> AlertOperations:
    settings = load_settings()
    if state is not None:
        settings = settings.model_copy(update={"alerts_state_path": state})
    if need_state and not Path(settings.alerts_state_path).exists():
        raise _fail(f"no alert state at {settings.alerts_state_path} (has the rule engine run?)")
    return alert_operations(settings, _urls(settings, alertmanager, required=not listing))


def _run(work: Coroutine[Any, Any, _T]) -> _T:
    try:
        return asyncio.run(work)
    except (AlertsError, ValueError) as exc:
        raise _fail(str(exc)) from None


def _when(moment: datetime | None) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S") if moment else ""


@app.command("list")
def list_alerts(
    state: StateOption = None,
    alertmanager: AlertmanagerOption = None,
    include_resolved: Annotated[
        bool, typer.Option("--all", help="include resolved alerts")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False,
) -> None:
    """List pending and firing alerts, and whether Alertmanager silences or inhibits them."""
    ops = _operations(state, alertmanager, need_state=True, listing=True)
    views = _run(ops.active())
    alerts = [view.alert for view in views]
    statuses = {view.alert.fingerprint: view for view in views}
    if include_resolved and ops.state_path is not None:
        with AlertStore(ops.state_path) as store:
            alerts = store.alerts(include_resolved=True)
    rows = []
    for alert in alerts:
        view = statuses.get(alert.fingerprint)
        status = view.status if view is not None else None
        rows.append(
            {
                **alert_document(alert, silenced=bool(status and status.silenced_by)),
                "inhibited": bool(status and status.inhibited_by),
                "silenced_by": list(status.silenced_by) if status else [],
            }
        )
    if as_json:
        for row in rows:
            typer.echo(orjson.dumps(row).decode())
        return
    table = Table(title=f"{len(rows)} alert(s)")
    for column in ("fingerprint", "state", "severity", "rule", "since", "summary", "ack"):
        table.add_column(column)
    for alert, row in zip(alerts, rows, strict=True):
        state_text = alert.state.value
        if row["silenced"]:
            state_text += " (silenced)"
        elif row["inhibited"]:
            state_text += " (inhibited)"
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
def history(
    state: StateOption = None,
    district: Annotated[str | None, typer.Option(help="only this district")] = None,
    kind: Annotated[str | None, typer.Option(help="only this device kind")] = None,
    severity: Annotated[str | None, typer.Option(help="only this severity")] = None,
    since: Annotated[str, typer.Option(help="how far back, like 30m, 6h, 7d")] = "1d",
    limit: Annotated[int, typer.Option(min=1, max=100_000)] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False,
) -> None:
    """Alert changes (firing, resolved, acknowledged), newest first."""
    settings = load_settings()
    path = state or settings.alerts_state_path
    if not Path(path).exists():
        raise _fail(f"no alert state at {path} (has the rule engine run?)")
    try:
        back = parse_duration(since)
    except ValueError as exc:
        raise _fail(f"--since: {exc}") from None
    with AlertStore(path) as store:
        entries = store.changes(
            since=datetime.now(UTC) - back,
            district=district,
            kind=kind,
            severity=severity,
            limit=limit,
        )
    if as_json:
        for entry in entries:
            document = {
                "fingerprint": entry.fingerprint,
                "rule": entry.rule,
                "change": entry.change,
                "at": entry.at.isoformat(),
                "severity": entry.severity,
                "district": entry.district,
                "kind": entry.kind,
                "summary": entry.summary,
                "value": entry.value,
            }
            typer.echo(orjson.dumps(document).decode())
        return
    table = Table(title=f"{len(entries)} change(s)")
    for column in ("at", "change", "severity", "rule", "fingerprint", "summary"):
        table.add_column(column)
    for entry in entries:
        table.add_row(
            _when(entry.at),
            entry.change,
            entry.severity,
            entry.rule,
            entry.fingerprint,
            entry.summary,
        )
    Console().print(table)


@app.command()
def ack(
    fingerprint: Annotated[
        str, typer.Argument(help="the alert's fingerprint (a unique prefix will do)")
    ],
    by: Annotated[str | None, typer.Option("--by", help="who (default: your login)")] = None,
    comment: Annotated[str, typer.Option("--comment")] = "",
    state: StateOption = None,
    alertmanager: AlertmanagerOption = None,
) -> None:
    """Acknowledge a firing alert: "someone is on it". Its notifications stop until it
    resolves (a silence of exactly that alert), and the engine records who."""
    ops = _operations(state, alertmanager, need_state=True)
    done = _run(ops.acknowledge(fingerprint, by or getpass.getuser(), comment))
    typer.echo(
        f"acknowledged {done.fingerprint} ({done.rule}); silence {done.silence_id} holds its"
        " notifications until it resolves"
    )


@app.command()
def silence(
    match: Annotated[
        list[str],
        typer.Option("--match", help="label=value, label!=value, label=~regex; repeat to narrow"),
    ],
    comment: Annotated[str, typer.Option("--comment", help="why: people will ask")],
    duration: Annotated[str, typer.Option("--for", help="how long, like 30m, 2h, 1d")] = "2h",
    by: Annotated[str | None, typer.Option("--by", help="who (default: your login)")] = None,
    alertmanager: AlertmanagerOption = None,
) -> None:
    """Silence alerts matching labels in Alertmanager: they still fire and show, but are not
    notified."""
    try:
        matchers = [parse_matcher(item) for item in match]
        length = parse_duration(duration)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    ops = _operations(None, alertmanager, need_state=False)
    now = datetime.now(UTC)
    made = _run(
        ops.silence(
            matchers,
            starts_at=now,
            ends_at=now + length,
            created_by=by or getpass.getuser(),
            comment=comment,
        )
    )
    typer.echo(f"silence {made} until {_when(now + length)}")


@app.command()
def silences(
    alertmanager: AlertmanagerOption = None,
    include_expired: Annotated[bool, typer.Option("--all", help="expired ones too")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False,
) -> None:
    """List Alertmanager's silences in force (acknowledgements among them)."""
    ops = _operations(None, alertmanager, need_state=False)
    found = _run(ops.silences(include_expired=include_expired))
    if as_json:
        for item in found:
            document = {
                "id": item.id,
                "state": item.state,
                "matchers": [str(m) for m in item.matchers],
                "starts_at": item.starts_at.isoformat(),
                "ends_at": item.ends_at.isoformat(),
                "created_by": item.created_by,
                "comment": item.comment,
            }
            typer.echo(orjson.dumps(document).decode())
        return
    table = Table(title=f"{len(found)} silence(s)")
    for column in ("id", "state", "matchers", "until", "by", "comment"):
        table.add_column(column)
    for item in found:
        matchers = ", ".join(str(m) for m in item.matchers)
        table.add_row(
            item.id, item.state, matchers, _when(item.ends_at), item.created_by, item.comment
        )
    Console().print(table)


@app.command()
def unsilence(
    silence_id: Annotated[str, typer.Argument(help="the silence's id")],
    alertmanager: AlertmanagerOption = None,
) -> None:
    """End a silence now."""
    ops = _operations(None, alertmanager, need_state=False)
    _run(ops.unsilence(silence_id))
    typer.echo(f"silence {silence_id} ended")
