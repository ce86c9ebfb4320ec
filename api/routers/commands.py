"""Downlink commands: send (scope operate), read back by id and list (scope read).

A command is checked against the device catalogue before anything goes out: its arguments by
``devices.Command`` (ranges, what each action needs), its action by the target kind's
``devices.actions_for``. A refused command is a 4xx naming the field, and nothing is published.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Response, status
from pydantic import ValidationError

from api.audit import CommandStatus
from api.auth import Caller, require
from api.context import ApiContext, context
from api.models import CommandIn, CommandOut
from api.problems import field_error
from api.tokens import Scope
from devices import Command, DeviceRecord, Kind, Registry, actions_for

__all__ = ["router"]

router = APIRouter(prefix="/commands", tags=["commands"])

Context = Annotated[ApiContext, Depends(context)]


def _command(body: CommandIn) -> Command:
    """The catalogue's own model checks ranges and what the action needs."""
    try:
        return Command(
            command_id="pending",
            action=body.action,
            level_pct=body.level_pct,
            plan_id=body.plan_id,
            mode=body.mode,
            duration_s=body.duration_s,
        )
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        location = [str(part) for part in first["loc"]]
        message = str(first["msg"]).removeprefix("Value error, ")
        if not location:  # a check across fields: "dim needs level_pct"
            location = [message.rsplit(" ", 1)[-1]] if " needs " in message else ["action"]
        raise field_error(("body", *location), message, kind=str(first["type"])) from None


def _targets(body: CommandIn, registry: Registry) -> tuple[str, list[DeviceRecord]]:
    """Who gets the command: one device, a cabinet's lights or a junction's signals."""
    named = [name for name in ("device_id", "cabinet", "junction") if getattr(body, name)]
    if len(named) != 1:
        raise field_error(("body", "device_id"), "name exactly one of device_id, cabinet, junction")
    if body.device_id is not None:
        device = registry.get(body.device_id)
        if device is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no device {body.device_id}")
        if body.action not in actions_for(device.kind):
            allowed = ", ".join(sorted(action.value for action in actions_for(device.kind)))
            raise field_error(
                ("body", "action"),
                f"a {device.kind.value} cannot {body.action.value}; it takes {allowed}",
            )
        return f"device {device.id}", [device]
    group, kind = (
        ("cabinet", Kind.STREETLIGHT) if body.cabinet else ("junction", Kind.TRAFFIC_SIGNAL)
    )
    name = body.cabinet or body.junction
    if body.action not in actions_for(kind):
        raise field_error(
            ("body", "action"), f"a {group}'s {kind.value}s cannot {body.action.value}"
        )
    devices = [
        device
        for device in registry.of_kind(kind)
        if getattr(device, group) == name
        and (body.district is None or device.district == body.district)
    ]
    if not devices:
        where = f" in {body.district}" if body.district else ""
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no {kind.value} in {group} {name}{where}")
    return f"{group} {name}" + (f" ({body.district})" if body.district else ""), devices


@router.post(
    "",
    response_model=CommandOut,
    status_code=status.HTTP_202_ACCEPTED,
    responses={200: {"model": CommandOut, "description": "finished within wait_s"}},
)
async def send_command(
    body: CommandIn,
    response: Response,
    ctx: Context,
    caller: Annotated[Caller, Depends(require(Scope.OPERATE))],
    wait_s: Annotated[
        float, Query(ge=0, le=60, description="wait this long for the devices' replies")
    ] = 0,
) -> CommandOut:
    """Send a command, QoS 1, with a correlation id; 202 while devices have not all answered,
    200 when they did within ``wait_s``. Read it back at ``/commands/{id}``.

    Scope: operate."""
    command = _command(body)
    target, devices = _targets(body, ctx.registry)
    record = await ctx.commands.send(
        command, devices, target=target, requested_by=caller.name, token_id=caller.token_id
    )
    if wait_s > 0:
        record = await ctx.commands.wait(record.id, wait_s) or record
    if record.status is not CommandStatus.SENT:
        response.status_code = status.HTTP_200_OK
    return CommandOut.of(record)


@router.get("", response_model=list[CommandOut], dependencies=[Depends(require(Scope.READ))])
async def recent_commands(
    ctx: Context, limit: Annotated[int, Query(ge=1, le=1_000)] = 50
) -> list[CommandOut]:
    """The audit: newest commands first, with who asked and what each device answered.

    Scope: read."""
    return [CommandOut.of(record) for record in await ctx.commands.recent(limit)]


@router.get("/{command_id}", response_model=CommandOut, dependencies=[Depends(require(Scope.READ))])
async def one_command(
    ctx: Context,
    command_id: str,
    wait_s: Annotated[float, Query(ge=0, le=60, description="wait for it to finish")] = 0,
) -> CommandOut:
    """One command by id: its status and each device's answer.

    Scope: read."""
    record = await ctx.commands.wait(command_id, wait_s)
    if record is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no command {command_id}")
    return CommandOut.of(record)
