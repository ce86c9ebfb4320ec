"""Water quality: each station's parameters against the GB 3838-2002 class limits, the class
over time against the section's target, and a spill as it moves downstream."""

from __future__ import annotations

from collections import defaultdict

from grafana_foundation_sdk.builders import common, statetimeline, timeseries
from grafana_foundation_sdk.builders import dashboard as sdk
from grafana_foundation_sdk.models import common as common_model
from grafana_foundation_sdk.models import dashboard as model

from dashboards.kit import DISTRICT, Board, BuiltDashboard, Query, field, measurement, tag_variable
from dashboards.names import DataNames
from devices import (
    WATER_CLASS_LIMITS,
    DeviceRecord,
    Kind,
    Registry,
    WaterClass,
    WaterClassLimit,
    WaterQualityTelemetry,
)

__all__ = ["UID", "class_thresholds", "water_dashboard"]

UID = "smartcity-water"
_STATION = '"device_id" =~ /^$station$/'
_CLASSES = (WaterClass.I, WaterClass.II, WaterClass.III, WaterClass.IV, WaterClass.V)
# Class colours: the standard's convention from clean blue to red, 劣V dark red.
_COLOURS = {
    WaterClass.I: "blue",
    WaterClass.II: "green",
    WaterClass.III: "semi-dark-green",
    WaterClass.IV: "yellow",
    WaterClass.V: "orange",
    WaterClass.WORSE_THAN_V: "dark-red",
}
_UNITS = {"ph": "none", "water_temp_c": "celsius", "turbidity_ntu": "none"}


def class_thresholds(limit: WaterClassLimit) -> list[model.Threshold]:
    """Threshold steps that colour a parameter's value by its GB 3838-2002 class.

    A ceiling parameter (ammonia) is class I up to its first limit, then II ... then worse
    than V above the fifth. A floor parameter (dissolved oxygen) runs the other way: worse
    than V below the fifth limit, class I from the first limit up.
    """
    if limit.at_least:
        steps = [model.Threshold(value=None, color=_COLOURS[WaterClass.WORSE_THAN_V])]
        for water_class, value in reversed(list(zip(_CLASSES, limit.limits, strict=True))):
            steps.append(model.Threshold(value=value, color=_COLOURS[water_class]))
        return steps
    steps = [model.Threshold(value=None, color=_COLOURS[WaterClass.I])]
    classes = [*_CLASSES[1:], WaterClass.WORSE_THAN_V]
    for water_class, value in zip(classes, limit.limits, strict=True):
        # Grafana's step starts at its value; a limit is still within its class, so the next
        # class begins just above it
        steps.append(model.Threshold(value=value + 1e-9, color=_COLOURS[water_class]))
    return steps


def _class_ranges(limit: WaterClassLimit) -> list[model.ValueMapping]:
    """Value ranges → class names, for the class-over-time timeline."""
    mappings: list[model.ValueMapping] = []
    bounds = list(limit.limits)
    names = [*_CLASSES, WaterClass.WORSE_THAN_V]
    if limit.at_least:
        edges = [float("inf"), *bounds, float("-inf")]
        for index, water_class in enumerate(names):
            upper, lower = edges[index], edges[index + 1]
            mappings.append(
                model.RangeMap(
                    options=model.DashboardRangeMapOptions(
                        from_val=None if lower == float("-inf") else lower,
                        to=None if upper == float("inf") else upper,
                        result=model.ValueMappingResult(
                            text=_class_text(water_class), color=_COLOURS[water_class]
                        ),
                    )
                )
            )
        return mappings
    edges = [float("-inf"), *bounds, float("inf")]
    for index, water_class in enumerate(names):
        lower, upper = edges[index], edges[index + 1]
        mappings.append(
            model.RangeMap(
                options=model.DashboardRangeMapOptions(
                    from_val=None if lower == float("-inf") else lower,
                    to=None if upper == float("inf") else upper,
                    result=model.ValueMappingResult(
                        text=_class_text(water_class), color=_COLOURS[water_class]
                    ),
                )
            )
        )
    return mappings


def _class_text(water_class: WaterClass) -> str:
    return "worse than V" if water_class is WaterClass.WORSE_THAN_V else water_class.value


def _targets(registry: Registry) -> str:
    """Each section's target class, as one line of text for the panel description."""
    targets: dict[tuple[str, str], str] = {}
    for record in registry.values():
        if record.kind is Kind.WATER_QUALITY and record.target_class is not None:
            targets[(record.river or "", record.section or "")] = record.target_class.value
    return "; ".join(
        f"{river} {section}: {target}" for (river, section), target in sorted(targets.items())
    )


def _rivers(registry: Registry) -> dict[str, list[DeviceRecord]]:
    """Each river's stations from upstream to downstream (section order, then id)."""
    rivers: dict[str, list[DeviceRecord]] = defaultdict(list)
    for record in registry.values():
        if record.kind is Kind.WATER_QUALITY and record.river is not None:
            rivers[record.river].append(record)
    return {
        river: sorted(stations, key=lambda record: (record.section_order or 0, record.id))
        for river, stations in sorted(rivers.items())
    }


def water_dashboard(names: DataNames, registry: Registry) -> BuiltDashboard:
    """Water quality by station, class and river."""
    source = measurement(WaterQualityTelemetry)
    where = f"{DISTRICT} AND {_STATION}"
    board = Board(
        uid=UID,
        title="Water quality",
        description="Stations' parameters against GB 3838-2002 classes; spills along the river.",
        names=names,
        tags=[Kind.WATER_QUALITY.value],
    )
    board.variable(tag_variable("district", "District", source, "district"))
    board.variable(tag_variable("station", "Station", source, "device_id", where=DISTRICT))
    board.alert_annotations(f"\"kind\" = '{Kind.WATER_QUALITY.value}' AND {DISTRICT}")

    board.row("Parameters against the class limits")
    for limit in WATER_CLASS_LIMITS:
        column = field(WaterQualityTelemetry, limit.field)
        board.panel(
            timeseries.Panel()
            .unit("none")
            .thresholds(
                sdk.ThresholdsConfig()
                .mode(model.ThresholdsMode.ABSOLUTE)
                .steps(class_thresholds(limit))
            )
            .thresholds_style(
                common.GraphThresholdsStyleConfig().mode(
                    common_model.GraphThresholdsStyleMode.LINE_AND_AREA
                )
            ),
            title=f"{limit.field} per station",
            description=(
                f"Bands are the GB 3838-2002 classes I–V for {limit.field} "
                f"({'at least' if limit.at_least else 'at most'} "
                f"{', '.join(f'{value:g}' for value in limit.limits)})."
            ),
            queries=[
                Query(
                    f'SELECT mean({column}) AS "{limit.field}" FROM {source} '
                    f'WHERE $timeFilter AND {where} GROUP BY time($__interval), "device_id" '
                    f"fill(null)",
                    columns=(limit.field,),
                    tags=("device_id",),
                    alias="$tag_device_id",
                )
            ],
            width=12,
        )
    others = [
        name
        for name in ("ph", "water_temp_c", "turbidity_ntu", "conductivity_us_cm")
        if name in WaterQualityTelemetry.model_fields
    ]
    for name in others:
        board.panel(
            timeseries.Panel().unit(_UNITS.get(name, "none")),
            title=f"{name} per station",
            description=(
                "Each station's mean; pH outside 6–9 meets no class."
                if name == "ph"
                else "Each station's mean per interval (GB 3838-2002 sets no class limit)."
            ),
            queries=[
                Query(
                    f'SELECT mean({field(WaterQualityTelemetry, name)}) AS "{name}" FROM {source} '
                    f'WHERE $timeFilter AND {where} GROUP BY time($__interval), "device_id" '
                    f"fill(null)",
                    columns=(name,),
                    tags=("device_id",),
                    alias="$tag_device_id",
                )
            ],
            width=6,
        )

    board.row("Class over time")
    timeline = statetimeline.Panel().show_value(common_model.VisibilityMode.AUTO)
    for index, limit in enumerate(WATER_CLASS_LIMITS):
        timeline.override_by_query(
            chr(ord("A") + index),
            [model.DynamicConfigValue(id_val="mappings", value=_class_ranges(limit))],
        )
    board.panel(
        timeline,
        title="Class of each parameter over time",
        description=(
            "Each parameter's class in each interval (single-factor method: the worst row is "
            f"the station's class). Targets by section: {_targets(registry) or 'none'}."
        ),
        queries=[
            Query(
                f'SELECT mean({field(WaterQualityTelemetry, limit.field)}) AS "{limit.field}" '
                f"FROM {source} WHERE $timeFilter AND {where} "
                f'GROUP BY time($__interval), "device_id", "section" fill(previous)',
                columns=(limit.field,),
                tags=("device_id", "section"),
                alias=f"$tag_section $tag_device_id {limit.field}",
            )
            for limit in WATER_CLASS_LIMITS
        ],
        width=24,
        height=10,
    )

    ammonia = next(limit for limit in WATER_CLASS_LIMITS if limit.field == "ammonia_mg_l")
    ammonia_field = field(WaterQualityTelemetry, ammonia.field)
    for river, stations in _rivers(registry).items():
        spill = statetimeline.Panel().thresholds(
            sdk.ThresholdsConfig()
            .mode(model.ThresholdsMode.ABSOLUTE)
            .steps(class_thresholds(ammonia))
        )
        board.panel(
            spill,
            title=f"River {river}: ammonia from upstream to downstream",
            description=(
                "One row per station in river order (section order from the registry): a spill "
                "shows as a band that moves down the rows, weaker at each station."
            ),
            queries=[
                Query(
                    f'SELECT mean({ammonia_field}) AS "ammonia_mg_l" FROM {source} '
                    f"WHERE $timeFilter AND \"device_id\" = '{station.id}' "
                    f"GROUP BY time($__interval) fill(previous)",
                    columns=("ammonia_mg_l",),
                    alias=f"{station.section} {station.id}",
                )
                for station in stations
            ],
            width=24,
            height=max(6, 2 + len(stations)),
        )

    board.row("Long range (rollups)")
    for suffix, span in zip(names.rollups, ("7d", "90d"), strict=False):
        board.panel(
            timeseries.Panel(),
            title=f"Ammonia per station, {suffix} rollup",
            description=f"From the {suffix} means in {names.downsampled_policy}, the last {span}.",
            queries=[
                Query(
                    f"SELECT mean({field(WaterQualityTelemetry, 'ammonia_mg_l')}) "
                    f'AS "ammonia_mg_l" FROM '
                    f"{names.rollup(WaterQualityTelemetry.measurement, suffix)} "
                    f'WHERE $timeFilter AND {where} GROUP BY time($__interval), "device_id" '
                    f"fill(null)",
                    columns=("ammonia_mg_l",),
                    tags=("device_id",),
                    alias="$tag_device_id",
                )
            ],
            width=12,
            time_from=span,
        )
    return board.build()
