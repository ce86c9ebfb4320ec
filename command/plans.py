"""Response plans (预案): what to do about an incident of one type, step by step, in YAML.

One file a plan, under ``config/plans/``, versioned with the project::

    name: cabinet-power-cut
    version: 1
    incident_type: lighting
    title: Cabinet power cut
    escalate_to: duty-officer          # the team told when a step's deadline passes
    steps:
      - id: notify-lighting-crew
        title: Tell the lighting crew
        do: notify                     # the platform sends it (Alertmanager's receivers, MQTT)
        notify: {team: lighting, text: "Cabinet {cabinet} has lost power"}
        within: 2m
      - id: dim-neighbours
        title: Neighbouring cabinets to 100 %
        do: command                    # a downlink command, tracked to each device's reply
        command: {action: dim, level_pct: 100, targets: neighbouring_groups}
        within: 5m
      - id: send-crew
        title: Send a crew to the cabinet
        do: person                     # a person marks it done, with a comment
        role: lighting crew
        within: 30m

Errors name the file, the line and the field (``cabinet-power-cut.yaml:14: steps.1.command:
dim needs level_pct``); ``smartcity plans check FILE|DIR`` prints them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from alerts import parse_duration
from command.errors import PlanFileInvalid
from devices import (
    Command,
    CommandAction,
    SignalMode,
    YamlFileInvalid,
    line_of,
    read_with_lines,
    strip_lines,
    validation_problems,
)

__all__ = [
    "CommandSpec",
    "NotifySpec",
    "Plan",
    "PlanStep",
    "load_plan",
    "load_plans",
    "plan_files",
]

NAME = r"^[a-z0-9][a-z0-9_-]{0,63}$"
Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
Targets = Literal["incident_group", "neighbouring_groups"]


class NotifySpec(BaseModel):
    """A notification the platform sends: to whom (a team, as Alertmanager routes it), what."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    team: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    text: str = Field(min_length=1, max_length=500)


class CommandSpec(BaseModel):
    """A downlink command the platform sends to devices picked relative to the incident:
    ``incident_group`` (the incident's cabinet or junction) or ``neighbouring_groups`` (the
    other cabinets or junctions of its district)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    action: CommandAction
    targets: Targets
    level_pct: float | None = Field(default=None, ge=0, le=100)
    plan_id: int | None = Field(default=None, ge=0, le=255)
    mode: SignalMode | None = None
    duration_s: float | None = Field(default=None, gt=0, le=7 * 86_400)
    timeout_s: float = Field(default=30.0, gt=0, le=600, description="wait for each reply")

    @model_validator(mode="after")
    def _is_a_command(self) -> CommandSpec:
        try:
            self.build("check")
        except ValidationError as exc:
            raise ValueError(validation_problems(exc)[0].message) from None
        return self

    def build(self, command_id: str) -> Command:
        """The device command this spec sends, with its correlation id."""
        return Command(
            command_id=command_id,
            action=self.action,
            level_pct=self.level_pct,
            plan_id=self.plan_id,
            mode=self.mode,
            duration_s=self.duration_s,
        )


class PlanStep(BaseModel):
    """One step: done by a person, or carried out by the platform (notify, command)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=NAME)
    title: str = Field(min_length=1, max_length=200)
    do: Literal["person", "notify", "command"]
    role: str | None = Field(default=None, max_length=100)
    notify: NotifySpec | None = None
    command: CommandSpec | None = None
    within: Duration | None = None

    @model_validator(mode="after")
    def _has_what_it_does(self) -> PlanStep:
        if self.do == "notify" and self.notify is None:
            raise ValueError("a 'notify' step needs notify: {team, text}")
        if self.do == "command" and self.command is None:
            raise ValueError("a 'command' step needs command: {action, targets, ...}")
        if self.do != "notify" and self.notify is not None:
            raise ValueError(f"a {self.do!r} step has no notify")
        if self.do != "command" and self.command is not None:
            raise ValueError(f"a {self.do!r} step has no command")
        return self


class Plan(BaseModel):
    """A response plan for one incident type."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=NAME)
    version: int = Field(ge=1)
    incident_type: str = Field(pattern=NAME)
    title: str = Field(min_length=1, max_length=200)
    escalate_to: str = Field(default="duty-officer", pattern=NAME)
    steps: tuple[PlanStep, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_steps(self) -> Plan:
        seen: set[str] = set()
        for step in self.steps:
            if step.id in seen:
                raise ValueError(f"step id {step.id!r} is used twice")
            seen.add(step.id)
        return self

    @property
    def reference(self) -> str:
        """``name@version``, what an incident records."""
        return f"{self.name}@{self.version}"


def plan_files(path: str | Path) -> list[Path]:
    """A file itself, or a folder's ``*.yaml``/``*.yml`` files in name order."""
    target = Path(path)
    if target.is_dir():
        return sorted([*target.glob("*.yaml"), *target.glob("*.yml")])
    return [target]


def load_plan(path: str | Path) -> Plan:
    """Read one plan; ``PlanFileInvalid`` names the file, line and field."""
    where = str(path)
    try:
        document = read_with_lines(path)
    except YamlFileInvalid as exc:
        raise PlanFileInvalid(where, exc.reason, exc.line) from exc
    if not isinstance(document, dict):
        raise PlanFileInvalid(where, "expected a mapping with name, version, steps", 1)
    try:
        return Plan.model_validate(strip_lines(document))
    except ValidationError as exc:
        problem = validation_problems(exc)[0]
        raise PlanFileInvalid(where, problem.sentence, line_of(document, problem.location)) from exc


def load_plans(path: str | Path) -> Mapping[str, Plan]:
    """Every plan of a file or folder, by name; a name used twice is an error."""
    plans: dict[str, Plan] = {}
    files = plan_files(path)
    if not files or not all(file.exists() for file in files):
        raise PlanFileInvalid(str(path), "no plan files found")
    for file in files:
        plan = load_plan(file)
        if plan.name in plans:
            raise PlanFileInvalid(str(file), f"plan name {plan.name!r} is used twice", 1)
        plans[plan.name] = plan
    return plans
