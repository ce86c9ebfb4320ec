"""GB 3838-2002's rules beyond the river table: lake phosphorus, class I oxygen by saturation,
and a class that says which parameters it was graded on."""

from __future__ import annotations

import orjson
import pytest

from devices import (
    WaterBodyType,
    WaterClass,
    WaterQualityTelemetry,
    class_one_oxygen_floor_mg_l,
    classify_water,
    oxygen_saturation_mg_l,
)

CLEAN = {
    "ts": 0,
    "seq": 0,
    "water_temp_c": 18.0,
    "ph": 7.5,
    "dissolved_oxygen_mg_l": 9.0,
    "permanganate_index_mg_l": 1.5,
    "ammonia_mg_l": 0.1,
    "total_phosphorus_mg_l": 0.005,
    "turbidity_ntu": 5.0,
    "conductivity_us_cm": 300.0,
}


def reading(**fields: float | None) -> WaterQualityTelemetry:
    body = {**CLEAN, **fields}
    return WaterQualityTelemetry.model_validate_json(
        orjson.dumps({k: v for k, v in body.items() if v is not None})
    )


@pytest.mark.parametrize(
    ("phosphorus", "river", "lake"),
    [
        (0.01, WaterClass.I, WaterClass.I),
        (0.015, WaterClass.I, WaterClass.II),
        (0.025, WaterClass.II, WaterClass.II),
        (0.04, WaterClass.II, WaterClass.III),
        (0.05, WaterClass.II, WaterClass.III),
        (0.08, WaterClass.II, WaterClass.IV),
        (0.1, WaterClass.II, WaterClass.IV),
        (0.15, WaterClass.III, WaterClass.V),
        (0.2, WaterClass.III, WaterClass.V),
        (0.21, WaterClass.IV, WaterClass.WORSE_THAN_V),
    ],
)
def test_lakes_and_reservoirs_grade_phosphorus_by_their_own_limits(phosphorus, river, lake):
    sample = reading(total_phosphorus_mg_l=phosphorus)
    assert classify_water(sample).water_class is river
    assert classify_water(sample, water_body=WaterBodyType.LAKE).water_class is lake
    assert classify_water(sample, water_body=WaterBodyType.RESERVOIR).water_class is lake


def test_a_lake_at_river_class_two_phosphorus_is_class_four():
    found = classify_water(reading(total_phosphorus_mg_l=0.09), water_body=WaterBodyType.LAKE)
    assert (found.water_class, found.deciding_field) == (WaterClass.IV, "total_phosphorus_mg_l")


@pytest.mark.parametrize(
    ("temp_c", "saturated_mg_l"), [(0.0, 14.62), (10.0, 11.29), (20.0, 9.09), (30.0, 7.56)]
)
def test_oxygen_saturation_follows_the_usgs_table(temp_c, saturated_mg_l):
    assert oxygen_saturation_mg_l(temp_c) == pytest.approx(saturated_mg_l, abs=0.01)


def test_class_one_oxygen_is_ninety_percent_saturation_in_warm_water():
    assert class_one_oxygen_floor_mg_l(18.0) == 7.5  # cool water: 7.5 mg/L is the lower
    assert class_one_oxygen_floor_mg_l(30.0) == pytest.approx(0.9 * 7.56, abs=0.01)
    # 7.0 mg/L at 30 °C is 93 % saturated: class I, though under 7.5 mg/L
    assert classify_water(reading(water_temp_c=30.0, dissolved_oxygen_mg_l=7.0)).water_class is (
        WaterClass.I
    )
    # the same 7.0 mg/L at 18 °C is 74 % saturated: class II
    found = classify_water(reading(water_temp_c=18.0, dissolved_oxygen_mg_l=7.0))
    assert (found.water_class, found.deciding_field) == (WaterClass.II, "dissolved_oxygen_mg_l")
    assert classify_water(reading(water_temp_c=30.0, dissolved_oxygen_mg_l=6.7)).water_class is (
        WaterClass.II
    )


def test_a_class_names_the_parameters_it_was_graded_on():
    full = classify_water(reading())
    assert full.graded == (
        "ph",
        "dissolved_oxygen_mg_l",
        "permanganate_index_mg_l",
        "ammonia_mg_l",
        "total_phosphorus_mg_l",
    )
    assert full.graded_labels == "pH, DO, CODMn, NH3-N, TP"
    assert "COD, BOD5" in full.coverage
    assert "not measured" in full.coverage


def test_an_hourly_sample_without_laboratory_parameters_is_graded_on_what_it_carries():
    hourly = reading(permanganate_index_mg_l=None, ammonia_mg_l=None, total_phosphorus_mg_l=None)
    found = classify_water(hourly)
    assert found.graded == ("ph", "dissolved_oxygen_mg_l")
    assert found.water_class is WaterClass.I
    assert "CODMn, NH3-N, TP not in this sample" in found.coverage
    low_oxygen = classify_water(reading(dissolved_oxygen_mg_l=4.0, ammonia_mg_l=None))
    assert (low_oxygen.water_class, low_oxygen.deciding_field) == (
        WaterClass.IV,
        "dissolved_oxygen_mg_l",
    )
