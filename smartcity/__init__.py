"""The front door: the ``smartcity`` command, settings, and the local stack."""

from smartcity.settings import Settings, SettingsInvalid, load_settings

__all__ = ["Settings", "SettingsInvalid", "load_settings"]
