"""Settings → the demo's notification receivers, and what they received (for the console, the
status command and the operators' page)."""

from __future__ import annotations

from smartcity.receivers import LocalReceivers, Notification, recent_notifications
from smartcity.settings import Settings

__all__ = ["demo_receivers", "notifications"]


def demo_receivers(settings: Settings) -> LocalReceivers:
    """The webhook receiver and SMTP catcher ``smartcity up --demo`` starts (not yet started)."""
    return LocalReceivers(settings.demo_notifications_path, keep=settings.demo_notifications_keep)


def notifications(settings: Settings, limit: int = 10) -> list[Notification]:
    """The newest ``limit`` notifications the demo's receivers recorded, newest first."""
    return recent_notifications(settings.demo_notifications_path, limit)
