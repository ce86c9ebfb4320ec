"""GB 3838-2002 classes for rivers: the limits at their edges and the deciding parameter."""

from __future__ import annotations

import orjson
import pytest

from devices import WaterClass, WaterQualityTelemetry, classify_water

HEALTHY = {
    "ts": 0,
    "seq": 0,
    "water_temp_c": 18.0,
    "ph": 7.5,
    "dissolved_oxygen_mg_l": 8.0,
    "permanganate_index_mg_l": 1.5,
    "ammonia_mg_l": 0.1,
    "total_phosphorus_mg_l": 0.01,
    "turbidity_ntu": 5.0,
    "conductivity_us_cm": 300.0,
}


def reading(**fields: float) -> WaterQualityTelemetry:
    return WaterQualityTelemetry.model_validate_json(orjson.dumps({**HEALTHY, **fields}))


def test_clean_water_is_class_one():
    assert classify_water(reading()).water_class is WaterClass.I


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("dissolved_oxygen_mg_l", 7.5, WaterClass.I),
        ("dissolved_oxygen_mg_l", 7.49, WaterClass.II),
        ("dissolved_oxygen_mg_l", 6.0, WaterClass.II),
        ("dissolved_oxygen_mg_l", 5.0, WaterClass.III),
        ("dissolved_oxygen_mg_l", 3.0, WaterClass.IV),
        ("dissolved_oxygen_mg_l", 2.0, WaterClass.V),
        ("dissolved_oxygen_mg_l", 1.99, WaterClass.WORSE_THAN_V),
        ("permanganate_index_mg_l", 2.0, WaterClass.I),
        ("permanganate_index_mg_l", 4.0, WaterClass.II),
        ("permanganate_index_mg_l", 6.0, WaterClass.III),
        ("permanganate_index_mg_l", 10.0, WaterClass.IV),
        ("permanganate_index_mg_l", 15.0, WaterClass.V),
        ("permanganate_index_mg_l", 15.1, WaterClass.WORSE_THAN_V),
        ("ammonia_mg_l", 0.15, WaterClass.I),
        ("ammonia_mg_l", 0.5, WaterClass.II),
        ("ammonia_mg_l", 1.0, WaterClass.III),
        ("ammonia_mg_l", 1.5, WaterClass.IV),
        ("ammonia_mg_l", 2.0, WaterClass.V),
        ("ammonia_mg_l", 2.01, WaterClass.WORSE_THAN_V),
        ("total_phosphorus_mg_l", 0.02, WaterClass.I),
        ("total_phosphorus_mg_l", 0.1, WaterClass.II),
        ("total_phosphorus_mg_l", 0.2, WaterClass.III),
        ("total_phosphorus_mg_l", 0.3, WaterClass.IV),
        ("total_phosphorus_mg_l", 0.4, WaterClass.V),
        ("total_phosphorus_mg_l", 0.41, WaterClass.WORSE_THAN_V),
    ],
)
def test_each_limit_belongs_to_the_better_class(field, value, expected):
    found = classify_water(reading(**{field: value}))
    assert found.water_class is expected
    if expected is not WaterClass.I:
        assert found.deciding_field == field
        assert found.deciding_value == value


@pytest.mark.parametrize("ph", [5.9, 9.1])
def test_ph_outside_six_to_nine_meets_no_class(ph):
    found = classify_water(reading(ph=ph))
    assert found.water_class is WaterClass.WORSE_THAN_V
    assert found.deciding_field == "ph"


def test_the_worst_parameter_decides():
    found = classify_water(reading(ammonia_mg_l=1.2, total_phosphorus_mg_l=0.35))
    assert found.water_class is WaterClass.V
    assert found.deciding_field == "total_phosphorus_mg_l"


def test_a_tie_goes_to_the_parameter_listed_first_in_the_standard():
    found = classify_water(reading(dissolved_oxygen_mg_l=4.0, ammonia_mg_l=1.2))
    assert found.water_class is WaterClass.IV
    assert found.deciding_field == "dissolved_oxygen_mg_l"
