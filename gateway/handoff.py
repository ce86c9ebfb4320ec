"""A bounded hand-off from paho's network thread to the asyncio loop.

The producer (paho's thread) blocks while the hand-off is full: it then reads no more from the
socket and sends no acks, so the broker holds the rest. The consumer takes batches by size and
age. The producer wakes the loop only when the consumer is waiting and its wake-up condition is
met, not once per message: a ``call_soon_threadsafe`` per message would cost more than the
message's validation.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from typing import Generic, TypeVar

__all__ = ["Handoff"]

T = TypeVar("T")


class Handoff(Generic[T]):
    """Bounded, thread-safe producer side; asyncio consumer side taking size/age batches."""

    def __init__(self, capacity: int, loop: asyncio.AbstractEventLoop) -> None:
        self._capacity = capacity
        self._loop = loop
        self._items: deque[T] = deque()
        self._lock = threading.Lock()
        self._not_full = threading.Condition(self._lock)
        self._wake = asyncio.Event()
        self._wake_at: int | None = None  # wake the consumer when this many items are held
        self._closed = False
        self._oldest_at = 0.0  # when the oldest held item arrived (monotonic)

    @property
    def depth(self) -> int:
        """Items held right now."""
        return len(self._items)

    @property
    def closed(self) -> bool:
        """Whether ``close`` was called; a closed hand-off takes no more items."""
        return self._closed

    def put(self, item: T) -> bool:
        """Add an item, waiting while full; ``False`` when closed (the item is not taken)."""
        with self._not_full:
            while len(self._items) >= self._capacity and not self._closed:
                self._not_full.wait(0.5)
            if self._closed:
                return False
            if not self._items:
                self._oldest_at = time.monotonic()
            self._items.append(item)
            wake_at = self._wake_at
            if wake_at is not None and len(self._items) >= wake_at:
                self._wake_at = None
                self._loop.call_soon_threadsafe(self._wake.set)
        return True

    def close(self) -> None:
        """Refuse further items and wake everyone; what is held can still be taken."""
        with self._not_full:
            self._closed = True
            self._not_full.notify_all()
        if not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake.set)

    async def take(self, max_items: int, max_age_s: float) -> list[T]:
        """The next batch: up to ``max_items``, waiting at most ``max_age_s`` after the first.

        Returns an empty list only once closed and drained.
        """
        while True:
            with self._not_full:
                held = len(self._items)
                now = time.monotonic()
                deadline = self._oldest_at + max_age_s
                if held and (held >= max_items or self._closed or now >= deadline):
                    count = min(held, max_items)
                    batch = [self._items.popleft() for _ in range(count)]
                    # the rest arrived after the batch we took; close enough for an age limit
                    self._oldest_at = now
                    self._not_full.notify_all()
                    return batch
                if self._closed:
                    return []
                self._wake.clear()
                self._wake_at = 1 if held == 0 else max_items
            if held == 0:
                await self._wake.wait()
                continue
            try:
                async with asyncio.timeout(max(0.0, deadline - now)):
                    await self._wake.wait()
            except TimeoutError:
                pass
