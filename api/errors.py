"""What can go wrong in the operators' API, each error carrying where it happened."""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "ApiError",
    "CommandNotDelivered",
    "ListenFailed",
    "TokenFileInvalid",
    "TokenNameTaken",
    "TokenNotFound",
]


class ApiError(Exception):
    """Base of the API's errors."""


class TokenFileInvalid(ApiError):
    """The token file cannot be read, is not ours, or is open to other users."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class TokenNameTaken(ApiError):
    """A token of that name exists already: names say who asked, so they are unique."""

    def __init__(self, name: str) -> None:
        super().__init__(f"a token named {name!r} exists already; revoke it first")
        self.name = name


class TokenNotFound(ApiError):
    """No token has that id or name."""

    def __init__(self, key: str) -> None:
        super().__init__(f"no token with id or name {key!r}")
        self.key = key


class CommandNotDelivered(ApiError):
    """The broker did not take a command (not connected, refused, or timed out)."""

    def __init__(self, topic: str, reason: str) -> None:
        super().__init__(f"{topic}: {reason}")
        self.topic = topic
        self.reason = reason


class ListenFailed(ApiError):
    """The API could not listen where it was told to."""

    def __init__(self, host: str, port: int, reason: str) -> None:
        super().__init__(f"the API cannot listen on {host}:{port}: {reason}")
        self.host = host
        self.port = port
        self.reason = reason
