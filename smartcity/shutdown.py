"""Stopping on Ctrl-C or SIGTERM: cancel the platform's task, and never hang.

The first signal cancels the task, which stops every part in order (the gateway flushes and
acks, the engine saves its state, servers last). A part that does not end would hold the whole
process, so a watchdog thread arms at the same time: if the process is still there after
``grace_s``, it logs every task still running with where it waits (what to fix), and ends the
process. A second signal ends it at once. Nothing accepted is lost by that: the gateway acks only
what is durable, the broker redelivers the rest, alert and incident state is persisted as it
changes, and the local servers are children that the kernel stops with us.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading

__all__ = ["FORCED_EXIT_CODE", "install_signal_handlers"]

log = logging.getLogger(__name__)

FORCED_EXIT_CODE = 3
_REPORT_WAIT_S = 2.0


def install_signal_handlers(task: asyncio.Task[None], *, grace_s: float) -> None:
    """SIGINT and SIGTERM cancel ``task``; a stop longer than ``grace_s``, or a second signal,
    ends the process after saying which tasks held it."""
    loop = asyncio.get_running_loop()
    signals: list[int] = []

    def stop(signum: int) -> None:
        signals.append(signum)
        if len(signals) > 1:
            log.warning("shutdown_forced", extra={"reason": "second signal"})
            _force(loop)
            return
        log.info("shutdown_requested", extra={"signal": signal.Signals(signum).name})
        task.cancel()
        watchdog = threading.Timer(grace_s, _force, args=(loop,))
        watchdog.daemon = True
        watchdog.start()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop, signum)


def _force(loop: asyncio.AbstractEventLoop) -> None:
    """Log the tasks still running (from the loop's thread, if it still answers), then exit."""
    reported = threading.Event()

    def report() -> None:
        for pending in asyncio.all_tasks(loop):
            where = [
                f"{frame.f_code.co_filename}:{frame.f_lineno} {frame.f_code.co_name}"
                for frame in pending.get_stack(limit=4)
            ]
            log.error("shutdown_task_stuck", extra={"task": pending.get_name(), "where": where})
        reported.set()

    if threading.current_thread() is threading.main_thread():
        report()  # a second signal: we are on the loop's thread
    else:
        try:
            loop.call_soon_threadsafe(report)
        except RuntimeError:  # the loop is closed: nothing left to report
            pass
        else:
            reported.wait(_REPORT_WAIT_S)
    log.error("shutdown_forced", extra={"exit_code": FORCED_EXIT_CODE})
    logging.shutdown()
    os._exit(FORCED_EXIT_CODE)
