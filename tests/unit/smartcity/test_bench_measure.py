from __future__ import annotations

from pathlib import Path

from smartcity.bench.measure import measure_encode, measure_spool, sample_points


def entries(folder: Path) -> list[Path]:
    return sorted(folder.iterdir())


def test_encode_measurement_reports_every_message_it_converted() -> None:
    figures = measure_encode(200)
    assert figures.messages == 200
    assert figures.points == 280  # a junction's four approaches make the mix 1.4 points a message
    assert figures.total_us_per_message > 0


def test_sample_points_have_distinct_identities() -> None:
    points = sample_points(1_000)
    assert len({point.identity for point in points}) == 1_000


async def test_spool_measurement_leaves_nothing_behind(tmp_path: Path) -> None:
    figures = await measure_spool(batches=3, batch_points=50, fsync="never", directory=tmp_path)
    assert figures.batches == 3
    assert entries(tmp_path) == []
