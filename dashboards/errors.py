"""What can go wrong building, writing or pushing dashboards."""

from __future__ import annotations

__all__ = ["DashboardsError", "PushFailed", "UnknownName"]


class DashboardsError(Exception):
    """Base of the dashboards room's errors."""


class UnknownName(DashboardsError):
    """A panel names a measurement or field the device schemas do not have."""


class PushFailed(DashboardsError):
    """Grafana refused or could not be reached; says which request and what it answered."""

    def __init__(self, request: str, detail: str) -> None:
        super().__init__(f"{request}: {detail}")
        self.request = request
        self.detail = detail
