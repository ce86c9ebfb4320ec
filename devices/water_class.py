"""GB 3838-2002 surface water classes for rivers, and the class a reading puts a station in.

Limits are the standard's Table 1 (basic items) for rivers; lakes and reservoirs have tighter
total phosphorus limits, which this table does not use. The class of a sample is the worst class
of any of its parameters (the single-factor method environmental agencies report with), so one
parameter decides it; that parameter is named, because it is what a crew must look at.
"""

from __future__ import annotations

from dataclasses import dataclass

from devices.payloads import WaterQualityTelemetry
from devices.registry import WaterClass

__all__ = ["WATER_CLASS_LIMITS", "WaterClassLimit", "WaterClassification", "classify_water"]

_CLASSES = (WaterClass.I, WaterClass.II, WaterClass.III, WaterClass.IV, WaterClass.V)


@dataclass(frozen=True, slots=True)
class WaterClassLimit:
    """One parameter's limits for classes I–V: a floor (``at_least``) or a ceiling."""

    field: str
    limits: tuple[float, float, float, float, float]
    at_least: bool

    def class_of(self, value: float) -> WaterClass:
        """The best class whose limit ``value`` meets; ``WORSE_THAN_V`` when it meets none."""
        for water_class, limit in zip(_CLASSES, self.limits, strict=True):
            if (value >= limit) if self.at_least else (value <= limit):
                return water_class
        return WaterClass.WORSE_THAN_V


# Table order of GB 3838-2002; a tie between parameters goes to the one listed first.
WATER_CLASS_LIMITS: tuple[WaterClassLimit, ...] = (
    WaterClassLimit("dissolved_oxygen_mg_l", (7.5, 6.0, 5.0, 3.0, 2.0), at_least=True),
    WaterClassLimit("permanganate_index_mg_l", (2.0, 4.0, 6.0, 10.0, 15.0), at_least=False),
    WaterClassLimit("ammonia_mg_l", (0.15, 0.5, 1.0, 1.5, 2.0), at_least=False),
    WaterClassLimit("total_phosphorus_mg_l", (0.02, 0.1, 0.2, 0.3, 0.4), at_least=False),
)
PH_RANGE = (6.0, 9.0)  # the same for every class: outside it, no class is met


@dataclass(frozen=True, slots=True)
class WaterClassification:
    """The class a reading meets, the parameter that decided it, and that parameter's value."""

    water_class: WaterClass
    deciding_field: str
    deciding_value: float


def classify_water(reading: WaterQualityTelemetry) -> WaterClassification:
    """Classify one reading by the single-factor method: its worst parameter decides."""
    worst = WaterClassification(WaterClass.I, "ph", reading.ph)
    low, high = PH_RANGE
    if not low <= reading.ph <= high:
        worst = WaterClassification(WaterClass.WORSE_THAN_V, "ph", reading.ph)
    for limit in WATER_CLASS_LIMITS:
        value = float(getattr(reading, limit.field))
        found = limit.class_of(value)
        if found.rank > worst.water_class.rank:
            worst = WaterClassification(found, limit.field, value)
    return worst
