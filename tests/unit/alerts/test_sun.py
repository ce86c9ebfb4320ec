"""The sun's elevation, checked against what anyone can see."""

from __future__ import annotations

from datetime import UTC, datetime

from alerts import sun_elevation_deg


def test_the_sun_is_high_at_midsummer_noon_in_shanghai():
    # Local noon at 121.47° E is ~11:54 CST; the peak is 90 - 31.23 + 23.44 ≈ 82.2°.
    elevation = sun_elevation_deg(datetime(2026, 6, 21, 3, 54, tzinfo=UTC), 31.23, 121.47)
    assert 81.5 < elevation < 83.0


def test_the_sun_is_down_at_midnight():
    assert sun_elevation_deg(datetime(2026, 6, 21, 16, 0, tzinfo=UTC), 31.23, 121.47) < -30


def test_the_equinox_sun_rises_near_six_local_on_the_equator():
    sunrise = sun_elevation_deg(datetime(2026, 3, 20, 6, 7, tzinfo=UTC), 0.0, 0.0)
    assert abs(sunrise) < 1.0


def test_winter_noon_is_low_in_the_far_north():
    # Tromsø (69.65° N) in the polar night: the sun stays below the horizon at noon.
    assert sun_elevation_deg(datetime(2026, 12, 21, 11, 0, tzinfo=UTC), 69.65, 18.96) < 0
