"""Errors of the simulators.

SimulatorError
├── FleetFileInvalid(path, reason, line)   (also a devices.YamlFileInvalid)
├── ScenarioInvalid(path, reason, event, line)
├── BrokerUnreachable(url, reason)
└── CommandRejected(device_id, reason)
"""

from __future__ import annotations

from devices import YamlFileInvalid

__all__ = [
    "BrokerUnreachable",
    "CommandRejected",
    "FleetFileInvalid",
    "ScenarioInvalid",
    "SimulatorError",
]


class SimulatorError(Exception):
    """Base of every error raised by ``simulators``."""


class FleetFileInvalid(SimulatorError, YamlFileInvalid):
    """A fleet file that cannot describe a city; names the file, the line and what is wrong."""


class ScenarioInvalid(SimulatorError):
    """A scenario file that cannot be run; names the file, the line, the event (its index in
    ``events``) and the problem."""

    def __init__(
        self, path: str, reason: str, event: int | None = None, line: int | None = None
    ) -> None:
        where = f"{path}:{line}" if line is not None else path
        if event is not None:
            where += f": event #{event + 1}"
        super().__init__(f"{where}: {reason}")
        self.path = path
        self.reason = reason
        self.event = event
        self.line = line


class BrokerUnreachable(SimulatorError):
    """The broker did not accept a connection in time."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason


class CommandRejected(SimulatorError):
    """A downlink command a device cannot carry out; the reason goes back in its reply."""

    def __init__(self, device_id: str, reason: str) -> None:
        super().__init__(f"{device_id}: {reason}")
        self.device_id = device_id
        self.reason = reason
