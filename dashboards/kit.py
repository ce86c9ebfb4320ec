"""The tools every dashboard is built with: a board that places panels, queries that know
their shape, names checked against ``devices``, the shared variables and annotations.

A ``Board`` wraps the SDK's dashboard builder: it gives each panel a unique id and a grid
position (rows of 24 columns, never overlapping), attaches its InfluxQL queries, and keeps a
``PanelSummary`` of each panel for the README and the tests, which run every query against a
real InfluxDB and check the rows against ``Query.columns``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from grafana_foundation_sdk.builders import dashboard as sdk
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import dashboard as model
from pydantic import BaseModel

from dashboards.errors import UnknownName
from dashboards.influxql import InfluxAnnotationTarget, InfluxQueryBuilder, ResultFormat
from dashboards.names import DataNames, influx_ref

__all__ = [
    "DISTRICT",
    "GRID_COLUMNS",
    "Board",
    "BuiltDashboard",
    "PanelSummary",
    "Query",
    "VariableSummary",
    "field",
    "measurement",
    "tag_variable",
]

GRID_COLUMNS = 24
DISTRICT = '"district" =~ /^$district$/'
"""The WHERE term of the district variable (multi-value; "All" is ``.*``)."""


def measurement(model_type: type[BaseModel]) -> str:
    """A payload model's measurement, quoted for InfluxQL."""
    name = getattr(model_type, "measurement", None)
    if not isinstance(name, str):
        raise UnknownName(f"{model_type.__name__} has no measurement")
    return f'"{name}"'


def field(model_type: type[BaseModel], name: str, *, stored_as: str | None = None) -> str:
    """A payload field, quoted for InfluxQL; refuses a field the schema does not have.

    ``stored_as`` names what ingest derives from it (``faults`` → ``fault_count``).
    """
    if name not in model_type.model_fields:
        raise UnknownName(f"{model_type.__name__} has no field {name!r}")
    return f'"{stored_as or name}"'


@dataclass(frozen=True, slots=True)
class Query:
    """One InfluxQL query and the shape its panel needs back.

    ``columns``: value columns every returned row must have (not null). ``tags``: the tags
    each series must carry (``time_series``) or the columns a table must have (``table``).
    """

    text: str
    columns: tuple[str, ...]
    tags: tuple[str, ...] = ()
    result_format: ResultFormat = "time_series"
    alias: str | None = None


@dataclass(frozen=True, slots=True)
class PanelSummary:
    """What a panel shows and how, for the README and the tests."""

    id: int
    title: str
    type: str
    description: str
    queries: tuple[Query, ...]
    time_from: str | None


@dataclass(frozen=True, slots=True)
class VariableSummary:
    """A template variable: its name and, for a query variable, its InfluxQL."""

    name: str
    query: str | None
    all_value: str | None


@dataclass(frozen=True, slots=True)
class BuiltDashboard:
    """A finished dashboard: its Grafana JSON and the summaries of its parts."""

    uid: str
    title: str
    description: str
    json: dict[str, Any]
    panels: tuple[PanelSummary, ...]
    variables: tuple[VariableSummary, ...]
    annotations: tuple[Query, ...]

    @property
    def file_name(self) -> str:
        """Where it is written in a provisioning folder."""
        return f"{self.uid}.json"


def tag_variable(
    name: str, label: str, source: str, key: str, *, where: str | None = None
) -> tuple[sdk.QueryVariable, VariableSummary]:
    """A multi-value variable over one tag's values (``SHOW TAG VALUES``), "All" = ``.*``."""
    query = f'SHOW TAG VALUES FROM {source} WITH KEY = "{key}"'
    if where:
        query += f" WHERE {where}"
    variable = (
        sdk.QueryVariable(name)
        .label(label)
        .datasource(influx_ref())
        .query(query)
        .multi(True)
        .include_all(True)
        .all_value(".*")
        .refresh(model.VariableRefresh.ON_DASHBOARD_LOAD)
        .sort(model.VariableSort.ALPHABETICAL_ASC)
        .current(model.VariableOption(selected=True, text="All", value="$__all"))
    )
    return variable, VariableSummary(name, query, ".*")


class Board:
    """One dashboard being built: panels placed left to right, top to bottom."""

    def __init__(
        self,
        *,
        uid: str,
        title: str,
        description: str,
        names: DataNames,
        tags: Sequence[str] = (),
        time_from: str = "now-24h",
    ) -> None:
        self.names = names
        self._uid = uid
        self._title = title
        self._description = description
        self._dashboard = (
            sdk.Dashboard(title)
            .uid(uid)
            .description(description)
            .tags(["smartcity", *tags])
            .time(time_from, "now")
            .refresh("1m")
            .timezone("browser")
            .tooltip(model.DashboardCursorSync.CROSSHAIR)
            .editable()
            .link(
                sdk.DashboardLink("Smart city")
                .type(model.DashboardLinkType.DASHBOARDS)
                .tags(["smartcity"])
                .as_dropdown(True)
                .include_vars(True)
                .keep_time(True)
            )
        )
        self._panels: list[PanelSummary] = []
        self._variables: list[VariableSummary] = []
        self._annotations: list[Query] = []
        self._next_id = 1
        self._x = 0
        self._y = 0
        self._row_height = 0

    # -- variables and annotations -----------------------------------------------------------

    def variable(self, built: tuple[sdk.QueryVariable, VariableSummary]) -> Board:
        """Add a template variable."""
        variable, summary = built
        self._dashboard.with_variable(variable)
        self._variables.append(summary)
        return self

    def alert_annotations(self, where: str) -> Board:
        """Alert changes (fired, resolved, acknowledged) as annotations on every time panel.

        ``where`` narrows them to what this dashboard concerns (a kind, a district).
        """
        alert = self.names.alert_measurement
        query = (
            f'SELECT "summary", "rule", "severity", "change" FROM "{alert}" '
            f"WHERE $timeFilter AND {where}"
        )
        annotation = (
            sdk.AnnotationQuery()
            .name("Alert changes")
            .datasource(influx_ref())
            .enable(True)
            .icon_color("red")
            .target(
                _Fixed(
                    InfluxAnnotationTarget(
                        query=query, text_column="summary", tags_column="rule,severity,change"
                    )
                )
            )
        )
        self._dashboard.annotation(annotation)
        self._annotations.append(
            Query(query, ("summary",), ("rule", "severity", "change"), "table")
        )
        return self

    def incident_annotations(self, where: str) -> Board:
        """Incident timeline entries (opened, status, steps, notes, escalations) as annotations
        on every time panel, tagged with the incident's number, type and the kind of entry."""
        incident = self.names.incident_measurement
        query = (
            f'SELECT "text", "actor", "incident", "type", "entry" FROM "{incident}" '
            f"WHERE $timeFilter AND {where}"
        )
        annotation = (
            sdk.AnnotationQuery()
            .name("Incidents")
            .datasource(influx_ref())
            .enable(True)
            .icon_color("orange")
            .target(
                _Fixed(
                    InfluxAnnotationTarget(
                        query=query, text_column="text", tags_column="incident,type,entry"
                    )
                )
            )
        )
        self._dashboard.annotation(annotation)
        self._annotations.append(
            Query(query, ("text", "actor"), ("incident", "type", "entry"), "table")
        )
        return self

    def link(self, title: str, url: str, tooltip: str) -> Board:
        """A link in the dashboard's header (to a Grafana page or elsewhere)."""
        self._dashboard.link(
            sdk.DashboardLink(title)
            .type(model.DashboardLinkType.LINK)
            .url(url)
            .tooltip(tooltip)
            .icon("bolt")
        )
        return self

    # -- layout ------------------------------------------------------------------------------

    def row(self, title: str) -> Board:
        """Start a new row of panels under a heading."""
        self._newline()
        row = (
            sdk.Row(title)
            .id(self._take_id())
            .grid_pos(model.GridPos(h=1, w=GRID_COLUMNS, x=0, y=self._y))
        )
        self._dashboard.with_row(row)
        self._y += 1
        return self

    def panel(
        self,
        builder: Any,
        *,
        title: str,
        description: str,
        queries: Sequence[Query],
        width: int,
        height: int = 8,
        time_from: str | None = None,
        extra_targets: Sequence[cogbuilder.Builder[Any]] = (),
        datasource: model.DataSourceRef | None = None,
    ) -> Board:
        """Place a panel (an SDK panel builder) with its queries, ids A, B, C ..."""
        if not 0 < width <= GRID_COLUMNS:
            raise ValueError(f"panel {title!r}: width {width} is not 1–{GRID_COLUMNS}")
        if self._x + width > GRID_COLUMNS:
            self._newline()
        panel_id = self._take_id()
        builder.id(panel_id).title(title).description(description)
        builder.grid_pos(model.GridPos(h=height, w=width, x=self._x, y=self._y))
        builder.datasource(datasource or influx_ref())
        targets: list[cogbuilder.Builder[Any]] = list(extra_targets)
        for index, query in enumerate(queries):
            target = (
                InfluxQueryBuilder()
                .ref_id(_ref_id(index + len(extra_targets)))
                .query(query.text)
                .result_format(query.result_format)
                .datasource(influx_ref())
            )
            if query.alias is not None:
                target.alias(query.alias)
            targets.append(target)
        builder.targets(targets)
        if time_from is not None:
            builder.time_from(time_from)
        self._dashboard.with_panel(builder)
        self._panels.append(
            PanelSummary(
                panel_id, title, builder.build().type_val, description, tuple(queries), time_from
            )
        )
        self._x += width
        self._row_height = max(self._row_height, height)
        return self

    def _newline(self) -> None:
        if self._x > 0:
            self._y += self._row_height
        self._x = 0
        self._row_height = 0

    def _take_id(self) -> int:
        taken = self._next_id
        self._next_id += 1
        return taken

    # -- result ------------------------------------------------------------------------------

    def build(self) -> BuiltDashboard:
        """The dashboard's JSON (as Grafana stores it) and its summaries."""
        document = json.loads(json.dumps(self._dashboard.build(), cls=JSONEncoder))
        return BuiltDashboard(
            uid=self._uid,
            title=self._title,
            description=self._description,
            json=document,
            panels=tuple(self._panels),
            variables=tuple(self._variables),
            annotations=tuple(self._annotations),
        )


class _Fixed(cogbuilder.Builder[model.AnnotationTarget]):
    """A builder that hands over an already made object."""

    def __init__(self, built: model.AnnotationTarget) -> None:
        self._built = built

    def build(self) -> model.AnnotationTarget:
        return self._built


def _ref_id(index: int) -> str:
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    return letters[index] if index < len(letters) else f"Q{index}"


def per_device_then(
    outer: str,
    inner: str,
    source: str,
    alias: str,
    *,
    by: Sequence[str],
    where: str = DISTRICT,
    fill: str = "null",
) -> str:
    """Aggregate each device per interval, then across devices per group and interval:
    ``sum`` of per-device ``mean`` power is a district's power, whatever the report rate."""
    tags = ", ".join(f'"{tag}"' for tag in by)
    return (
        f'SELECT {outer}("{alias}") AS "{alias}" FROM ('
        f'SELECT {inner} AS "{alias}" FROM {source} WHERE $timeFilter AND {where} '
        f'GROUP BY time($__interval), "device_id", {tags}) '
        f"WHERE $timeFilter GROUP BY time($__interval), {tags} fill({fill})"
    )
