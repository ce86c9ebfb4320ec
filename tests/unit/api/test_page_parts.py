"""The page's server-side parts: stream tickets, the map's placement and outlines, and the
expansion of the dashboards' queries for a named series."""

from __future__ import annotations

import itertools
import re

from api import Band, SeriesQuery, StreamTickets
from api.geo import city_map, convex_hull
from api.series import expand, interval_s
from devices import City, DeviceRecord, Kind, Registry
from smartcity.assembly.page import page_series
from smartcity.settings import load_settings
from tests.integration.api_harness import demo_registry

# --- stream tickets ----------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now_s = 100.0

    def __call__(self) -> float:
        return self.now_s


def test_a_ticket_opens_one_stream_for_its_token_and_only_once() -> None:
    tickets = StreamTickets(ttl_s=30, clock=Clock())
    ticket = tickets.issue("abc123abc123", "ops")
    found = tickets.redeem(ticket)
    assert found is not None
    assert (found.token_id, found.name) == ("abc123abc123", "ops")
    assert tickets.redeem(ticket) is None
    assert tickets.redeem("made-up") is None


def test_a_ticket_not_used_within_its_lifetime_is_refused() -> None:
    clock = Clock()
    tickets = StreamTickets(ttl_s=30, clock=clock)
    ticket = tickets.issue("abc123abc123", "ops")
    clock.now_s += 30
    assert tickets.redeem(ticket) is None


def test_tickets_held_at_once_are_bounded_the_oldest_dropped() -> None:
    tickets = StreamTickets(ttl_s=30, max_open=3, clock=Clock())
    made = [tickets.issue("abc123abc123", "ops") for _ in range(5)]
    assert [tickets.redeem(ticket) is not None for ticket in made] == [
        False,
        False,
        True,
        True,
        True,
    ]


# --- the map -----------------------------------------------------------------------------------


def _inside(point: tuple[float, float], ring: list[list[float]]) -> bool:
    """Whether a point is inside a convex counter-clockwise ring (on the left of every edge)."""
    x, y = point
    for (x1, y1), (x2, y2) in itertools.pairwise(ring):
        if (x2 - x1) * (y - y1) - (y2 - y1) * (x - x1) < 0:
            return False
    return True


def test_the_hull_keeps_the_corners_and_drops_the_inside() -> None:
    square = [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0), (0.5, 0.5), (0.2, 0.7)]
    assert convex_hull(square) == [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)]


def test_every_device_lies_inside_its_districts_outline() -> None:
    found = city_map(demo_registry())
    features = found.districts["features"]  # type: ignore[index]
    districts = {record.district for record in found.devices}
    assert {f["properties"]["district"] for f in features} == districts
    assert len(districts) == 9  # Dongguan: Guancheng, Zhongtang, Humen, ... Songshan Lake
    rings = {f["properties"]["district"]: f["geometry"]["coordinates"][0] for f in features}
    for device in found.devices:
        assert _inside((device.longitude, device.latitude), rings[device.district]), device.id


def test_a_device_without_coordinates_is_placed_near_the_centre_and_marked_approximate() -> None:
    city = City(name="Dongguan", latitude=23.02, longitude=113.75)
    registry = Registry.from_records(
        [
            DeviceRecord(id="SL-1", kind=Kind.STREETLIGHT, district="a", cabinet="C-1",
                         latitude=23.03, longitude=113.76),
            DeviceRecord(id="SL-2", kind=Kind.STREETLIGHT, district="b", cabinet="C-2"),
        ],
        city=city,
    )  # fmt: skip
    placed = {device.id: device for device in city_map(registry).devices}
    assert (placed["SL-1"].latitude, placed["SL-1"].approximate) == (23.03, False)
    assert placed["SL-2"].approximate is True
    assert abs(placed["SL-2"].latitude - 23.02) < 0.05
    assert abs(placed["SL-2"].longitude - 113.75) < 0.05


# --- series ------------------------------------------------------------------------------------

QUERY = SeriesQuery(
    name="cabinet-power",
    title="t",
    unit="W",
    variable="cabinet",
    query='SELECT mean("p") FROM "s" WHERE $timeFilter AND "district" =~ /^$district$/ '
    'AND "cabinet" =~ /^$cabinet$/ AND "device_id" =~ /^${lamp}$/ GROUP BY time($__interval)',
    source="d / p",
    bands=(Band("I", 1.0, False),),
)


def test_the_key_fills_its_variable_escaped_and_every_other_variable_is_all() -> None:
    text = expand(QUERY, "C.01", start_ms=0, end_ms=3_600_000, points=300)
    assert "time >= 0ms and time <= 3600000ms" in text
    assert '"cabinet" =~ /^C\\.01$/' in text
    assert '"district" =~ /^.*$/' in text
    assert '"device_id" =~ /^.*$/' in text
    assert "GROUP BY time(30s)" in text
    assert "$" not in text.replace("$/", "")


def test_the_interval_is_the_range_over_the_points_rounded_up_to_a_step() -> None:
    assert interval_s(3_600, 300) == 30
    assert interval_s(86_400, 300) == 300
    assert interval_s(60, 300) == 10


def test_every_series_takes_its_query_from_a_dashboard_panel_and_expands_fully() -> None:
    settings = load_settings()
    series = {found.name: found for found in page_series(settings, demo_registry())}
    assert set(series) == {
        "cabinet-power",
        "junction-queue",
        "station-dissolved_oxygen_mg_l",
        "station-permanganate_index_mg_l",
        "station-ammonia_mg_l",
        "station-total_phosphorus_mg_l",
        "station-ph",
    }
    assert [band.value for band in series["station-ammonia_mg_l"].bands] == [
        0.15,
        0.5,
        1.0,
        1.5,
        2.0,
    ]
    assert series["station-dissolved_oxygen_mg_l"].bands[0].at_least is True
    for found in series.values():
        text = expand(found, "X-01", start_ms=0, end_ms=3_600_000, points=300)
        assert not re.search(r"\$\{?[A-Za-z_]|\[\[", text.replace("$/", "")), text
        assert "X\\-01" in text, found.name
