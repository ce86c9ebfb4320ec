"""Live updates for the page: short-lived stream tickets, and what changed since last looked.

The browser's ``EventSource`` cannot set an ``Authorization`` header, and a bearer token in a
URL would land in access logs and browser history. So the page trades its token (in a header,
``POST /events/ticket``) for a ticket: random, good for ``ttl_s`` seconds and for one stream,
tied to the token it came from. A stream ends when that token is revoked. A cookie would work
too, but would also ride along on every other request and invite cross-site request forgery.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from alerts import Alert
from api.sources import DevicePresence
from devices import Registry

__all__ = ["StreamTickets", "Ticket", "alerts_digest", "presence_by_district"]


@dataclass(frozen=True, slots=True)
class Ticket:
    """Who may open one stream, until when (monotonic seconds)."""

    token_id: str
    name: str
    expires_at: float


class StreamTickets:
    """Tickets made and not yet used; at most ``max_open`` at a time (oldest dropped)."""

    def __init__(
        self,
        *,
        ttl_s: float,
        max_open: int = 1_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_s = ttl_s
        self._max_open = max_open
        self._clock = clock
        self._tickets: dict[str, Ticket] = {}
        self._lock = threading.Lock()

    def issue(self, token_id: str, name: str) -> str:
        """A new ticket for the holder of ``token_id``."""
        ticket = secrets.token_urlsafe(24)
        now = self._clock()
        with self._lock:
            self._tickets = {k: t for k, t in self._tickets.items() if t.expires_at > now}
            while len(self._tickets) >= self._max_open:
                self._tickets.pop(next(iter(self._tickets)))
            self._tickets[ticket] = Ticket(token_id, name, now + self.ttl_s)
        return ticket

    def redeem(self, ticket: str) -> Ticket | None:
        """The ticket's holder, once; ``None`` if it is unknown, used or expired."""
        with self._lock:
            found = self._tickets.pop(ticket, None)
        if found is None or found.expires_at <= self._clock():
            return None
        return found


def alerts_digest(alerts: Sequence[Alert]) -> tuple[tuple[str, str, str | None], ...]:
    """What the page shows of the active alerts, to tell whether anything changed."""
    return tuple((a.fingerprint, a.state.value, a.acknowledged_by) for a in alerts)


def presence_by_district(
    registry: Registry, presence: Mapping[str, DevicePresence]
) -> dict[str, dict[str, int]]:
    """Per district: devices, online, offline, never heard."""
    counts: dict[str, dict[str, int]] = {}
    for device in registry.values():
        row = counts.setdefault(
            device.district, {"devices": 0, "online": 0, "offline": 0, "unknown": 0}
        )
        row["devices"] += 1
        seen = presence.get(device.id)
        state = (
            "unknown"
            if seen is None or seen.online is None
            else ("online" if seen.online else "offline")
        )
        row[state] += 1
    return dict(sorted(counts.items()))
