"""Silences: an operator's "I know, stop telling people" for alerts that match some labels."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from alerts.model import Alert

__all__ = ["Silence"]


@dataclass(frozen=True, slots=True)
class Silence:
    """Mutes alerts whose labels (and ``rule``) equal every matcher, from start to end."""

    id: int
    matchers: Mapping[str, str]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str

    def active_at(self, at: datetime) -> bool:
        """Whether the silence is in force at ``at``."""
        return self.starts_at <= at < self.ends_at

    def mutes(self, alert: Alert, at: datetime) -> bool:
        """Whether this silence mutes ``alert`` at ``at``."""
        if not self.active_at(at):
            return False
        for name, wanted in self.matchers.items():
            actual = alert.rule if name == "rule" else alert.labels.get(name)
            if actual != wanted:
                return False
        return True
