"""InfluxQL queries for grafana-foundation-sdk, through its own extension point.

The SDK (the Grafana 11.6 build) ships query types for Prometheus, Loki and others but none for
InfluxDB. A query type is a ``cogvariants.Dataquery`` (a model with ``to_json``/``from_json``),
a ``cogbuilder.Builder`` for it, and a ``DataqueryConfig`` registered with the SDK's runtime so
that dashboards read back from JSON get typed InfluxDB queries again. The fields are those of
Grafana's own InfluxDB query model (``InfluxQuery`` in its ``influxdb`` plugin), raw mode only:
every query here is text, which is what runs the same on InfluxDB 1.x, 2.x (DBRP) and 3.x.
"""

from __future__ import annotations

from typing import Any, Literal, Self

from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import runtime as cogruntime
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models import dashboard as model

__all__ = [
    "INFLUXDB_TYPE",
    "InfluxAnnotationTarget",
    "InfluxQuery",
    "InfluxQueryBuilder",
    "register_influxdb_variant",
]

INFLUXDB_TYPE = "influxdb"
"""The plugin id of Grafana's InfluxDB datasource."""

ResultFormat = Literal["time_series", "table", "logs"]


class InfluxQuery(cogvariants.Dataquery):
    """One InfluxQL query of a panel, as Grafana's InfluxDB plugin stores it (raw mode)."""

    def __init__(
        self,
        *,
        ref_id: str = "A",
        query: str = "",
        result_format: ResultFormat = "time_series",
        alias: str | None = None,
        datasource: model.DataSourceRef | None = None,
        hide: bool | None = None,
    ) -> None:
        self.ref_id = ref_id
        self.query = query
        self.result_format: ResultFormat = result_format
        self.alias = alias
        self.datasource = datasource
        self.hide = hide

    def to_json(self) -> dict[str, object]:
        """The JSON Grafana stores for this query."""
        payload: dict[str, object] = {
            "refId": self.ref_id,
            "query": self.query,
            "rawQuery": True,
            "resultFormat": self.result_format,
        }
        if self.alias is not None:
            payload["alias"] = self.alias
        if self.datasource is not None:
            payload["datasource"] = self.datasource
        if self.hide is not None:
            payload["hide"] = self.hide
        return payload

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        """Read a query back from Grafana's JSON."""
        datasource = data.get("datasource")
        return cls(
            ref_id=str(data.get("refId", "A")),
            query=str(data.get("query", "")),
            result_format=data.get("resultFormat", "time_series"),
            alias=data.get("alias"),
            datasource=model.DataSourceRef.from_json(datasource)
            if isinstance(datasource, dict)
            else None,
            hide=data.get("hide"),
        )


class InfluxQueryBuilder(cogbuilder.Builder[cogvariants.Dataquery]):
    """Builds an ``InfluxQuery``: ``InfluxQueryBuilder().query("SELECT ...").ref_id("B")``."""

    def __init__(self) -> None:
        self._internal = InfluxQuery()

    def build(self) -> InfluxQuery:
        """The query."""
        return self._internal

    def ref_id(self, ref_id: str) -> Self:
        """The query's letter within its panel."""
        self._internal.ref_id = ref_id
        return self

    def query(self, text: str) -> Self:
        """The InfluxQL text, with Grafana's macros ($timeFilter, $__interval, variables)."""
        self._internal.query = text
        return self

    def result_format(self, result_format: ResultFormat) -> Self:
        """``time_series`` for graphs and stats, ``table`` for tables and maps."""
        self._internal.result_format = result_format
        return self

    def alias(self, alias: str) -> Self:
        """Series name pattern, e.g. ``$tag_district``."""
        self._internal.alias = alias
        return self

    def datasource(self, datasource: model.DataSourceRef) -> Self:
        """Which InfluxDB datasource runs it."""
        self._internal.datasource = datasource
        return self

    def hide(self, hide: bool) -> Self:
        """Keep the query but do not draw it."""
        self._internal.hide = hide
        return self


class InfluxAnnotationTarget(model.AnnotationTarget):
    """The target of an annotation read from InfluxDB: an InfluxQL query whose rows become
    events, with the columns that give their text and tags (Grafana's InfluxDB annotation
    support reads ``query``, ``textColumn``, ``tagsColumn`` from the target)."""

    def __init__(self, *, query: str, text_column: str, tags_column: str) -> None:
        super().__init__()
        self.query = query
        self.text_column = text_column
        self.tags_column = tags_column

    def to_json(self) -> dict[str, object]:
        """The JSON Grafana stores for the annotation's target."""
        return {
            "refId": "Anno",
            "query": self.query,
            "rawQuery": True,
            "resultFormat": "table",
            "fromAnnotations": True,
            "textColumn": self.text_column,
            "tagsColumn": self.tags_column,
        }


def register_influxdb_variant() -> None:
    """Teach the SDK's runtime to read InfluxDB queries back from dashboard JSON."""
    cogruntime.register_dataquery_variant(
        cogruntime.DataqueryConfig(identifier=INFLUXDB_TYPE, from_json_hook=InfluxQuery.from_json)
    )
