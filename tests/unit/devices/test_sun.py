"""The one sun of the platform, checked against published almanac tables, to the minute.

Dongguan (23.02° N, 113.75° E, Asia/Shanghai) is where the demo city moves. No published
almanac table of its sunrise and sunset on the solstices and equinoxes could be found (searched
for: "Dongguan sunrise sunset" tables, timeanddate, the US Naval Observatory, 东莞 日出日落时间表,
the Hong Kong Observatory almanac, which covers Hong Kong only and whose tables were not
reachable). What was found for Dongguan itself is one published day, below. The four seasons are
therefore checked against the US Naval Observatory's own annual table for another place.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

import devices
from devices import City, sun_day, sun_elevation_deg, sun_position

DONGGUAN = City(name="Dongguan", latitude=23.02, longitude=113.75, timezone="Asia/Shanghai")


def rounded(moment: datetime | None) -> str:
    """A time as an almanac prints it: to the nearest minute."""
    assert moment is not None
    return (moment + timedelta(seconds=30)).strftime("%H:%M")


def clock(moment: datetime | None) -> str:
    """A time as a clock shows it: the minute, seconds dropped."""
    assert moment is not None
    return moment.strftime("%H:%M")


# U.S. Naval Observatory, Astronomical Applications Dept., "Rise and Set for the Sun for 2023",
# Fredonia, AZ (W112°31', N36°57'), Zone 7h West of Greenwich (Arizona keeps no daylight time).
# https://aa.usno.navy.mil/calculated/rstt/year?ID=AA&year=2023&task=0&lat=36.95&lon=-112.52
#   &label=Fredonia%2C+AZ&tz=7&tz_sign=-1
@pytest.mark.parametrize(
    ("day", "sunrise", "sunset"),
    [
        (date(2023, 3, 20), "06:34", "18:42"),  # March equinox
        (date(2023, 6, 21), "05:11", "19:53"),  # June solstice
        (date(2023, 9, 23), "06:19", "18:26"),  # September equinox
        (date(2023, 12, 21), "07:39", "17:17"),  # December solstice
        (date(2023, 1, 1), "07:43", "17:24"),
        (date(2023, 7, 31), "05:35", "19:38"),
    ],
)
def test_sunrise_and_sunset_match_the_naval_observatory_table_to_the_minute(
    day: date, sunrise: str, sunset: str
) -> None:
    sun = sun_day(day, 36.95, -112.52, "America/Phoenix")
    assert (rounded(sun.sunrise), rounded(sun.sunset)) == (sunrise, sunset)


def test_civil_twilight_matches_the_naval_observatory_table_to_the_minute() -> None:
    # U.S. Naval Observatory, "Begin and End of Civil Twilight for 2024", Boston, MA
    # (W71°05', N42°19'), Zone 5h West of Greenwich: 21 June begins 03:33, ends 19:59.
    sun = sun_day(date(2024, 6, 21), 42 + 19 / 60, -(71 + 5 / 60), "Etc/GMT+5")
    assert (rounded(sun.civil_dawn), rounded(sun.civil_dusk)) == ("03:33", "19:59")


def test_dongguan_sunrise_noon_and_sunset_match_the_published_day() -> None:
    # timezone.io, "Current time in Dongguan" (23.02° N, 113.75° E, Asia/Shanghai), Tuesday
    # 2 June 2026: sunrise 05:39, solar noon 12:22, sunset 19:06, shown as clock minutes.
    sun = DONGGUAN.sun_day(date(2026, 6, 2))
    assert (clock(sun.sunrise), clock(sun.solar_noon), clock(sun.sunset)) == (
        "05:39",
        "12:22",
        "19:06",
    )


@pytest.mark.parametrize(
    ("place", "day", "sunrise", "sunset"),
    [
        # timeanddate.com, local clock
        ((51.5074, -0.1278, "Europe/London"), date(2024, 6, 21), "04:43", "21:21"),
        ((51.5074, -0.1278, "Europe/London"), date(2024, 12, 21), "08:04", "15:53"),
        ((31.2304, 121.4737, "Asia/Shanghai"), date(2024, 6, 21), "04:50", "19:01"),
        ((-33.8688, 151.2093, "Australia/Sydney"), date(2024, 6, 21), "07:00", "16:54"),
    ],
)
def test_sunrise_and_sunset_are_within_a_minute_of_published_times_elsewhere(
    place: tuple[float, float, str], day: date, sunrise: str, sunset: str
) -> None:
    sun = sun_day(day, *place)

    def minutes(moment: datetime | None) -> float:
        assert moment is not None
        return moment.hour * 60 + moment.minute + moment.second / 60

    def published(text: str) -> int:
        hours, mins = text.split(":")
        return int(hours) * 60 + int(mins)

    assert abs(minutes(sun.sunrise) - published(sunrise)) < 1
    assert abs(minutes(sun.sunset) - published(sunset)) < 1


def test_each_event_is_where_its_elevation_says() -> None:
    sun = DONGGUAN.sun_day(date(2024, 12, 21))
    assert sun.civil_dawn is not None
    assert sun.sunrise is not None
    assert sun.sunset is not None
    assert sun.civil_dusk is not None
    assert sun.civil_dawn < sun.sunrise < sun.solar_noon < sun.sunset < sun.civil_dusk
    assert DONGGUAN.sun_elevation_deg(sun.sunrise) == pytest.approx(
        devices.SUNRISE_ELEVATION_DEG, abs=0.01
    )
    assert DONGGUAN.sun_elevation_deg(sun.civil_dusk) == pytest.approx(
        devices.CIVIL_TWILIGHT_ELEVATION_DEG, abs=0.01
    )
    assert sun.sunrise.utcoffset() == timedelta(hours=8)


def test_the_sun_is_high_at_midsummer_noon_in_shanghai() -> None:
    # Local noon at 121.47° E is ~11:54 CST; the peak is 90 - 31.23 + 23.44 ≈ 82.2°.
    elevation = sun_elevation_deg(datetime(2026, 6, 21, 3, 54, tzinfo=UTC), 31.23, 121.47)
    assert 81.5 < elevation < 83.0


def test_the_sun_is_down_at_midnight() -> None:
    assert sun_elevation_deg(datetime(2026, 6, 21, 16, 0, tzinfo=UTC), 31.23, 121.47) < -30


def test_the_equinox_sun_rises_in_the_east_and_stands_south_at_winter_noon() -> None:
    rising = sun_position(datetime(2026, 3, 20, 6, 7, tzinfo=UTC), 0.0, 0.0)
    assert abs(rising.elevation_deg) < 1.0
    assert rising.azimuth_deg == pytest.approx(90.0, abs=1.0)
    noon = DONGGUAN.sun_day(date(2024, 12, 21)).solar_noon
    winter = sun_position(noon, DONGGUAN.latitude, DONGGUAN.longitude)
    assert winter.azimuth_deg == pytest.approx(180.0, abs=0.5)
    assert winter.elevation_deg == pytest.approx(90 - 23.02 - 23.44, abs=0.1)
    setting = sun_position(
        DONGGUAN.sun_day(date(2024, 6, 21)).sunset or noon, 23.02, 113.75
    )  # midsummer: the sun sets well north of west
    assert 290 < setting.azimuth_deg < 300


def test_polar_night_and_midnight_sun_have_no_sunrise_or_sunset() -> None:
    winter = sun_day(date(2026, 12, 21), 69.65, 18.96, "Europe/Oslo")  # Tromsø
    assert winter.sunrise is None
    assert winter.sunset is None
    assert winter.civil_dawn is not None  # twilight still comes at noon
    summer = sun_day(date(2026, 6, 21), 69.65, 18.96, "Europe/Oslo")
    assert summer.sunrise is None
    assert summer.sunset is None
    assert summer.civil_dusk is None


def test_a_naive_time_is_refused_rather_than_guessed() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        sun_elevation_deg(datetime(2026, 6, 21, 12, 0), 23.02, 113.75)
