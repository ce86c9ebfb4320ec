"""Errors of the device catalogue.

DeviceError
├── TopicInvalid(topic, reason)
├── PayloadInvalid(topic, reason, field)
├── YamlFileInvalid(path, reason, line)
│   └── RegistryInvalid(path, reason, line)
├── CredentialsInvalid(where, reason)
└── CertificateInvalid(path, reason)
"""

from __future__ import annotations

__all__ = [
    "BrokerUrlInvalid",
    "CertificateInvalid",
    "CredentialsInvalid",
    "DeviceError",
    "PayloadInvalid",
    "RegistryInvalid",
    "TopicInvalid",
    "YamlFileInvalid",
]


class DeviceError(Exception):
    """Base of every error raised by ``devices``."""


class BrokerUrlInvalid(DeviceError):
    """A broker URL that cannot be used; the password is never part of the message."""

    def __init__(self, url: str, reason: str) -> None:
        shown = url.split("@", 1)[-1] if "@" in url else url
        super().__init__(f"broker URL {shown!r}: {reason}")
        self.url = shown
        self.reason = reason


class TopicInvalid(DeviceError):
    """A topic that is not part of the scheme."""

    def __init__(self, topic: str, reason: str) -> None:
        super().__init__(f"topic {topic!r}: {reason}")
        self.topic = topic
        self.reason = reason


class PayloadInvalid(DeviceError):
    """A payload that does not match its kind's schema.

    ``code`` is a short stable reason for counters and dead-letter topics; ``reason`` is the
    sentence a person reads ("ph 15.3 out of range 0–14").
    """

    def __init__(self, topic: str, code: str, reason: str, field: str | None = None) -> None:
        super().__init__(f"{topic}: {reason}")
        self.topic = topic
        self.code = code
        self.reason = reason
        self.field = field


class YamlFileInvalid(DeviceError):
    """A YAML file that cannot be read or parsed; names the file and, when known, the line.

    Rooms that read their own files re-raise it as their own error (``RegistryInvalid``,
    ``simulators.FleetFileInvalid``), which is a ``YamlFileInvalid`` too.
    """

    def __init__(self, path: str, reason: str, line: int | None = None) -> None:
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"{where}: {reason}")
        self.path = path
        self.reason = reason
        self.line = line


class CredentialsInvalid(DeviceError):
    """A secrets file or a credentials request that cannot be used; never shows a password."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}")
        self.where = where
        self.reason = reason


class CertificateInvalid(DeviceError):
    """A certificate or key that cannot be read or used; names the file."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class RegistryInvalid(YamlFileInvalid):
    """A fleet registry file that cannot be loaded; names the file, line and what is wrong."""
