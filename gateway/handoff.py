"""A bounded hand-off from the receiver to the collector, both on the asyncio loop.

The receiver puts messages as it reads them off the socket and stops reading while the hand-off
is full (``full``); the broker then holds the rest, up to the Receive Maximum. The collector takes
batches by size and age; once a take makes room again, ``on_room`` tells the receiver to read on.
Everything runs on one thread, so there is no lock, and the consumer is woken only when it is
waiting and its wake-up condition is met, not once per message.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["Handoff"]

T = TypeVar("T")


class Handoff(Generic[T]):
    """Bounded producer side (the receiver); consumer side taking size/age batches."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._items: deque[T] = deque()
        self._wake = asyncio.Event()
        self._wake_at: int | None = None  # wake the consumer when this many items are held
        self._closed = False
        self._oldest_at = 0.0  # when the oldest held item arrived (monotonic)
        self.on_room: Callable[[], None] | None = None
        """Called when a take leaves room after the hand-off was full."""

    @property
    def depth(self) -> int:
        """Items held right now."""
        return len(self._items)

    @property
    def full(self) -> bool:
        """Whether the producer should stop until ``on_room`` is called."""
        return len(self._items) >= self._capacity

    @property
    def closed(self) -> bool:
        """Whether ``close`` was called; a closed hand-off takes no more items."""
        return self._closed

    def put(self, item: T) -> bool:
        """Add an item; ``False`` when closed (the item is not taken).

        It never waits: the producer checks ``full`` and stops producing, so the hand-off
        holds at most the capacity plus what the producer had read when it checked.
        """
        if self._closed:
            return False
        items = self._items
        if not items:
            self._oldest_at = time.monotonic()
        items.append(item)
        wake_at = self._wake_at
        if wake_at is not None and len(items) >= wake_at:
            self._wake_at = None
            self._wake.set()
        return True

    def close(self) -> None:
        """Refuse further items and wake the consumer; what is held can still be taken."""
        self._closed = True
        self._wake.set()

    async def take(self, max_items: int, max_age_s: float) -> list[T]:
        """The next batch: up to ``max_items``, waiting at most ``max_age_s`` after the first.

        Returns an empty list only once closed and drained.
        """
        while True:
            items = self._items
            held = len(items)
            now = time.monotonic()
            deadline = self._oldest_at + max_age_s
            if held and (held >= max_items or self._closed or now >= deadline):
                was_full = held >= self._capacity
                count = min(held, max_items)
                batch = [items.popleft() for _ in range(count)]
                # the rest arrived after the batch we took; close enough for an age limit
                self._oldest_at = now
                if was_full and not self.full and self.on_room is not None:
                    self.on_room()
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
