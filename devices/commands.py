"""Downlink commands (``cmd`` channel) and the device's reply (``cmd_result`` channel).

The platform publishes a ``Command`` on a device's ``cmd`` topic; the device answers once on its
``cmd_result`` topic with a ``CommandResult`` naming the same ``command_id``.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import ClassVar

from pydantic import Field, model_validator

from devices.payloads import Payload, Reading, SignalMode, Timestamp
from devices.topics import Kind

__all__ = ["ACTIONS_BY_KIND", "Command", "CommandAction", "CommandResult", "actions_for"]

COMMAND_ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"


class CommandAction(StrEnum):
    """What a command asks for; ``ACTIONS_BY_KIND`` says which kinds carry out which."""

    DIM = "dim"  # streetlight: level_pct, optionally for duration_s
    SET_PLAN = "set_plan"  # traffic signal: plan_id
    SET_MODE = "set_mode"  # traffic signal: mode, optionally for duration_s
    REBOOT = "reboot"  # any device


ACTIONS_BY_KIND: Mapping[Kind, frozenset[CommandAction]] = MappingProxyType(
    {
        Kind.STREETLIGHT: frozenset({CommandAction.DIM, CommandAction.REBOOT}),
        Kind.WATER_QUALITY: frozenset({CommandAction.REBOOT}),
        Kind.TRAFFIC_SIGNAL: frozenset(
            {CommandAction.SET_PLAN, CommandAction.SET_MODE, CommandAction.REBOOT}
        ),
        Kind.CHECKPOINT: frozenset({CommandAction.REBOOT}),
    }
)
"""Which actions each kind carries out; a device answers any other with ``ok: false``."""


def actions_for(kind: Kind) -> frozenset[CommandAction]:
    """The actions a device of this kind carries out."""
    return ACTIONS_BY_KIND[kind]


_REQUIRED: dict[CommandAction, tuple[str, ...]] = {
    CommandAction.DIM: ("level_pct",),
    CommandAction.SET_PLAN: ("plan_id",),
    CommandAction.SET_MODE: ("mode",),
    CommandAction.REBOOT: (),
}


class Command(Payload):
    """A downlink command to one device."""

    measurement: ClassVar[str] = "device_command"

    command_id: str = Field(pattern=COMMAND_ID_PATTERN)
    action: CommandAction
    ts: Timestamp | None = None
    level_pct: float | None = Field(default=None, ge=0, le=100)
    plan_id: int | None = Field(default=None, ge=0, le=255)
    mode: SignalMode | None = None
    duration_s: float | None = Field(default=None, gt=0, le=7 * 86_400)

    @model_validator(mode="after")
    def _check_arguments(self) -> Command:
        missing = [name for name in _REQUIRED[self.action] if getattr(self, name) is None]
        if missing:
            raise ValueError(f"{self.action.value} needs {', '.join(missing)}")
        return self


class CommandResult(Reading):
    """A device's answer to one command: done or not, and why not."""

    measurement: ClassVar[str] = "device_command_result"

    command_id: str = Field(pattern=COMMAND_ID_PATTERN)
    action: CommandAction
    ok: bool
    detail: str = Field(default="", max_length=256)
