"""A stop never hangs: a part that ignores its cancellation is named in the log, then the
process ends by itself; a second signal ends it at once. Real processes, real signals."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

PROGRAM = """
import asyncio, sys
from smartcity.logs import configure_logging
from smartcity.shutdown import install_signal_handlers

async def stubborn():
    while True:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            pass  # the bug a watchdog is for: a part that swallows its cancellation

async def platform():
    async with asyncio.TaskGroup() as group:
        group.create_task(stubborn(), name="stubborn-part")

async def main():
    task = asyncio.create_task(platform())
    install_signal_handlers(task, grace_s=float(sys.argv[1]))
    print("ready", flush=True)
    try:
        await task
    except asyncio.CancelledError:
        pass

configure_logging("INFO")
asyncio.run(main())
"""


def _start(grace_s: float) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", PROGRAM, str(grace_s)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready"
    return process


def test_a_stop_held_by_a_stuck_part_is_forced_after_the_grace_and_names_the_part() -> None:
    process = _start(grace_s=1.0)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 3
    assert '"shutdown_task_stuck"' in stderr
    assert "stubborn-part" in stderr
    assert '"shutdown_forced"' in stderr


def test_a_second_ctrl_c_ends_the_process_at_once() -> None:
    process = _start(grace_s=600.0)
    process.send_signal(signal.SIGINT)
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 3
    assert "second signal" in stderr
