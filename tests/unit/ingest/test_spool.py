from __future__ import annotations

from pathlib import Path

import pytest

from ingest import Spool, SpoolConfig, SpoolCorrupt, SpoolFull
from ingest.spool import RECORD_HEADER_BYTES


def config(directory: Path, *, max_bytes: int = 1 << 20, segment: int = 4096) -> SpoolConfig:
    return SpoolConfig(
        directory=directory, max_bytes=max_bytes, segment_max_bytes=segment, fsync="always"
    )


def body(index: int, size: int = 100) -> bytes:
    line = f"m,n={index} f=1i {index}\n".encode()
    return (line * (size // len(line) + 1))[:size]


def segments(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.spool"))


async def drain(spool: Spool) -> list[bytes]:
    seen = []
    while (batch := await spool.peek()) is not None:
        seen.append(batch.body)
        await spool.commit(batch)
    return seen


async def test_batches_are_replayed_in_append_order(tmp_path: Path) -> None:
    async with Spool(config(tmp_path)) as spool:
        for index in range(100):
            await spool.append(body(index), 1)
        assert spool.batches == 100
        assert len(segments(tmp_path)) > 1
        assert await drain(spool) == [body(index) for index in range(100)]
        assert spool.is_empty()


async def test_replayed_segments_are_deleted(tmp_path: Path) -> None:
    async with Spool(config(tmp_path)) as spool:
        for index in range(100):
            await spool.append(body(index), 1)
        await drain(spool)
        assert segments(tmp_path) == []
        assert spool.size_bytes == 0
        await spool.append(body(1), 1)
        assert await drain(spool) == [body(1)]


async def test_spool_survives_a_restart(tmp_path: Path) -> None:
    async with Spool(config(tmp_path)) as spool:
        for index in range(30):
            await spool.append(body(index), 2)
    async with Spool(config(tmp_path)) as spool:
        assert (spool.batches, spool.points) == (30, 60)
        assert await drain(spool) == [body(index) for index in range(30)]


async def test_full_spool_refuses_and_keeps_what_it_has(tmp_path: Path) -> None:
    record = RECORD_HEADER_BYTES + 100
    async with Spool(config(tmp_path, max_bytes=record * 5, segment=record * 5)) as spool:
        for index in range(5):
            await spool.append(body(index), 1)
        with pytest.raises(SpoolFull) as caught:
            await spool.append(body(5), 1)
        assert caught.value.max_bytes == record * 5
        assert await drain(spool) == [body(index) for index in range(5)]
        await spool.append(body(6), 1)


async def test_torn_last_record_is_dropped_and_the_rest_kept(tmp_path: Path) -> None:
    async with Spool(config(tmp_path)) as spool:
        for index in range(3):
            await spool.append(body(index), 1)
    [segment] = segments(tmp_path)
    whole = segment.read_bytes()
    for cut in (1, 10, RECORD_HEADER_BYTES + 50):
        segment.write_bytes(whole + whole[: len(whole) // 3][:cut])
        async with Spool(config(tmp_path)) as spool:
            assert spool.batches == 3
            assert segment.stat().st_size == len(whole)
    # A last record whose bytes arrived but are wrong (a torn page) is dropped too.
    damaged = bytearray(whole)
    damaged[-1] ^= 0xFF
    segment.write_bytes(bytes(damaged))
    async with Spool(config(tmp_path)) as spool:
        assert await drain(spool) == [body(0), body(1)]


async def test_damage_before_the_last_record_is_reported_not_skipped(tmp_path: Path) -> None:
    async with Spool(config(tmp_path)) as spool:
        for index in range(3):
            await spool.append(body(index), 1)
    [segment] = segments(tmp_path)
    damaged = bytearray(segment.read_bytes())
    damaged[RECORD_HEADER_BYTES + 5] ^= 0xFF
    segment.write_bytes(bytes(damaged))
    with pytest.raises(SpoolCorrupt) as caught:
        async with Spool(config(tmp_path)):
            pass
    assert caught.value.offset == 0
    assert caught.value.path == str(segment)
