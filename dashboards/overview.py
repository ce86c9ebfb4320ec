"""City overview: who is online, how much is flowing, what is alerting, what is being done
about it (incidents), and where."""

from __future__ import annotations

import csv
import io
import math

from grafana_foundation_sdk.builders import (
    bargauge,
    common,
    geomap,
    stat,
    table,
    testdata,
    timeseries,
)
from grafana_foundation_sdk.builders import (
    dashboard as sdk,
)
from grafana_foundation_sdk.models import common as common_model
from grafana_foundation_sdk.models import dashboard as model

from dashboards.kit import DISTRICT, Board, BuiltDashboard, Query, field, measurement, tag_variable
from dashboards.names import ALERTMANAGER_UID, DataNames, registry_ref
from devices import Registry, Status

__all__ = ["UID", "overview_dashboard", "registry_csv"]

UID = "smartcity-overview"
_MIXED = model.DataSourceRef(type_val="datasource", uid="-- Mixed --")


def _presence(names: DataNames, online: bool) -> Query:
    status = measurement(Status)
    flag = field(Status, "online")
    return Query(
        f'SELECT count("online") AS "devices" FROM ('
        f'SELECT last({flag}) AS "online" FROM {status} '
        f"WHERE time > now() - {names.presence_lookback} AND {DISTRICT} "
        f'GROUP BY "device_id", "kind", "district") '
        f'WHERE "online" = {"true" if online else "false"} GROUP BY "kind", "district"',
        columns=("devices",),
        tags=("kind", "district"),
        result_format="table",
    )


def registry_csv(registry: Registry) -> str:
    """device_id, kind, district, latitude, longitude of every device, for the map.

    A device without coordinates in the registry is drawn on a ring around the city centre,
    one ring per district, and marked ``approximate``: still on the map, never in a false place
    that looks exact.
    """
    districts = sorted({record.district for record in registry.values()})
    ring = {name: index for index, name in enumerate(districts)}
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["device_id", "kind", "district", "latitude", "longitude", "placed"])
    records = sorted(registry.values(), key=lambda record: record.id)
    for index, record in enumerate(records):
        if record.latitude is not None and record.longitude is not None:
            latitude, longitude, placed = record.latitude, record.longitude, "registry"
        else:
            radius_deg = 0.01 * (1 + ring[record.district])
            angle = 2 * math.pi * index / max(len(records), 1)
            latitude = registry.city.latitude + radius_deg * math.sin(angle)
            longitude = registry.city.longitude + radius_deg * math.cos(angle)
            placed = "approximate"
        writer.writerow(
            [
                record.id,
                record.kind.value,
                record.district,
                f"{latitude:.6f}",
                f"{longitude:.6f}",
                placed,
            ]
        )
    return buffer.getvalue()


def overview_dashboard(names: DataNames, registry: Registry) -> BuiltDashboard:
    """The control room's first screen."""
    status = measurement(Status)
    stats = f'"{names.stats_measurement}"'
    alert = f'"{names.alert_measurement}"'
    board = Board(
        uid=UID,
        title="City overview",
        description="Devices online, messages flowing, active alerts, incidents and the map.",
        names=names,
        tags=["overview"],
    )
    board.variable(tag_variable("district", "District", status, "district"))
    # Grafana's own pages on the platform's Alertmanager: grouped alerts and silences
    board.link(
        "Alerts in Alertmanager",
        f"/alerting/groups?alertmanager={ALERTMANAGER_UID}",
        "Alertmanager's view: grouped alerts, who was notified",
    )
    board.link(
        "Silences",
        f"/alerting/silences?alertmanager={ALERTMANAGER_UID}",
        "Silence or expire silences in the platform's Alertmanager",
    )
    board.alert_annotations(DISTRICT)
    board.incident_annotations(DISTRICT)

    board.row("Devices")
    board.panel(
        stat.Panel().reduce_options(common.ReduceDataOptions().calcs(["sum"])),
        title="Devices online",
        description="Devices whose last status says online, by kind and district.",
        queries=[_presence(names, online=True)],
        width=6,
        height=6,
    )
    board.panel(
        stat.Panel()
        .reduce_options(common.ReduceDataOptions().calcs(["sum"]))
        .color_scheme(sdk.FieldColor().mode(model.FieldColorModeId.FIXED).fixed_color("red")),
        title="Devices offline",
        description="Devices whose last status (or last-will) says offline.",
        queries=[_presence(names, online=False)],
        width=6,
        height=6,
    )
    board.panel(
        table.Panel(),
        title="Online and offline per kind and district",
        description="A: online, B: offline; one row per kind and district.",
        queries=[_presence(names, online=True), _presence(names, online=False)],
        width=12,
        height=6,
    )

    board.row("Traffic through the platform")
    board.panel(
        timeseries.Panel().unit("reqps"),
        title="Messages per second",
        description="Messages the gateway received per second, all workers together.",
        queries=[
            Query(
                f'SELECT sum("rate") AS "messages_per_s" FROM ('
                f'SELECT mean("rate_per_s") AS "rate" FROM {stats} WHERE $timeFilter '
                f'GROUP BY time($__interval), "worker") '
                f"WHERE $timeFilter GROUP BY time($__interval) fill(null)",
                columns=("messages_per_s",),
                alias="received",
            )
        ],
        width=12,
    )
    board.panel(
        bargauge.Panel(),
        title="Active alerts by severity",
        description=(
            "Alerts whose last change is firing, from the rule engine's change log. Silences "
            "and notifications live in Alertmanager: Grafana's Alerting pages read it through "
            "the provisioned Alertmanager datasource (Grafana cannot chart it in a panel)."
        ),
        queries=[
            Query(
                f'SELECT count("state") AS "alerts" FROM ('
                f'SELECT last("state") AS "state" FROM {alert} '
                f"WHERE time > now() - {names.presence_lookback} AND {DISTRICT} "
                f'GROUP BY "fingerprint", "severity") '
                f'WHERE "state" = \'firing\' GROUP BY "severity"',
                columns=("alerts",),
                tags=("severity",),
                alias="$tag_severity",
            )
        ],
        width=12,
    )

    board.row("Map")
    presence = Query(
        f'SELECT last({field(Status, "online")}) AS "online" FROM {status} '
        f"WHERE time > now() - {names.presence_lookback} AND {DISTRICT} "
        f'GROUP BY "device_id"',
        columns=("online",),
        tags=("device_id",),
        result_format="table",
    )
    places = (
        testdata.Dataquery()
        .ref_id("A")
        .scenario_id("csv_content")
        .csv_content(registry_csv(registry))
        .datasource(registry_ref())
    )
    board.panel(
        geomap.Panel()
        .view(geomap.MapViewConfig().id("fit").all_layers(True).zoom(11))
        .layers(
            [
                common.MapLayerOptions()
                .type("markers")
                .name("Devices")
                .location(
                    common.FrameGeometrySource()
                    .mode(common_model.FrameGeometrySourceMode.COORDS)
                    .latitude("latitude")
                    .longitude("longitude")
                )
                .config({"color": {"field": "online", "fixed": "dark-green"}, "showLegend": True})
                .tooltip(True)
            ]
        )
        .mappings(
            [
                model.ValueMap(
                    options={
                        "true": model.ValueMappingResult(text="online", color="green"),
                        "false": model.ValueMappingResult(text="offline", color="red"),
                    }
                )
            ]
        )
        .with_transformation(
            model.DataTransformerConfig(
                id_val="joinByField", options={"byField": "device_id", "mode": "outer"}
            )
        ),
        title="Devices by state",
        description=(
            "Every registry device at its coordinates, green online, red offline (last status). "
            "Devices without coordinates sit on a ring per district around the city centre."
        ),
        queries=[presence],
        extra_targets=[places],
        datasource=_MIXED,
        width=24,
        height=14,
    )

    board.row("Alert changes")
    board.panel(
        table.Panel(),
        title="Latest alert changes",
        description="Fired, resolved and acknowledged alerts, newest first.",
        queries=[
            Query(
                f'SELECT "summary", "state", "rule", "severity", "district" FROM {alert} '
                f"WHERE $timeFilter AND {DISTRICT} ORDER BY time DESC LIMIT 100",
                columns=("summary", "state", "rule", "severity"),
                result_format="table",
            )
        ],
        width=24,
    )
    incident = f'"{names.incident_measurement}"'
    board.panel(
        table.Panel(),
        title="Latest incident changes",
        description=(
            "What was done about each incident, newest first. Opened, taken, notes, steps done "
            "by people and by the platform, status changes, escalations: the incident service's "
            "timeline (the operators' page and `smartcity incidents show` have it whole)."
        ),
        queries=[
            Query(
                f'SELECT "incident", "type", "entry", "text", "actor", "severity" FROM {incident} '
                f"WHERE $timeFilter AND {DISTRICT} ORDER BY time DESC LIMIT 100",
                columns=("incident", "type", "entry", "text", "actor"),
                result_format="table",
            )
        ],
        width=24,
    )
    return board.build()
