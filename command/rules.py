"""Which alerts open (or join) an incident: the incident rules, in YAML.

``config/incidents.yaml``::

    openers:
      - name: cabinet-power-cut
        rules: [cabinet-power-lost]    # alert rules (config/rules/) that count
        severity: [critical]           # optional: only these severities
        type: lighting
        group_by: [cabinet]            # a new alert with the same type and cabinet joins
        plan: cabinet-power-cut        # config/plans/cabinet-power-cut.yaml
        title: "Cabinet {cabinet} without power"
      - name: water-pollution
        rules: [ammonia-rising-fast, water-below-target-class]
        upstream_of_intake: true       # only a section at or above a waterworks intake
        type: environmental
        group_by: [river]
        plan: pollution-spill
        title: "Pollution on {river}"
        forecast: spill                # say where it goes next
    intakes:                           # waterworks intakes, placed after a river section
      - {name: jade-waterworks, river: jade, section: S5, km_below_section: 0.6}
    spill_margin: 30m                  # a station is "missed" this long after its expected time

A river's stretches and flow come from the registry's ``waters``; ``rivers:`` here, with the
registry's field names, gives them for a registry that does not have them yet.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from alerts import Alert, parse_duration
from command.errors import PlanFileInvalid
from command.plans import NAME, Plan
from devices import (
    PLACEMENT_TAGS,
    YamlFileInvalid,
    line_of,
    read_with_lines,
    strip_lines,
    validation_problems,
)

__all__ = [
    "IncidentRules",
    "Intake",
    "Opener",
    "RiverStretchLength",
    "RiverWater",
    "load_incident_rules",
]

_GROUP = r"^[A-Za-z0-9_.-]{1,64}$"


class Opener(BaseModel):
    """An incident rule: alerts of these rules open an incident of this type, one per group."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=NAME)
    rules: tuple[str, ...] = Field(min_length=1)
    severity: tuple[str, ...] = ()
    type: str = Field(pattern=NAME)
    group_by: tuple[Literal["cabinet", "river", "section", "junction", "district"], ...] = Field(
        min_length=1
    )
    plan: str | None = Field(default=None, pattern=NAME)
    title: str = Field(min_length=1, max_length=200)
    upstream_of_intake: bool = False
    forecast: Literal["spill"] | None = None

    @model_validator(mode="after")
    def _title_uses_group_labels(self) -> Opener:
        names = {name for _, name, _, _ in string.Formatter().parse(self.title) if name}
        unknown = names - {*self.group_by, "district", "device", "rule", "severity"}
        if unknown:
            raise ValueError(f"title uses {', '.join(sorted(unknown))}, not in group_by")
        if self.forecast == "spill" and "river" not in self.group_by:
            raise ValueError("a spill forecast needs group_by: [river]")
        return self

    def matches(self, alert: Alert) -> bool:
        """Whether this alert counts for this rule (the intake check is the service's)."""
        if alert.rule not in self.rules:
            return False
        if self.severity and alert.severity not in self.severity:
            return False
        return all(self.group_value(alert, name) for name in self.group_by)

    @staticmethod
    def group_value(alert: Alert, name: str) -> str | None:
        """A group label of the alert; the district is the alert's own."""
        return alert.district if name == "district" else alert.labels.get(name)

    def placement(self, alert: Alert) -> dict[str, str]:
        """The group the alert belongs to, as the incident records it."""
        return {name: self.group_value(alert, name) or "" for name in self.group_by}

    def title_for(self, alert: Alert) -> str:
        """The incident's title from the alert's labels."""
        values: dict[str, str] = {
            **{tag: alert.labels.get(tag, "") for tag in PLACEMENT_TAGS},
            "district": alert.district,
            "device": alert.labels.get("device", ""),
            "rule": alert.rule,
            "severity": alert.severity,
        }
        return self.title.format(**values)


class Intake(BaseModel):
    """A waterworks intake on a river, a distance below a monitoring section."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=_GROUP)
    river: str = Field(pattern=_GROUP)
    section: str = Field(pattern=_GROUP)
    km_below_section: float = Field(default=0.0, ge=0, le=1_000)


class RiverStretchLength(BaseModel):
    """A river stretch ending at its monitoring section (the registry's field names)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=_GROUP)
    length_km: float = Field(gt=0, le=1_000)


class RiverWater(BaseModel):
    """A river's stretches and flow, for a registry that does not carry them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=_GROUP)
    flow_m_s: float | None = Field(default=None, gt=0, le=10)
    sections: tuple[RiverStretchLength, ...] = ()


class IncidentRules(BaseModel):
    """The whole incident-rules file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    openers: tuple[Opener, ...] = ()
    intakes: tuple[Intake, ...] = ()
    rivers: tuple[RiverWater, ...] = ()
    spill_margin: Annotated[timedelta, BeforeValidator(parse_duration)] = timedelta(minutes=30)

    @model_validator(mode="after")
    def _unique_names(self) -> IncidentRules:
        names = [opener.name for opener in self.openers]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"opener {name!r} is listed twice")
        return self

    def water(self, river: str) -> RiverWater | None:
        """This file's stretches and flow of a river."""
        return next((water for water in self.rivers if water.name == river), None)


def load_incident_rules(path: str | Path, plans: Mapping[str, Plan]) -> IncidentRules:
    """Read the incident rules; every opener's plan must exist and be for its type."""
    where = str(path)
    try:
        document = read_with_lines(path)
    except YamlFileInvalid as exc:
        raise PlanFileInvalid(where, exc.reason, exc.line) from exc
    if document is None:
        return IncidentRules()
    if not isinstance(document, dict):
        raise PlanFileInvalid(where, "expected a mapping with openers, intakes", 1)
    try:
        rules = IncidentRules.model_validate(strip_lines(document))
    except ValidationError as exc:
        problem = validation_problems(exc)[0]
        raise PlanFileInvalid(where, problem.sentence, line_of(document, problem.location)) from exc
    for index, opener in enumerate(rules.openers):
        if opener.plan is None:
            continue
        line = line_of(document, ["openers", index, "plan"])
        plan = plans.get(opener.plan)
        if plan is None:
            known = ", ".join(sorted(plans)) or "none"
            raise PlanFileInvalid(
                where, f"openers.{index}.plan: unknown plan {opener.plan!r} (known: {known})", line
            )
        if plan.incident_type != opener.type:
            raise PlanFileInvalid(
                where,
                f"openers.{index}.plan: plan {plan.name!r} is for {plan.incident_type!r}"
                f" incidents, not {opener.type!r}",
                line,
            )
    return rules
