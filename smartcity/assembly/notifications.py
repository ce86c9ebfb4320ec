"""Settings → the demo's notification receivers, and what they received (for the console, the
status command and the operators' page)."""

from __future__ import annotations

import contextlib

from smartcity.receivers import LocalReceivers, Notification, recent_notifications
from smartcity.settings import Settings

__all__ = ["demo_receivers", "notifications", "with_demo_receivers"]


def demo_receivers(settings: Settings) -> LocalReceivers:
    """The webhook receiver and SMTP catcher ``smartcity up --demo`` starts (not yet started)."""
    return LocalReceivers(settings.demo_notifications_path, keep=settings.demo_notifications_keep)


def notifications(settings: Settings, limit: int = 10) -> list[Notification]:
    """The newest ``limit`` notifications the demo's receivers recorded, newest first."""
    return recent_notifications(settings.demo_notifications_path, limit)


def with_demo_receivers(
    settings: Settings, stack: contextlib.ExitStack
) -> tuple[Settings, dict[str, str]]:
    """Start the demo's webhook receiver and SMTP catcher (on ``stack``) for whichever of the two
    the settings leave unset; the settings with the SMTP server put in, and where notifications
    go (``webhook``, ``smtp``)."""
    update: dict[str, object] = {}
    if settings.alertmanager_webhook_url is None or settings.alertmanager_smtp_smarthost is None:
        local = stack.enter_context(demo_receivers(settings))
        webhook = settings.alertmanager_webhook_url or local.webhook_url
        if settings.alertmanager_smtp_smarthost is None:
            update["alertmanager_smtp_smarthost"] = local.smtp_smarthost
    else:
        webhook = settings.alertmanager_webhook_url or ""
    # the webhook is not put into the settings: a URL set there replaces the API's relay, the
    # demo's receiver goes beside it (``local_endpoints(demo_webhook=...)``)
    settings = settings.model_copy(update=update)
    return settings, {"webhook": webhook, "smtp": settings.alertmanager_smtp_smarthost or ""}
