"""`smartcity incidents list|show|open|take|note|step-done|escalate|status|close` and
`smartcity plans check`: emergency command from the terminal.

They call the same incident service the platform runs, on the same SQLite file
(``SMARTCITY_INCIDENTS_STATE_PATH``), so they work with or without the platform; a running
platform carries out the automatic steps of an incident opened here on its next tick.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Annotated, TypeVar

import orjson
import typer
from rich.console import Console
from rich.table import Table

from command import (
    CommandError,
    Incident,
    IncidentService,
    IncidentStatus,
    IncidentStore,
    PlanFileInvalid,
    incident_document,
    load_incident_rules,
    load_plan,
    load_plans,
    plan_files,
)
from devices import Registry, RegistryInvalid, load_registry
from smartcity.settings import load_settings

__all__ = ["app", "plans_app"]

app = typer.Typer(no_args_is_help=True)
plans_app = typer.Typer(no_args_is_help=True)
T = TypeVar("T")

StateOption = Annotated[
    Path | None, typer.Option("--state", help="incident state file (default: from settings)")
]
ByOption = Annotated[str | None, typer.Option("--by", help="who does it (default: your login)")]


@contextlib.contextmanager
def _service(state: Path | None) -> Iterator[IncidentService]:
    settings = load_settings()
    try:
        plans = load_plans(settings.plans_path)
        rules = load_incident_rules(settings.incidents_rules_path, plans)
        registry_path = Path(settings.registry_path)
        registry = load_registry(registry_path) if registry_path.exists() else Registry({})
        store = IncidentStore(state if state is not None else settings.incidents_state_path)
    except (CommandError, RegistryInvalid) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    with store:
        yield IncidentService(store, plans, rules, registry)


def _do(state: Path | None, action: Callable[[IncidentService], Awaitable[T]]) -> T:
    """Run one service call; a refusal is an error line and exit status 1."""
    with _service(state) as service:
        try:
            return asyncio.run(_await(action(service)))
        except CommandError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None


async def _await(awaitable: Awaitable[T]) -> T:
    return await awaitable


def _when(moment: datetime | None) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def _who(by: str | None) -> str:
    return by or getpass.getuser()


def _said(incident: Incident) -> None:
    last = incident.timeline[-1] if incident.timeline else None
    typer.echo(f"#{incident.id} {incident.status.value}: {last.text if last else incident.title}")


@app.command("list")
def list_incidents(
    state: StateOption = None,
    include_closed: Annotated[bool, typer.Option("--all", help="closed ones too")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False,
) -> None:
    """Incidents not closed (and closed ones with --all), oldest first."""
    with _service(state) as service:
        found = service.list_incidents(include_closed=include_closed)
    if as_json:
        for incident in found:
            typer.echo(orjson.dumps(incident_document(incident, timeline=False)).decode())
        return
    table = Table(title=f"{len(found)} incident(s)")
    for column in ("id", "status", "severity", "type", "title", "assignee", "steps", "opened"):
        table.add_column(column)
    for incident in found:
        done = sum(1 for step in incident.steps if step.status.value == "done")
        table.add_row(
            str(incident.id),
            incident.status.value,
            incident.severity,
            incident.type,
            incident.title,
            incident.assignee or "",
            f"{done}/{len(incident.steps)}",
            _when(incident.opened_at),
        )
    Console().print(table)


@app.command()
def show(
    incident_id: Annotated[int, typer.Argument(help="the incident's number")],
    state: StateOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="the whole incident as JSON")] = False,
) -> None:
    """One incident: its plan's steps, its forecast, its timeline."""
    with _service(state) as service:
        try:
            incident = service.get(incident_id)
        except CommandError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
    if as_json:
        typer.echo(orjson.dumps(incident_document(incident)).decode())
        return
    console = Console()
    console.print(
        f"[bold]#{incident.id} {incident.title}[/] — {incident.status.value},"
        f" {incident.severity}, {incident.type} in {incident.district}"
        f" ({', '.join(f'{k} {v}' for k, v in incident.placement.items()) or 'no group'})"
    )
    console.print(
        f"assignee: {incident.assignee or '-'}   plan: {incident.plan or '-'}"
        f"   escalation level: {incident.escalation_level}"
    )
    steps = Table(title="steps")
    for column in ("step", "by", "status", "due", "done by", "result / comment"):
        steps.add_column(column)
    for step in incident.steps:
        overdue = " (escalated)" if step.escalated_at else ""
        steps.add_row(
            step.step_id,
            step.action,
            step.status.value + overdue,
            _when(step.due_at),
            step.done_by or "",
            step.result or step.comment,
        )
    console.print(steps)
    if incident.forecast is not None:
        course = Table(
            title=f"spill on {incident.forecast.river}, first seen at"
            f" {incident.forecast.origin} {_when(incident.forecast.seen_at)}"
        )
        for column in ("place", "kind", "km", "expected", "state", "seen"):
            course.add_column(column)
        for point in incident.forecast.waypoints:
            course.add_row(
                point.name,
                point.kind,
                f"{point.km_from_origin:.2f}",
                _when(point.expected_at),
                point.state.value,
                _when(point.seen_at),
            )
        console.print(course)
    timeline = Table(title="timeline")
    for column in ("when", "who", "what", "text"):
        timeline.add_column(column)
    for entry in incident.timeline:
        timeline.add_row(_when(entry.at), entry.actor, entry.kind.value, entry.text)
    console.print(timeline)
    if incident.report:
        console.print(f"report: {incident.report}")


@app.command("open")
def open_incident(
    incident_type: Annotated[str, typer.Argument(help="lighting, environmental, traffic, ...")],
    title: Annotated[str, typer.Option("--title", help="what it is, in a line")],
    district: Annotated[str, typer.Option("--district", help="where")],
    severity: Annotated[str, typer.Option("--severity")] = "warning",
    group: Annotated[
        list[str] | None,
        typer.Option("--group", help="what it is about: cabinet=C-02, river=jade, junction=J-01"),
    ] = None,
    plan: Annotated[str | None, typer.Option("--plan", help="default: the type's plan")] = None,
    by: ByOption = None,
    state: StateOption = None,
) -> None:
    """Open an incident by hand, with its type's response plan."""
    placement: dict[str, str] = {}
    for item in group or []:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            typer.echo(f"error: --group {item!r} is not key=value", err=True)
            raise typer.Exit(2)
        placement[key] = value
    incident = _do(
        state,
        lambda service: service.open_incident(
            incident_type,
            title=title,
            district=district,
            by=_who(by),
            severity=severity,
            placement=placement,
            plan=plan,
        ),
    )
    typer.echo(f"opened #{incident.id}: {incident.title} (plan {incident.plan or 'none'})")


@app.command()
def take(incident_id: int, by: ByOption = None, state: StateOption = None) -> None:
    """Take an incident: it is yours now."""
    _said(_do(state, lambda service: service.take(incident_id, by=_who(by))))


@app.command()
def note(
    incident_id: int,
    text: Annotated[str, typer.Argument(help="what to record")],
    by: ByOption = None,
    state: StateOption = None,
) -> None:
    """Add a note to an incident's timeline."""
    _said(_do(state, lambda service: service.note(incident_id, by=_who(by), text=text)))


@app.command("step-done")
def step_done(
    incident_id: int,
    step: Annotated[str, typer.Argument(help="the plan step's id")],
    comment: Annotated[str, typer.Option("--comment")] = "",
    by: ByOption = None,
    state: StateOption = None,
) -> None:
    """Mark a plan step done."""
    _said(
        _do(
            state,
            lambda service: service.step_done(incident_id, step, by=_who(by), comment=comment),
        )
    )


@app.command()
def escalate(
    incident_id: int,
    reason: Annotated[str, typer.Option("--reason", help="why")],
    by: ByOption = None,
    state: StateOption = None,
) -> None:
    """Escalate an incident one level; the plan's escalation team is told."""
    _said(_do(state, lambda service: service.escalate(incident_id, by=_who(by), reason=reason)))


@app.command()
def status(
    incident_id: int,
    new_status: Annotated[IncidentStatus, typer.Argument(help="dispatched, on_site, resolved")],
    comment: Annotated[str, typer.Option("--comment")] = "",
    by: ByOption = None,
    state: StateOption = None,
) -> None:
    """Move an incident along: open → dispatched → on_site → resolved → closed."""
    _said(
        _do(
            state,
            lambda service: service.set_status(
                incident_id, new_status, by=_who(by), comment=comment
            ),
        )
    )


@app.command()
def close(
    incident_id: int,
    report: Annotated[str, typer.Option("--report", help="what happened and what was done")],
    by: ByOption = None,
    state: StateOption = None,
) -> None:
    """Close a resolved incident with a short report."""
    _said(_do(state, lambda service: service.close(incident_id, by=_who(by), report=report)))


@plans_app.command()
def check(
    paths: Annotated[list[Path], typer.Argument(help="plan files or folders of *.yaml plans")],
) -> None:
    """Validate response plans; errors name the file, line and field. Every file is checked,
    and a plan name used by two files is an error."""
    failed = 0
    where: dict[str, Path] = {}
    for path in paths:
        files = plan_files(path)
        if not files:
            typer.echo(f"error: {path}: no plan files found", err=True)
            failed += 1
        for file in files:
            try:
                plan = load_plan(file)
            except PlanFileInvalid as exc:
                failed += 1
                typer.echo(f"error: {exc}", err=True)
                continue
            if plan.name in where:
                failed += 1
                typer.echo(
                    f"error: {file}:1: plan name {plan.name!r} is used by {where[plan.name]} too",
                    err=True,
                )
                continue
            where[plan.name] = file
    if failed:
        raise typer.Exit(1)
    typer.echo(f"ok: {len(where)} plan(s)")
