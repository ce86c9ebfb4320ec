"""Streetlights: lamps on, power and energy per district and cabinet, dimming savings,
failures, cabinets without power."""

from __future__ import annotations

from grafana_foundation_sdk.builders import barchart, statetimeline, table, timeseries

from dashboards.kit import (
    DISTRICT,
    Board,
    BuiltDashboard,
    Query,
    field,
    measurement,
    per_device_then,
    tag_variable,
)
from dashboards.names import DataNames
from devices import Kind, StreetlightFault, StreetlightTelemetry

__all__ = ["UID", "streetlights_dashboard"]

UID = "smartcity-streetlights"
_CABINET = '"cabinet" =~ /^$cabinet$/'
_LAMP = '"device_id" =~ /^$lamp$/'


def streetlights_dashboard(names: DataNames) -> BuiltDashboard:
    """Lighting: what is on, what it draws, what dimming saves, what has failed."""
    source = measurement(StreetlightTelemetry)
    power = field(StreetlightTelemetry, "power_w")
    energy = field(StreetlightTelemetry, "energy_kwh")
    dimming = field(StreetlightTelemetry, "dimming_pct")
    lamp_on = field(StreetlightTelemetry, "lamp_on")
    faults = field(StreetlightTelemetry, "faults")
    # ingest stores a flag list as the joined text plus its length, "<stem>_count"
    fault_count = field(StreetlightTelemetry, "faults", stored_as="fault_count")
    where = f"{DISTRICT} AND {_CABINET} AND {_LAMP}"
    board = Board(
        uid=UID,
        title="Streetlights",
        description="Lamps on, power and energy per district and cabinet, dimming, failures.",
        names=names,
        tags=[Kind.STREETLIGHT.value],
    )
    board.variable(tag_variable("district", "District", source, "district"))
    board.variable(tag_variable("cabinet", "Cabinet", source, "cabinet", where=DISTRICT))
    board.variable(
        tag_variable("lamp", "Lamp", source, "device_id", where=f"{DISTRICT} AND {_CABINET}")
    )
    board.alert_annotations(f"\"kind\" = '{Kind.STREETLIGHT.value}' AND {DISTRICT}")

    board.row("Lamps and power")
    board.panel(
        timeseries.Panel().unit("short"),
        title="Lamps on per district",
        description="Lamps whose last report in each interval says on.",
        queries=[
            Query(
                f'SELECT count("on") AS "lamps_on" FROM ('
                f'SELECT last({lamp_on}) AS "on" FROM {source} WHERE $timeFilter AND {where} '
                f'GROUP BY time($__interval), "device_id", "district") '
                f'WHERE $timeFilter AND "on" = true GROUP BY time($__interval), "district" fill(0)',
                columns=("lamps_on",),
                tags=("district",),
                alias="$tag_district",
            )
        ],
        width=12,
    )
    board.panel(
        timeseries.Panel().unit("watt"),
        title="Power per district",
        description="Sum over lamps of each lamp's mean power in the interval.",
        queries=[
            Query(
                per_device_then(
                    "sum", f"mean({power})", source, "power_w", by=["district"], where=where
                ),
                columns=("power_w",),
                tags=("district",),
                alias="$tag_district",
            )
        ],
        width=12,
    )
    board.panel(
        timeseries.Panel().unit("watt"),
        title="Power per cabinet",
        description="Sum over a cabinet's lamps of their mean power; a cut shows as a drop to 0.",
        queries=[
            Query(
                per_device_then(
                    "sum", f"mean({power})", source, "power_w", by=["cabinet"], where=where
                ),
                columns=("power_w",),
                tags=("cabinet",),
                alias="$tag_cabinet",
            )
        ],
        width=12,
    )
    board.panel(
        barchart.Panel().unit("kwatth"),
        title="Energy per cabinet",
        description="kWh drawn in the time range: each lamp's meter advance, summed by cabinet.",
        queries=[
            Query(
                f'SELECT sum("kwh") AS "energy_kwh" FROM ('
                f'SELECT spread({energy}) AS "kwh" FROM {source} WHERE $timeFilter AND {where} '
                f'GROUP BY "device_id", "district", "cabinet") GROUP BY "district", "cabinet"',
                columns=("energy_kwh",),
                tags=("district", "cabinet"),
                result_format="table",
            )
        ],
        width=12,
    )

    board.row("Dimming and energy")
    board.panel(
        barchart.Panel().unit("kwatth"),
        title="Energy per district",
        description="kWh drawn in the time range, by district.",
        queries=[
            Query(
                f'SELECT sum("kwh") AS "energy_kwh" FROM ('
                f'SELECT spread({energy}) AS "kwh" FROM {source} WHERE $timeFilter AND {where} '
                f'GROUP BY "device_id", "district") GROUP BY "district"',
                columns=("energy_kwh",),
                tags=("district",),
                result_format="table",
            )
        ],
        width=12,
    )
    board.panel(
        barchart.Panel().unit("kwatth"),
        title="Energy saved by dimming",
        description=(
            "Estimate: while a lamp is dimmed to d %, it would draw about power × 100 / d at "
            "full level; the difference, integrated over time, per district. Drivers do not "
            "scale exactly with the level, so this is an upper estimate."
        ),
        queries=[
            Query(
                f'SELECT sum("kwh") AS "saved_kwh" FROM ('
                f'SELECT integral("saved_w", 1h) / 1000 AS "kwh" FROM ('
                f'SELECT {power} * (100 - {dimming}) / {dimming} AS "saved_w" FROM {source} '
                f"WHERE $timeFilter AND {where} AND {lamp_on} = true AND {dimming} > 0) "
                f'GROUP BY "device_id", "district") GROUP BY "district"',
                columns=("saved_kwh",),
                tags=("district",),
                result_format="table",
            )
        ],
        width=12,
    )

    board.row("Failures")
    board.panel(
        timeseries.Panel().unit("short"),
        title="Lamps reporting a fault",
        description="Lamps whose report carries any fault flag, per district.",
        queries=[
            Query(
                f'SELECT count("faulty") AS "lamps" FROM ('
                f'SELECT max({fault_count}) AS "faulty" FROM {source} '
                f"WHERE $timeFilter AND {where} AND {fault_count} > 0 "
                f'GROUP BY time($__interval), "device_id", "district") '
                f'WHERE $timeFilter GROUP BY time($__interval), "district" fill(0)',
                columns=("lamps",),
                tags=("district",),
                alias="$tag_district",
            )
        ],
        width=12,
    )
    board.panel(
        table.Panel(),
        title="Failed lamps",
        description="Each lamp's latest fault flags in the time range.",
        queries=[
            Query(
                f'SELECT last({faults}) AS "faults" FROM {source} '
                f"WHERE $timeFilter AND {where} AND {fault_count} > 0 "
                f'GROUP BY "device_id", "cabinet", "district"',
                columns=("faults",),
                tags=("device_id", "cabinet", "district"),
                result_format="table",
            )
        ],
        width=12,
    )
    board.panel(
        statetimeline.Panel(),
        title="Cabinets without power",
        description=(
            f"Lamps of each cabinet reporting {StreetlightFault.POWER_LOSS.value}: a whole "
            "cabinet at its lamp count is a cut feeder."
        ),
        queries=[
            Query(
                f'SELECT count("lost") AS "lamps_without_power" FROM ('
                f'SELECT count({power}) AS "lost" FROM {source} '
                f"WHERE $timeFilter AND {where} "
                f"AND {faults} =~ /{StreetlightFault.POWER_LOSS.value}/ "
                f'GROUP BY time($__interval), "device_id", "cabinet") '
                f'WHERE $timeFilter GROUP BY time($__interval), "cabinet" fill(0)',
                columns=("lamps_without_power",),
                tags=("cabinet",),
                alias="$tag_cabinet",
            )
        ],
        width=24,
    )

    board.row("Long range (rollups)")
    for suffix, span in zip(names.rollups, ("7d", "90d"), strict=False):
        board.panel(
            timeseries.Panel().unit("watt"),
            title=f"Mean lamp power per district, {suffix} rollup",
            description=(
                f"From the {suffix} means in retention policy {names.downsampled_policy}: "
                f"the last {span} without reading every raw point."
            ),
            queries=[
                Query(
                    f'SELECT mean({power}) AS "power_w" FROM '
                    f"{names.rollup(StreetlightTelemetry.measurement, suffix)} "
                    f'WHERE $timeFilter AND {where} GROUP BY time($__interval), "district" '
                    f"fill(null)",
                    columns=("power_w",),
                    tags=("district",),
                    alias="$tag_district",
                )
            ],
            width=12,
            time_from=span,
        )
    return board.build()
