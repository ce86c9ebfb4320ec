"""Failed authentication attempts, limited per client address (a sliding window)."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable

__all__ = ["FailedAttempts"]


class FailedAttempts:
    """At most ``max_failures`` wrong tokens per ``window_s`` from one address; past that, the
    address waits until its oldest failure leaves the window, whatever token it shows.

    Memory is bounded: at most ``max_clients`` addresses are remembered, the least recently
    failing forgotten first.
    """

    def __init__(
        self,
        *,
        max_failures: int,
        window_s: float,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._max_clients = max_clients
        self._clock = clock
        self._lock = threading.Lock()
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self.refused = 0
        """Requests answered 429 since start."""

    def retry_after_s(self, client: str) -> float | None:
        """Seconds this address must wait before it may try again, or ``None`` if it may now."""
        now = self._clock()
        with self._lock:
            failures = self._failures.get(client)
            if failures is None:
                return None
            while failures and failures[0] <= now - self.window_s:
                failures.popleft()
            if not failures:
                del self._failures[client]
                return None
            if len(failures) < self.max_failures:
                return None
            self.refused += 1
            return max(failures[0] + self.window_s - now, 0.001)

    def failed(self, client: str) -> None:
        """Count one wrong token from this address."""
        now = self._clock()
        with self._lock:
            failures = self._failures.pop(client, None)
            if failures is None:
                failures = deque(maxlen=self.max_failures)
            failures.append(now)
            self._failures[client] = failures
            while len(self._failures) > self._max_clients:
                self._failures.popitem(last=False)
