"""Device presence and sequence tracking: online/offline, last seen, gaps, duplicates, replays.

State per device lives in one process only (see ``gateway.partition``): split between workers, a
device's sequence would look full of gaps.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum

from devices import Status

__all__ = ["DeviceState", "Presence", "SeqVerdict"]

_RECENT = 256  # sequence numbers remembered per device, to tell a duplicate from a replay


class SeqVerdict(StrEnum):
    """What one message's ``seq`` says about the device's stream."""

    FIRST = "first"
    NEXT = "next"
    GAP = "gap"
    DUPLICATE = "duplicate"
    LATE = "late"
    REPLAY = "replay"
    RESET = "reset"


@dataclass(slots=True)
class DeviceState:
    """What the gateway knows of one device."""

    online: bool | None = None
    last_seen: float = 0.0
    last_seq: int | None = None
    missing: int = 0
    duplicates: int = 0
    late: int = 0
    replays: int = 0
    resets: int = 0
    recent: deque[int] = field(default_factory=lambda: deque(maxlen=_RECENT))
    recent_set: set[int] = field(default_factory=set)

    def remember(self, seq: int) -> None:
        if len(self.recent) == _RECENT:
            self.recent_set.discard(self.recent[0])
        self.recent.append(seq)
        self.recent_set.add(seq)


class Presence:
    """Per-device state, updated in receive order by the gateway's single collector."""

    def __init__(self) -> None:
        self.devices: dict[str, DeviceState] = {}

    def state(self, device_id: str) -> DeviceState:
        """The device's state, created on first sight."""
        found = self.devices.get(device_id)
        if found is None:
            found = self.devices[device_id] = DeviceState()
        return found

    def status(self, device_id: str, status: Status, received_at: float) -> bool:
        """Record a status (or last-will); ``True`` when the device's online state changed."""
        state = self.state(device_id)
        state.last_seen = max(state.last_seen, received_at)
        changed = state.online is not status.online
        state.online = status.online
        return changed

    def reading(self, device_id: str, seq: int, received_at: float) -> tuple[SeqVerdict, int]:
        """Record a reading's ``seq``; the verdict and how many readings it shows missing."""
        state = self.state(device_id)
        state.last_seen = max(state.last_seen, received_at)
        last = state.last_seq
        if last is None:
            verdict, missing = SeqVerdict.FIRST, 0
        elif seq == last + 1:
            verdict, missing = SeqVerdict.NEXT, 0
        elif seq > last + 1:
            verdict, missing = SeqVerdict.GAP, seq - last - 1
        elif seq in state.recent_set:
            verdict, missing = SeqVerdict.DUPLICATE, 0
        elif seq == 0:
            verdict, missing = SeqVerdict.RESET, 0
        elif last - seq < _RECENT:
            verdict, missing = SeqVerdict.LATE, -1
        else:
            verdict, missing = SeqVerdict.REPLAY, 0
        if verdict is SeqVerdict.DUPLICATE:
            state.duplicates += 1
            return verdict, 0
        state.remember(seq)
        if verdict is SeqVerdict.REPLAY:
            state.replays += 1
        elif verdict is SeqVerdict.LATE:
            # it fills a gap counted earlier
            state.late += 1
            state.missing = max(0, state.missing - 1)
        else:
            if verdict is SeqVerdict.RESET:
                state.resets += 1
            state.missing += missing
            state.last_seq = seq
        return verdict, missing

    def online_count(self) -> int:
        """Devices whose last status said online."""
        return sum(1 for state in self.devices.values() if state.online)
