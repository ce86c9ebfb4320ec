"""Every dashboard, built and written out: ``build_all`` and ``write_folder``.

The folder ``write_folder`` makes is what Grafana is pointed at::

    DIR/provisioning/datasources/smartcity.yaml   # InfluxDB, Alertmanager, registry frame
    DIR/provisioning/dashboards/smartcity.yaml    # a provider loading DIR/dashboards
    DIR/dashboards/smartcity-*.json               # one file per dashboard

(``GF_PATHS_PROVISIONING=DIR/provisioning``).
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from dashboards.checkpoints import checkpoints_dashboard
from dashboards.influxql import register_influxdb_variant
from dashboards.kit import BuiltDashboard
from dashboards.names import DataNames
from dashboards.overview import overview_dashboard
from dashboards.platform_health import platform_dashboard
from dashboards.provisioning import GrafanaSources, dashboard_provider, datasources
from dashboards.streetlights import streetlights_dashboard
from dashboards.traffic import traffic_dashboard
from dashboards.water import water_dashboard
from devices import Registry

__all__ = ["WrittenFolder", "build_all", "dashboards_markdown", "write_folder"]


def build_all(names: DataNames, registry: Registry) -> tuple[BuiltDashboard, ...]:
    """The six dashboards, in the order an operator reads them."""
    register_influxdb_variant()
    return (
        overview_dashboard(names, registry),
        streetlights_dashboard(names),
        water_dashboard(names, registry),
        traffic_dashboard(names),
        checkpoints_dashboard(names),
        platform_dashboard(names),
    )


class WrittenFolder:
    """What ``write_folder`` wrote, and where."""

    def __init__(self, root: Path, files: list[Path]) -> None:
        self.root = root
        self.files = tuple(files)

    @property
    def provisioning(self) -> Path:
        """Point ``GF_PATHS_PROVISIONING`` here."""
        return self.root / "provisioning"


def write_folder(
    folder: Path,
    built: tuple[BuiltDashboard, ...],
    sources: GrafanaSources,
    *,
    dashboards_path: str | None = None,
) -> WrittenFolder:
    """Write the dashboards and the provisioning files under ``folder``.

    ``dashboards_path`` is where Grafana will see ``folder/dashboards`` (another path inside a
    container); by default the folder's own absolute path.
    """
    root = folder.resolve()
    files: list[Path] = []
    board_dir = root / "dashboards"
    board_dir.mkdir(parents=True, exist_ok=True)
    wanted = {board.file_name for board in built}
    for stale in board_dir.glob("smartcity-*.json"):
        if stale.name not in wanted:
            stale.unlink()
    for board in built:
        path = board_dir / board.file_name
        _write(path, json.dumps(board.json, indent=2, sort_keys=True) + "\n")
        files.append(path)
    datasource_file = root / "provisioning" / "datasources" / "smartcity.yaml"
    _write(
        datasource_file,
        "# Written by `smartcity dashboards build`; secrets: variables Grafana expands.\n"
        + yaml.safe_dump({"apiVersion": 1, "datasources": datasources(sources)}, sort_keys=False),
    )
    files.append(datasource_file)
    provider_file = root / "provisioning" / "dashboards" / "smartcity.yaml"
    _write(
        provider_file,
        "# Written by `smartcity dashboards build`.\n"
        + yaml.safe_dump(dashboard_provider(dashboards_path or str(board_dir)), sort_keys=False),
    )
    files.append(provider_file)
    return WrittenFolder(root, files)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)


def dashboards_markdown(built: tuple[BuiltDashboard, ...]) -> str:
    """The README's list of dashboards and their panels (a test keeps the README equal)."""
    lines: list[str] = []
    for board in built:
        lines.append(f"**{board.title}** (`{board.uid}`): {board.description}")
        lines.append("")
        lines.append("| panel | shows |")
        lines.append("| --- | --- |")
        for panel in board.panels:
            if panel.type == "row":
                continue
            shows = panel.description.replace("|", "\\|").split(". ")[0].rstrip(".")
            lines.append(f"| {panel.title} | {shows} |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
