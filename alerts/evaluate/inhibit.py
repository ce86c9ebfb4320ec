"""Inhibition: while a source rule fires, the target rules' alerts that share the named labels
stay pending (a camera offline covers the same camera falling silent)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from alerts.model import Alert, AlertState

if TYPE_CHECKING:
    from alerts.evaluate.compile import CompiledRule

__all__ = ["inhibited", "link_inhibitors"]


def link_inhibitors(compiled: Mapping[str, CompiledRule]) -> None:
    """Give every target rule the list of (source rule, equal labels) that can inhibit it."""
    for source in compiled.values():
        inhibit = source.rule.inhibits
        if inhibit is None:
            continue
        for target in inhibit.rules:
            if target in compiled:
                compiled[target].inhibitors.append((source.rule.name, inhibit.equal))


def inhibited(item: CompiledRule, alert: Alert, alerts: Iterable[Alert]) -> bool:
    """Whether a firing alert of an inhibiting rule shares the ``equal`` labels with ``alert``."""
    if not item.inhibitors:
        return False
    for source, equal in item.inhibitors:
        for other in alerts:
            if (
                other.rule == source
                and other.state is AlertState.FIRING
                and all(other.labels.get(name) == alert.labels.get(name) for name in equal)
            ):
                return True
    return False
