"""GB 3838-2002 surface water classes, and the class a reading puts a station in.

Limits are the standard's Table 1 (basic items). Two of its rules are more than a lookup:

- **total phosphorus** has its own, stricter limits for lakes and reservoirs (0.01 / 0.025 /
  0.05 / 0.1 / 0.2 mg/L against a river's 0.02 / 0.1 / 0.2 / 0.3 / 0.4), so the water body's
  type (``WaterBodyType`` in the registry) decides which row applies;
- **dissolved oxygen** for class I is "saturation 90 % (or 7.5 mg/L)": warm water holds less
  oxygen (7.56 mg/L saturated at 30 °C), so the floor is the lower of 7.5 mg/L and 90 % of
  saturation at the water's temperature, saturation from Benson & Krause (1984), the equation
  of APHA 4500-O and the USGS oxygen tables.

The class of a sample is the worst class of any of its graded parameters (the single-factor
method of the Ministry's 地表水环境质量评价办法), so one parameter decides it; that parameter is
named, because it is what a crew must look at. An automatic station measures five of the
standard's basic items (pH, DO, permanganate index, ammonia nitrogen, total phosphorus), and the
last three only every few hours (HJ 915-2017), so a class says which parameters it was graded on:
COD, BOD5 and the metals are laboratory items no station here measures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from devices.payloads import WaterQualityTelemetry
from devices.registry import WaterBodyType, WaterClass

__all__ = [
    "LAKE_PHOSPHORUS_LIMIT",
    "NOT_MEASURED_ITEMS",
    "PARAMETER_LABELS",
    "WATER_CLASS_LIMITS",
    "WaterClassLimit",
    "WaterClassification",
    "class_one_oxygen_floor_mg_l",
    "classify_water",
    "oxygen_saturation_mg_l",
]

_CLASSES = (WaterClass.I, WaterClass.II, WaterClass.III, WaterClass.IV, WaterClass.V)


@dataclass(frozen=True, slots=True)
class WaterClassLimit:
    """One parameter's limits for classes I–V: a floor (``at_least``) or a ceiling."""

    field: str
    limits: tuple[float, float, float, float, float]
    at_least: bool

    def class_of(self, value: float, *, class_one_limit: float | None = None) -> WaterClass:
        """The best class whose limit ``value`` meets; ``WORSE_THAN_V`` when it meets none.

        ``class_one_limit`` replaces the class I limit (dissolved oxygen's, which depends on
        the water's temperature).
        """
        limits = self.limits if class_one_limit is None else (class_one_limit, *self.limits[1:])
        for water_class, limit in zip(_CLASSES, limits, strict=True):
            if (value >= limit) if self.at_least else (value <= limit):
                return water_class
        return WaterClass.WORSE_THAN_V


# Table order of GB 3838-2002; a tie between parameters goes to the one listed first. These are
# the river rows; total phosphorus of lakes and reservoirs is LAKE_PHOSPHORUS_LIMIT.
WATER_CLASS_LIMITS: tuple[WaterClassLimit, ...] = (
    WaterClassLimit("dissolved_oxygen_mg_l", (7.5, 6.0, 5.0, 3.0, 2.0), at_least=True),
    WaterClassLimit("permanganate_index_mg_l", (2.0, 4.0, 6.0, 10.0, 15.0), at_least=False),
    WaterClassLimit("ammonia_mg_l", (0.15, 0.5, 1.0, 1.5, 2.0), at_least=False),
    WaterClassLimit("total_phosphorus_mg_l", (0.02, 0.1, 0.2, 0.3, 0.4), at_least=False),
)
LAKE_PHOSPHORUS_LIMIT = WaterClassLimit(
    "total_phosphorus_mg_l", (0.01, 0.025, 0.05, 0.1, 0.2), at_least=False
)
PH_RANGE = (6.0, 9.0)  # the same for every class: outside it, no class is met

# How the standard and the station reports name each graded parameter (for summaries).
PARAMETER_LABELS: dict[str, str] = {
    "ph": "pH",
    "dissolved_oxygen_mg_l": "DO",
    "permanganate_index_mg_l": "CODMn",
    "ammonia_mg_l": "NH3-N",
    "total_phosphorus_mg_l": "TP",
}
# Table 1 items that decide a class but that no automatic station here measures: a class from
# the station is a class on the five it does measure, not the official monthly class.
NOT_MEASURED_ITEMS: tuple[str, ...] = (
    "COD",
    "BOD5",
    "copper",
    "zinc",
    "fluoride",
    "selenium",
    "arsenic",
    "mercury",
    "cadmium",
    "chromium (VI)",
    "lead",
    "cyanide",
    "volatile phenol",
    "petroleum",
    "anionic surfactant",
    "sulfide",
)

_CLASS_ONE_SATURATION = 0.90
_CLASS_ONE_OXYGEN_MG_L = 7.5


def oxygen_saturation_mg_l(water_temp_c: float) -> float:
    """Dissolved oxygen at saturation in fresh water at one atmosphere (Benson & Krause 1984):
    14.62 mg/L at 0 °C, 9.09 at 20 °C, 7.56 at 30 °C."""
    kelvin = water_temp_c + 273.15
    return math.exp(
        -139.34411
        + 1.575701e5 / kelvin
        - 6.642308e7 / kelvin**2
        + 1.243800e10 / kelvin**3
        - 8.621949e11 / kelvin**4
    )


def class_one_oxygen_floor_mg_l(water_temp_c: float) -> float:
    """Class I's dissolved-oxygen floor: 90 % saturation or 7.5 mg/L, whichever is lower."""
    return min(_CLASS_ONE_OXYGEN_MG_L, _CLASS_ONE_SATURATION * oxygen_saturation_mg_l(water_temp_c))


@dataclass(frozen=True, slots=True)
class WaterClassification:
    """The class a reading meets, the parameter that decided it and its value, and which
    parameters the class was graded on (the ones the sample carried)."""

    water_class: WaterClass
    deciding_field: str
    deciding_value: float
    graded: tuple[str, ...] = ()

    @property
    def graded_labels(self) -> str:
        """The graded parameters as the standard names them: ``"pH, DO, CODMn, NH3-N, TP"``."""
        return ", ".join(PARAMETER_LABELS.get(name, name) for name in self.graded)

    @property
    def coverage(self) -> str:
        """One phrase for an alert summary: what was graded and what no station measures."""
        missing = [
            label for name, label in PARAMETER_LABELS.items() if name not in set(self.graded)
        ]
        skipped = ", ".join(missing)
        not_here = f"{skipped} not in this sample; " if skipped else ""
        return (
            f"graded on {self.graded_labels}; {not_here}COD, BOD5 and "
            f"{len(NOT_MEASURED_ITEMS) - 2} other Table 1 items not measured"
        )


def classify_water(
    reading: WaterQualityTelemetry, *, water_body: WaterBodyType = WaterBodyType.RIVER
) -> WaterClassification:
    """Classify one reading by the single-factor method: its worst graded parameter decides.

    Parameters the reading does not carry (laboratory analysers report every few hours) are
    not graded. ``water_body`` picks the total phosphorus limits (``record.water_body``).
    """
    graded = ["ph"]
    worst = WaterClassification(WaterClass.I, "ph", reading.ph)
    low, high = PH_RANGE
    if not low <= reading.ph <= high:
        worst = WaterClassification(WaterClass.WORSE_THAN_V, "ph", reading.ph)
    for limit in WATER_CLASS_LIMITS:
        raw = getattr(reading, limit.field)
        if raw is None:
            continue
        value = float(raw)
        graded.append(limit.field)
        if limit.field == "total_phosphorus_mg_l" and water_body is not WaterBodyType.RIVER:
            found = LAKE_PHOSPHORUS_LIMIT.class_of(value)
        elif limit.field == "dissolved_oxygen_mg_l":
            floor = class_one_oxygen_floor_mg_l(reading.water_temp_c)
            found = limit.class_of(value, class_one_limit=floor)
        else:
            found = limit.class_of(value)
        if found.rank > worst.water_class.rank:
            worst = WaterClassification(found, limit.field, value)
    return WaterClassification(
        worst.water_class, worst.deciding_field, worst.deciding_value, tuple(graded)
    )
