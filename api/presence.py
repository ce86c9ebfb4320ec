"""Device presence from the devices' own ``status`` messages, for an API running on its own.

Inside ``smartcity up`` the gateway's tracker is the source (it also sees every reading); on its
own the API subscribes to ``city/+/+/+/status``: the broker hands over every device's retained
status at once, then each change. Last seen is then the time of the last status, not of the
last reading.
"""

from __future__ import annotations

import time
from collections.abc import Container, Mapping
from datetime import UTC, datetime

from api.sources import DevicePresence
from devices import Message, Status

__all__ = ["StatusPresence"]


class StatusPresence:
    """A ``PresenceSource`` fed by ``MqttLink`` with status messages of ``known`` devices (the
    registry)."""

    def __init__(self, known: Container[str]) -> None:
        self._known = known
        self._devices: dict[str, DevicePresence] = {}

    def presence(self) -> Mapping[str, DevicePresence]:
        """Every device whose status was heard, by id."""
        return self._devices

    async def on_status(self, message: Message, retained: bool) -> None:
        """Take one status message; a retained one without ``ts`` has no known time."""
        status = message.payload
        if not isinstance(status, Status) or message.topic.device_id not in self._known:
            return  # remembering only the fleet's devices keeps memory bounded
        seen: datetime | None
        if status.ts is not None:
            seen = status.ts
        elif retained:
            seen = None  # a stored last-will: when it fired is unknown
        else:
            seen = datetime.fromtimestamp(time.time(), UTC)
        previous = self._devices.get(message.topic.device_id)
        if previous is not None and previous.last_seen and seen and seen < previous.last_seen:
            seen = previous.last_seen
        self._devices[message.topic.device_id] = DevicePresence(status.online, seen)
