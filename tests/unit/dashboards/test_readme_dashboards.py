"""The README's list of dashboards and panels is what the code builds, so it cannot go stale.

Regenerate the block between the markers with ``dashboards.dashboards_markdown`` when a panel
changes (the failure message shows the text to paste).
"""

from __future__ import annotations

from pathlib import Path

from dashboards import dashboards_markdown
from devices import load_registry
from smartcity.assembly import build_dashboards
from smartcity.settings import load_settings

ROOT = Path(__file__).resolve().parents[3]


def test_the_readme_lists_every_dashboard_and_panel_the_code_builds() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("<!-- dashboards:start -->\n") + len("<!-- dashboards:start -->\n")
    end = readme.index("<!-- dashboards:end -->")
    built = build_dashboards(load_settings(), load_registry(ROOT / "config" / "fleet.yaml"))
    expected = dashboards_markdown(built)
    assert readme[start:end] == expected, "README out of date; paste:\n" + expected
