"""The spool under real faults, in child processes: killed mid-append, and a disk that refuses."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from ingest import Spool, SpoolConfig

CHILD = """
import asyncio, errno, resource, signal, sys
from pathlib import Path
from ingest import Spool, SpoolConfig, SpoolWriteFailed

async def main(directory, limit):
    if limit:
        # The file size limit stands in for a full disk: writes past it fail with EFBIG.
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    config = SpoolConfig(directory=Path(directory), max_bytes=1 << 30,
                         segment_max_bytes=1 << 30, fsync="never")
    async with Spool(config) as spool:
        index = 0
        while True:
            body = (f"m,i={index} f=1i {index}\\n" * 40).encode()
            try:
                await spool.append(body, 40)
            except SpoolWriteFailed as exc:
                print("failed", exc.errno, exc.reason, flush=True)
                return
            print("acked", index, flush=True)
            index += 1

asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""


def config(directory: Path) -> SpoolConfig:
    return SpoolConfig(
        directory=directory, max_bytes=1 << 30, segment_max_bytes=1 << 30, fsync="never"
    )


def replay(directory: Path) -> list[int]:
    import asyncio

    async def read() -> list[int]:
        indexes = []
        async with Spool(config(directory)) as spool:
            while (batch := await spool.peek()) is not None:
                indexes.append(int(batch.body.split(b",i=")[1].split(b" ")[0]))
                await spool.commit(batch)
        return indexes

    return asyncio.run(read())


def test_process_killed_mid_append_loses_no_acknowledged_batch(tmp_path: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(tmp_path), "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    acked = -1
    deadline = time.monotonic() + 30
    while acked < 2000 and time.monotonic() < deadline:
        line = child.stdout.readline()
        if line.startswith("acked"):
            acked = int(line.split()[1])
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)
    child.stdout.close()
    indexes = replay(tmp_path)
    assert acked >= 2000
    assert indexes[: acked + 1] == list(range(acked + 1))
    assert indexes == list(range(len(indexes)))


def test_full_disk_is_a_clear_error_and_keeps_every_whole_batch(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp_path), str(200_000)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    lines = result.stdout.splitlines()
    assert lines[-1].startswith("failed 27 ")  # EFBIG
    acked = int(lines[-2].split()[1])
    assert replay(tmp_path) == list(range(acked + 1))
