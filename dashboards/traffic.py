"""Traffic: queue, volume and occupancy per junction and approach, signal modes, faults."""

from __future__ import annotations

from grafana_foundation_sdk.builders import statetimeline, table, timeseries

from dashboards.kit import DISTRICT, Board, BuiltDashboard, Query, field, measurement, tag_variable
from dashboards.names import DataNames
from devices import Approach, Kind, TrafficSignalFaultEvent, TrafficSignalTelemetry

__all__ = ["UID", "traffic_dashboard"]

UID = "smartcity-traffic"
_JUNCTION = '"junction" =~ /^$junction$/'
_SIGNAL = '"device_id" =~ /^$signal$/'


def traffic_dashboard(names: DataNames) -> BuiltDashboard:
    """Junctions: how long the queues are, how much passes, how the signals run."""
    signal = measurement(TrafficSignalTelemetry)
    approach = measurement(Approach)
    faults = measurement(TrafficSignalFaultEvent)
    where = f"{DISTRICT} AND {_JUNCTION} AND {_SIGNAL}"
    board = Board(
        uid=UID,
        title="Traffic",
        description="Queues, volume and occupancy per junction and approach; signal modes; faults.",
        names=names,
        tags=[Kind.TRAFFIC_SIGNAL.value],
    )
    board.variable(tag_variable("district", "District", signal, "district"))
    board.variable(tag_variable("junction", "Junction", signal, "junction", where=DISTRICT))
    board.variable(
        tag_variable(
            "signal", "Signal controller", signal, "device_id", where=f"{DISTRICT} AND {_JUNCTION}"
        )
    )
    board.alert_annotations(f"\"kind\" = '{Kind.TRAFFIC_SIGNAL.value}' AND {DISTRICT}")

    board.row("Approaches")
    for name, aggregate, unit, title in (
        ("queue_veh", "max", "short", "Longest queue per junction and approach"),
        ("volume_veh", "mean", "short", "Volume per junction and approach"),
        ("occupancy_pct", "mean", "percent", "Detector occupancy per junction and approach"),
    ):
        board.panel(
            timeseries.Panel().unit(unit),
            title=title,
            description=f"{aggregate} of {name} over the interval, one line per approach.",
            queries=[
                Query(
                    f'SELECT {aggregate}({field(Approach, name)}) AS "{name}" FROM {approach} '
                    f"WHERE $timeFilter AND {where} "
                    f'GROUP BY time($__interval), "junction", "approach" fill(null)',
                    columns=(name,),
                    tags=("junction", "approach"),
                    alias="$tag_junction $tag_approach",
                )
            ],
            width=8,
        )

    board.row("Signals")
    board.panel(
        statetimeline.Panel(),
        title="Signal mode per junction",
        description="fixed, actuated, manual, flash or off, as each controller reports it.",
        queries=[
            Query(
                f'SELECT last({field(TrafficSignalTelemetry, "mode")}) AS "mode" FROM {signal} '
                f'WHERE $timeFilter AND {where} GROUP BY time($__interval), "junction" '
                f"fill(previous)",
                columns=("mode",),
                tags=("junction",),
                alias="$tag_junction",
            )
        ],
        width=12,
    )
    board.panel(
        timeseries.Panel().unit("s"),
        title="Cycle length per junction",
        description="The running plan's cycle in seconds.",
        queries=[
            Query(
                f'SELECT mean({field(TrafficSignalTelemetry, "cycle_s")}) AS "cycle_s" '
                f"FROM {signal} WHERE $timeFilter AND {where} "
                f'GROUP BY time($__interval), "junction" fill(null)',
                columns=("cycle_s",),
                tags=("junction",),
                alias="$tag_junction",
            )
        ],
        width=12,
    )

    board.row("Faults")
    fault = field(TrafficSignalFaultEvent, "fault")
    board.panel(
        timeseries.Panel().unit("short"),
        title="Faults raised per junction",
        description="Fault events that set a fault active, per interval.",
        queries=[
            Query(
                f'SELECT count({fault}) AS "faults" FROM {faults} WHERE $timeFilter AND {where} '
                f"AND {field(TrafficSignalFaultEvent, 'active')} = true "
                f'GROUP BY time($__interval), "junction" fill(0)',
                columns=("faults",),
                tags=("junction",),
                alias="$tag_junction",
            )
        ],
        width=12,
    )
    board.panel(
        table.Panel(),
        title="Fault events",
        description="Every fault raised or cleared, newest first.",
        queries=[
            Query(
                f"SELECT {fault}, {field(TrafficSignalFaultEvent, 'active')}, "
                f'{field(TrafficSignalFaultEvent, "detail")}, "junction", "device_id" '
                f"FROM {faults} WHERE $timeFilter AND {where} ORDER BY time DESC LIMIT 200",
                columns=("fault", "active", "junction", "device_id"),
                result_format="table",
            )
        ],
        width=12,
    )

    board.row("Long range (rollups)")
    for suffix, span in zip(names.rollups, ("7d", "90d"), strict=False):
        board.panel(
            timeseries.Panel(),
            title=f"Queue per junction, {suffix} rollup",
            description=(
                f"Longest of the approaches' {suffix} mean queues, "
                f"from {names.downsampled_policy}, the last {span}."
            ),
            queries=[
                Query(
                    f'SELECT max({field(Approach, "queue_veh")}) AS "queue_veh" FROM '
                    f"{names.rollup(Approach.measurement, suffix)} "
                    f'WHERE $timeFilter AND {where} GROUP BY time($__interval), "junction" '
                    f"fill(null)",
                    columns=("queue_veh",),
                    tags=("junction",),
                    alias="$tag_junction",
                )
            ],
            width=12,
            time_from=span,
        )
    return board.build()
