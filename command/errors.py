"""Emergency command's errors: one base, subclasses named for what happened, with where."""

from __future__ import annotations

from devices import YamlFileInvalid

__all__ = [
    "CommandError",
    "IncidentInvalid",
    "IncidentNotFound",
    "IncidentStateUnusable",
    "IncidentUnchangeable",
    "PlanFileInvalid",
    "StepNotFound",
    "TransitionRefused",
    "UnknownPlan",
]


class CommandError(Exception):
    """Base of every error the command room raises."""


class PlanFileInvalid(YamlFileInvalid, CommandError):
    """A response plan or incident-rules file that cannot be loaded; names file, line, field.

    ``plans/cabinet-power-cut.yaml:12: steps.1.within: …``
    """


class IncidentNotFound(CommandError):
    """No incident has this id."""

    def __init__(self, incident_id: int) -> None:
        self.incident_id = incident_id
        super().__init__(f"no incident #{incident_id}")


class StepNotFound(CommandError):
    """The incident's plan has no step of this id."""

    def __init__(self, incident_id: int, step: str, known: tuple[str, ...]) -> None:
        self.incident_id = incident_id
        self.step = step
        super().__init__(
            f"incident #{incident_id} has no step {step!r}; its steps: {', '.join(known) or '-'}"
        )


class TransitionRefused(CommandError):
    """A status change the workflow does not allow (``resolved`` → ``open``, …)."""

    def __init__(self, incident_id: int, current: str, wanted: str, allowed: tuple[str, ...]):
        self.incident_id = incident_id
        self.current = current
        self.wanted = wanted
        choices = ", ".join(allowed) if allowed else "none: the incident is closed"
        super().__init__(
            f"incident #{incident_id} is {current}: cannot go to {wanted} (allowed: {choices})"
        )


class IncidentUnchangeable(CommandError):
    """A change refused for a reason other than the status order (closing without a report,
    marking a step done twice, noting on a closed incident)."""

    def __init__(self, incident_id: int, reason: str) -> None:
        self.incident_id = incident_id
        self.reason = reason
        super().__init__(f"incident #{incident_id}: {reason}")


class IncidentStateUnusable(CommandError):
    """The incident store cannot be opened or read; names the file."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


class UnknownPlan(CommandError):
    """An incident opened with a plan that is not loaded."""

    def __init__(self, plan: str, known: tuple[str, ...]) -> None:
        self.plan = plan
        super().__init__(f"no plan {plan!r} (known: {', '.join(known) or 'none'})")


class IncidentInvalid(CommandError):
    """A new incident with a value it cannot have; names the field."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")
