"""Checkpoints: vehicle flow, classes, speeds, violations by kind, camera health."""

from __future__ import annotations

from grafana_foundation_sdk.builders import piechart, table, timeseries

from dashboards.kit import DISTRICT, Board, BuiltDashboard, Query, field, measurement, tag_variable
from dashboards.names import DataNames
from devices import (
    CheckpointTelemetry,
    Kind,
    VehicleClass,
    VehiclePass,
    Violation,
    ViolationKind,
)

__all__ = ["UID", "checkpoints_dashboard"]

UID = "smartcity-checkpoints"
_CAMERA = '"device_id" =~ /^$camera$/'


def checkpoints_dashboard(names: DataNames) -> BuiltDashboard:
    """Cameras: what passes, how fast, what breaks the rules, and whether they still see."""
    passes = measurement(VehiclePass)
    violations = measurement(Violation)
    health = measurement(CheckpointTelemetry)
    speed = field(VehiclePass, "speed_kmh")
    where = f"{DISTRICT} AND {_CAMERA}"
    board = Board(
        uid=UID,
        title="Checkpoints",
        description="Vehicle flow, classes and speeds; violations by kind; camera health.",
        names=names,
        tags=[Kind.CHECKPOINT.value],
    )
    board.variable(tag_variable("district", "District", health, "district"))
    board.variable(tag_variable("camera", "Camera", health, "device_id", where=DISTRICT))
    board.alert_annotations(f"\"kind\" = '{Kind.CHECKPOINT.value}' AND {DISTRICT}")

    board.row("Flow")
    board.panel(
        timeseries.Panel().unit("short"),
        title="Vehicles per checkpoint",
        description="Passes counted per interval.",
        queries=[
            Query(
                f'SELECT count({speed}) AS "vehicles" FROM {passes} WHERE $timeFilter AND {where} '
                f'GROUP BY time($__interval), "device_id" fill(0)',
                columns=("vehicles",),
                tags=("device_id",),
                alias="$tag_device_id",
            )
        ],
        width=12,
    )
    vehicle_class = field(VehiclePass, "vehicle_class")
    board.panel(
        piechart.Panel(),
        title="Vehicle classes",
        description="Passes by class in the time range.",
        queries=[
            Query(
                f'SELECT count({speed}) AS "vehicles" FROM {passes} WHERE $timeFilter AND {where} '
                f"AND {vehicle_class} = '{kind.value}'",
                columns=("vehicles",),
                alias=kind.value,
            )
            for kind in VehicleClass
        ],
        width=12,
    )
    board.panel(
        timeseries.Panel().unit("velocitykmh"),
        title="Speeds",
        description="Mean and 85th percentile speed of passing vehicles, per checkpoint.",
        queries=[
            Query(
                f'SELECT mean({speed}) AS "mean_kmh", percentile({speed}, 85) AS "p85_kmh" '
                f"FROM {passes} WHERE $timeFilter AND {where} "
                f'GROUP BY time($__interval), "device_id" fill(null)',
                columns=("mean_kmh", "p85_kmh"),
                tags=("device_id",),
                alias="$tag_device_id $col",
            )
        ],
        width=24,
    )

    board.row("Violations")
    kind_field = field(Violation, "violation")
    board.panel(
        timeseries.Panel().unit("short"),
        title="Violations by kind",
        description="Violations per interval, one line per kind.",
        queries=[
            Query(
                f'SELECT count({field(Violation, "evidence_id")}) AS "violations" '
                f"FROM {violations} WHERE $timeFilter AND {where} "
                f"AND {kind_field} = '{kind.value}' GROUP BY time($__interval) fill(0)",
                columns=("violations",),
                alias=kind.value,
            )
            for kind in ViolationKind
        ],
        width=12,
    )
    board.panel(
        table.Panel(),
        title="Latest violations",
        description="Newest first; plates are stored only as keyed hashes.",
        queries=[
            Query(
                f"SELECT {kind_field}, {field(Violation, 'lane')}, "
                f'{field(Violation, "evidence_id")}, "device_id", "junction" '
                f"FROM {violations} WHERE $timeFilter AND {where} ORDER BY time DESC LIMIT 100",
                columns=("violation", "lane", "evidence_id", "device_id"),
                result_format="table",
            )
        ],
        width=12,
    )

    board.row("Camera health")
    for name, unit, title in (
        ("fps", "fps", "Frames per second"),
        ("storage_used_pct", "percent", "Storage used"),
        ("temp_c", "celsius", "Camera temperature"),
    ):
        board.panel(
            timeseries.Panel().unit(unit),
            title=title,
            description=f"{name} per camera.",
            queries=[
                Query(
                    f'SELECT mean({field(CheckpointTelemetry, name)}) AS "{name}" FROM {health} '
                    f'WHERE $timeFilter AND {where} GROUP BY time($__interval), "device_id" '
                    f"fill(null)",
                    columns=(name,),
                    tags=("device_id",),
                    alias="$tag_device_id",
                )
            ],
            width=8,
        )
    board.panel(
        table.Panel(),
        title="Cameras now",
        description="Each camera's last health report: online, frame rate, storage.",
        queries=[
            Query(
                f'SELECT last({field(CheckpointTelemetry, "online")}) AS "online", '
                f'last({field(CheckpointTelemetry, "fps")}) AS "fps", '
                f'last({field(CheckpointTelemetry, "storage_used_pct")}) AS "storage_used_pct" '
                f'FROM {health} WHERE $timeFilter AND {where} GROUP BY "device_id"',
                columns=("online", "fps", "storage_used_pct"),
                tags=("device_id",),
                result_format="table",
            )
        ],
        width=24,
    )

    board.row("Long range (rollups)")
    for suffix, span in zip(names.rollups, ("7d", "90d"), strict=False):
        board.panel(
            timeseries.Panel(),
            title=f"Vehicles per minute, {suffix} rollup",
            description=f"Mean vehicles_per_min from the {suffix} rollup, the last {span}.",
            queries=[
                Query(
                    f"SELECT mean({field(CheckpointTelemetry, 'vehicles_per_min')}) "
                    f'AS "vehicles_per_min" FROM '
                    f"{names.rollup(CheckpointTelemetry.measurement, suffix)} "
                    f'WHERE $timeFilter AND {where} GROUP BY time($__interval), "device_id" '
                    f"fill(null)",
                    columns=("vehicles_per_min",),
                    tags=("device_id",),
                    alias="$tag_device_id",
                )
            ],
            width=12,
            time_from=span,
        )
    return board.build()
