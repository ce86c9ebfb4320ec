"""Platform: ingest rate, rejected by reason, spool depth, write latency, dead letters, and
the rule engine's intake and output."""

from __future__ import annotations

from grafana_foundation_sdk.builders import table, timeseries

from dashboards.kit import Board, BuiltDashboard, Query
from dashboards.names import DataNames

__all__ = ["UID", "platform_dashboard"]

UID = "smartcity-platform"


def _per_worker_sum(stats: str, inner: str, alias: str) -> str:
    """A gateway figure summed over workers per interval (each worker reports its own)."""
    return (
        f'SELECT sum("{alias}") AS "{alias}" FROM ('
        f'SELECT {inner} AS "{alias}" FROM {stats} WHERE $timeFilter '
        f'GROUP BY time($__interval), "worker") '
        f"WHERE $timeFilter GROUP BY time($__interval) fill(null)"
    )


def _counter_rate(stats: str, counter: str, alias: str) -> str:
    """A gateway counter as a rate per second, summed over workers per interval.

    The rate is taken between consecutive reports of each worker (not per interval), so it
    holds however few reports an interval has; then averaged per interval, then summed.
    """
    return (
        f'SELECT sum("{alias}") AS "{alias}" FROM ('
        f'SELECT mean("{alias}") AS "{alias}" FROM ('
        f'SELECT non_negative_derivative("{counter}", 1s) AS "{alias}" FROM {stats} '
        f'WHERE $timeFilter GROUP BY "worker") '
        f'WHERE $timeFilter GROUP BY time($__interval), "worker") '
        f"WHERE $timeFilter GROUP BY time($__interval) fill(null)"
    )


def platform_dashboard(names: DataNames) -> BuiltDashboard:
    """How the platform itself is doing, for whoever runs it."""
    stats = f'"{names.stats_measurement}"'
    deadletter = f'"{names.deadletter_measurement}"'
    alert = f'"{names.alert_measurement}"'
    board = Board(
        uid=UID,
        title="Platform",
        description="Gateway ingest, rejects and dead letters, the spool, writes, rule engine.",
        names=names,
        tags=["platform"],
        time_from="now-6h",
    )

    board.row("Ingest")
    board.panel(
        timeseries.Panel().unit("reqps"),
        title="Ingest rate",
        description="Messages received and stored per second, all gateway workers together.",
        queries=[
            Query(
                _per_worker_sum(stats, 'mean("rate_per_s")', "received_per_s"),
                columns=("received_per_s",),
                alias="received",
            ),
            Query(
                _counter_rate(stats, "stored", "stored_per_s"),
                columns=("stored_per_s",),
                alias="stored",
            ),
        ],
        width=12,
    )
    board.panel(
        timeseries.Panel().unit("short"),
        title="Rejected by reason",
        description="Dead-lettered messages per interval, one line per reason.",
        queries=[
            Query(
                f'SELECT count("payload_bytes") AS "rejected" FROM {deadletter} '
                f'WHERE $timeFilter GROUP BY time($__interval), "reason" fill(0)',
                columns=("rejected",),
                tags=("reason",),
                alias="$tag_reason",
            )
        ],
        width=12,
    )
    board.panel(
        timeseries.Panel().unit("short"),
        title="Spool depth",
        description="Points waiting in the disk spool for InfluxDB (0 while it keeps up).",
        queries=[
            Query(
                _per_worker_sum(stats, 'max("spool_points")', "spool_points"),
                columns=("spool_points",),
                alias="points in the spool",
            )
        ],
        width=8,
    )
    board.panel(
        timeseries.Panel().unit("s"),
        title="Write latency",
        description="The last InfluxDB write's duration at each report, per worker.",
        queries=[
            Query(
                f'SELECT max("write_seconds_last") AS "write_s" FROM {stats} '
                f'WHERE $timeFilter GROUP BY time($__interval), "worker" fill(null)',
                columns=("write_s",),
                tags=("worker",),
                alias="$tag_worker",
            )
        ],
        width=8,
    )
    board.panel(
        timeseries.Panel().unit("short"),
        title="In flight and queued",
        description="Messages received but not yet acknowledged, and the hand-off queue.",
        queries=[
            Query(
                _per_worker_sum(stats, 'max("in_flight")', "in_flight"),
                columns=("in_flight",),
                alias="in flight",
            ),
            Query(
                _per_worker_sum(stats, 'max("queue_depth")', "queue_depth"),
                columns=("queue_depth",),
                alias="queued",
            ),
        ],
        width=8,
    )

    board.row("Rule engine")
    board.panel(
        timeseries.Panel().unit("reqps"),
        title="Rule engine intake",
        description="Readings handed to the rule engine per second (after they are durable).",
        queries=[
            Query(
                _counter_rate(stats, "handed_to_rules", "readings_per_s"),
                columns=("readings_per_s",),
                alias="readings evaluated",
            )
        ],
        width=12,
    )
    board.panel(
        timeseries.Panel().unit("short"),
        title="Alert changes",
        description="Alerts fired, resolved and acknowledged per interval.",
        queries=[
            Query(
                f'SELECT count("state") AS "changes" FROM {alert} WHERE $timeFilter '
                f'GROUP BY time($__interval), "change" fill(0)',
                columns=("changes",),
                tags=("change",),
                alias="$tag_change",
            )
        ],
        width=12,
    )

    board.row("Dead letters")
    board.panel(
        table.Panel(),
        title="Latest dead letters",
        description="Why each rejected message was refused; the payload is kept in base64.",
        queries=[
            Query(
                f'SELECT "reason", "detail", "topic", "payload_bytes" FROM {deadletter} '
                f"WHERE $timeFilter ORDER BY time DESC LIMIT 200",
                columns=("reason", "detail", "topic", "payload_bytes"),
                result_format="table",
            )
        ],
        width=24,
        height=10,
    )
    return board.build()
