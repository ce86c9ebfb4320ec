"""Handing alert changes to listeners without holding up the engine, and without losing any.

Each listener gets a ``ListenerChannel``: a bounded queue drained by a task of its own, so the
engine only puts changes in (never waits) and a slow or hung listener delays only itself. What
a listener does not get — its ``notify`` raised or timed out, or its queue was full and the
change was dropped (counted) — is owed to it: per alert, the latest change it missed. Once it
takes changes again (retried with a pause that doubles from ``retry_min_s`` to
``retry_max_s``), it gets what it is owed and the current state of every firing alert, oldest
first. The same catch-up, for every alert, is the engine's re-announcement (on its timer, or on
demand), marked ``reannounced``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from alerts.model import AlertChange, Notifier

__all__ = ["ListenerChannel", "ListenerStats"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ListenerStats:
    """What one listener was handed: delivered, failed attempts, dropped (queue full), owed."""

    listener: str
    delivered: int
    failed: int
    dropped: int
    queued: int
    owed: int


class ListenerChannel:
    """One listener's queue and the task that drains it (``run``)."""

    def __init__(
        self,
        listener: Notifier,
        current: Callable[[], Iterable[AlertChange]],
        *,
        queue_max: int,
        timeout_s: float,
        retry_min_s: float,
        retry_max_s: float,
    ) -> None:
        self.listener = listener
        self.name = type(listener).__name__
        self._current = current  # the latest announced change of every firing alert
        # each change is numbered as it is handed over, so a late answer about an older change
        # never cancels what is owed of a newer one
        self._queue: asyncio.Queue[tuple[int, AlertChange]] = asyncio.Queue(maxsize=queue_max)
        self._number = 0
        # by fingerprint, oldest first: bounded by the alerts there are, not by the changes
        self._owed: dict[str, tuple[int, AlertChange]] = {}
        # a listener may ask for longer than the engine's default (``notify_timeout_s``)
        own_timeout_s = getattr(listener, "notify_timeout_s", None)
        self._timeout_s = float(own_timeout_s) if own_timeout_s else timeout_s
        self._retry_min_s = retry_min_s
        self._retry_max_s = retry_max_s
        self._pause_s = 0.0
        self._retry_at: float | None = None  # loop time of the next catch-up after a failure
        self._reannounce_due = False
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self.delivered = 0
        self.failed = 0
        self.dropped = 0

    # --- the engine's side -------------------------------------------------------------------

    def offer(self, change: AlertChange) -> None:
        """Queue one change; never waits. A full queue drops it (counted) and owes it."""
        self._number += 1
        try:
            self._queue.put_nowait((self._number, change))
        except asyncio.QueueFull:
            self.dropped += 1
            self._owe(self._number, change)
            log.warning(
                "alert_listener_queue_full",
                extra={
                    "listener": self.name,
                    "fingerprint": change.alert.fingerprint,
                    "dropped": self.dropped,
                },
            )
        self._idle.clear()
        self._wake.set()

    def reannounce(self) -> None:
        """Tell the listener the current state of every firing alert again, soon."""
        self._reannounce_due = True
        self._idle.clear()
        self._wake.set()

    async def settled(self) -> None:
        """Wait until everything handed over so far was tried once (delivered or owed)."""
        await self._idle.wait()

    def stats(self) -> ListenerStats:
        """Counters for the console and the logs."""
        return ListenerStats(
            self.name,
            self.delivered,
            self.failed,
            self.dropped,
            self._queue.qsize(),
            len(self._owed),
        )

    # --- the listener's task -----------------------------------------------------------------

    async def run(self) -> None:
        """Deliver queued changes in order; catch up after failures and when asked."""
        loop = asyncio.get_running_loop()
        while True:
            _stop_if_cancelled()
            if self._queue.empty() and not self._reannounce_due:
                self._idle.set()
                if self._retry_at is None:
                    await self._wake.wait()
                else:
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout_at(self._retry_at):
                            await self._wake.wait()
            self._wake.clear()
            self._idle.clear()
            while not self._queue.empty():
                _stop_if_cancelled()
                number, change = self._queue.get_nowait()
                await self._deliver(number, change)
            due = self._retry_at is not None and loop.time() >= self._retry_at
            if self._reannounce_due or (self._owed and (due or self._retry_at is None)):
                await self._catch_up()

    async def _deliver(self, number: int, change: AlertChange) -> bool:
        fp = change.alert.fingerprint
        try:
            async with asyncio.timeout(self._timeout_s):
                await self.listener.notify(change)
        except Exception as exc:  # a failing listener must not stop the others
            # the engine is stopping us: a listener that turned our cancellation into its own
            # error (a client library's) must not keep this task alive
            _stop_if_cancelled(exc)
            self.failed += 1
            self._owe(number, change)
            self._pause_s = min(max(2 * self._pause_s, self._retry_min_s), self._retry_max_s)
            self._retry_at = asyncio.get_running_loop().time() + self._pause_s
            log.error(
                "alert_listener_failed",
                extra={
                    "listener": self.name,
                    "fingerprint": fp,
                    "reason": repr(exc),
                    "owed": len(self._owed),
                    "retry_in_s": self._pause_s,
                },
            )
            return False
        self.delivered += 1
        owed = self._owed.get(fp)
        if owed is not None and owed[0] <= number:
            del self._owed[fp]
        if self._owed:
            self._retry_at = None  # it takes changes again: catch up at once
        return True

    async def _catch_up(self) -> None:
        reannounce, self._reannounce_due = self._reannounce_due, False
        due = dict(self._owed)
        self._number += 1  # the state as it is now: newer than anything handed over before
        for change in self._current():
            fp = change.alert.fingerprint
            if fp in due:
                due[fp] = (self._number, change)  # it missed something: the alert as it is now
            elif reannounce:
                due[fp] = (self._number, replace(change, reannounced=True))
        owed_before = len(self._owed)
        for number, change in sorted(due.values(), key=lambda item: item[1].at):
            _stop_if_cancelled()
            if not await self._deliver(number, change):
                return  # tried again after the pause
        self._pause_s = 0.0
        self._retry_at = None
        if owed_before:
            log.info("alert_listener_caught_up", extra={"listener": self.name, "changes": len(due)})

    def _owe(self, number: int, change: AlertChange) -> None:
        fp = change.alert.fingerprint
        owed = self._owed.get(fp)
        if owed is not None and owed[0] > number:
            return  # it is owed something newer of this alert already
        self._owed.pop(fp, None)  # keep the dict oldest first
        self._owed[fp] = (number, change)


def _stop_if_cancelled(cause: BaseException | None = None) -> None:
    """End the listener's task if it was asked to stop, even where the cancellation itself was
    lost: on Python 3.11 ``asyncio.wait_for`` (inside aiomqtt's publish) returns the result of a
    future that completed as the task was cancelled, and the request survives only in
    ``cancelling()``. A long catch-up after Ctrl-C hit that and the stop waited for ever."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError from cause
