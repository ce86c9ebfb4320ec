"""Any text a tag value or string field may hold is stored by InfluxDB 1.6.7 as written."""

from __future__ import annotations

import itertools

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest import Point, encode_lines
from smartcity.stack import LocalInfluxDB
from tests.support import influx_query

DATABASE = "roundtrip"
_times = itertools.count(1_000_000_000)

tag_text = st.text(
    st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40
).filter(lambda text: not text.endswith("\\"))
field_text = st.text(st.characters(codec="utf-8", blacklist_characters="\x00"))


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(tag=tag_text, text=field_text, number=st.floats(allow_nan=False, allow_infinity=False))
def test_tag_values_and_string_fields_survive_a_write(
    influxdb: LocalInfluxDB, tag: str, text: str, number: float
) -> None:
    httpx.post(f"{influxdb.url}/query", params={"q": f"CREATE DATABASE {DATABASE}"}, timeout=10)
    time_ns = next(_times)
    point = Point("prop", (("t", tag),), (("number", number), ("text", text)), time_ns)
    response = httpx.post(
        f"{influxdb.url}/write",
        params={"db": DATABASE, "precision": "ns"},
        content=encode_lines([point]),
        timeout=10,
    )
    assert response.status_code == 204, response.text
    query = f'SELECT * FROM "prop" WHERE time = {time_ns}'
    [row] = influx_query(influxdb.url, DATABASE, query)
    assert row["t"] == tag
    assert row["text"] == text.replace("\n", "\\n").replace("\r", "\\r")
    assert float(row["number"]) == number
