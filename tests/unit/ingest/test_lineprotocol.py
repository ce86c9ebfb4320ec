from __future__ import annotations

import pytest

from ingest import Point, encode_lines


def line(point: Point) -> str:
    return encode_lines([point]).decode()


def test_point_encodes_to_one_line_with_typed_fields() -> None:
    point = Point(
        "streetlight",
        (("district", "centre"), ("kind", "streetlight")),
        (("lamp_on", True), ("power_w", 82.0), ("seq", 7), ("state", "ok")),
        1_795_420_800_123_000_007,
    )
    assert line(point) == (
        'streetlight,district=centre,kind=streetlight lamp_on=true,power_w=82.0,seq=7i,state="ok"'
        " 1795420800123000007\n"
    )


def test_names_and_tag_values_escape_commas_equals_and_spaces() -> None:
    point = Point("my meas,ure", (("a key", "x=1,y 2"),), (("f=1", 1.5),), 1)
    assert line(point) == "my\\ meas\\,ure,a\\ key=x\\=1\\,y\\ 2 f\\=1=1.5 1\n"


def test_string_fields_escape_quotes_and_backslashes_and_keep_unicode() -> None:
    point = Point("m", (), (("s", 'say "hi" \\ 信号'),), 1)
    assert line(point) == 'm s="say \\"hi\\" \\\\ 信号" 1\n'
    assert encode_lines([point]) == line(point).encode("utf-8")


def test_backslash_inside_a_tag_value_is_literal() -> None:
    point = Point("m", (("t", "a\\b"),), (("f", 1),), 1)
    assert line(point) == "m,t=a\\b f=1i 1\n"


def test_newline_inside_a_string_field_keeps_the_point_on_one_line() -> None:
    point = Point("m", (), (("s", "one\ntwo\r"),), 1)
    assert line(point) == 'm s="one\\ntwo\\r" 1\n'


@pytest.mark.parametrize(
    "point",
    [
        Point("m", (("t", "two\nlines"),), (("f", 1),), 1),
        Point("m", (("t", "ends\\"),), (("f", 1),), 1),
        Point("m", (("t", ""),), (("f", 1),), 1),
        Point("m", (), (("f", float("nan")),), 1),
        Point("m", (), (("f", float("inf")),), 1),
        Point("m", (), (), 1),
        Point("", (), (("f", 1),), 1),
    ],
)
def test_points_line_protocol_cannot_express_are_refused(point: Point) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        encode_lines([point])


def test_line_n_of_a_body_is_point_n() -> None:
    points = [Point("m", (), (("f", index),), index) for index in range(5)]
    lines = encode_lines(points).decode().splitlines()
    assert [text.split()[-1] for text in lines] == ["0", "1", "2", "3", "4"]
