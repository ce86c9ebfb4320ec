"""The console's screen at 80 columns: every figure the control room reads, and the page's line
only when the API serves the page."""

from __future__ import annotations

from rich.cells import cell_len
from rich.console import Console

from smartcity.console import ActiveAlert, SentNotification, Snapshot, format_age, render


def screen(snapshot: Snapshot) -> str:
    console = Console(width=80, record=True, color_system=None, force_terminal=False)
    console.print(render(snapshot, 1234.4, 1200.0))
    return console.export_text()


def words(text: str) -> str:
    return " ".join(text.split())


SNAPSHOT = Snapshot(
    devices_total=2400,
    devices_online=2399,
    rejected=3,
    spool_bytes=2048,
    stored=99_000,
    online_by_kind={"streetlight": (2199, 2200), "water_quality": (20, 20)},
    alerts=(
        *[
            ActiveAlert("warning", "lamp-failure", f"SL-{n:04d}", "firing", f"Lamp SL-{n:04d}", 60)
            for n in range(8)
        ],
        ActiveAlert(
            "critical",
            "cabinet-power-lost",
            "C-30",
            "firing",
            "Cabinet C-30: 40 of 40 lights without power (100 %) and a long tail of words",
            3_900.0,
        ),
    ),
    notifications=(
        SentNotification("2026-12-01T22:59:03+00:00", "email", "[告警 FIRING 1] C-30 · riverside"),
    ),
    endpoints={"broker": "mqtt://127.0.0.1:1883"},
    clock="Tue 01 Dec 00:25 (60x)",
)


def test_the_screen_fits_80_columns_and_shows_every_figure() -> None:
    text = screen(SNAPSHOT)
    assert all(cell_len(line) <= 80 for line in text.splitlines())
    assert "devices 2,399/2,400 online: lights 2,199/2,200  water 20" in text
    assert "msg/s 1,234 received, 1,200 stored | 3 rejected | spool 2 KiB" in text
    assert "simulated Tue 01 Dec 00:25 (60x)" in text
    # the critical alert first, with its age; the rest counted
    rows = [line for line in text.splitlines() if "lamp-failure" in line or "cabinet" in line]
    assert rows[0].split()[:3] == ["critical", "1h05", "cabinet-power-lost"]
    assert "and 4 more: smartcity alerts list" in text
    assert "22:59:03 email [告警 FIRING 1] C-30 · riverside" in words(text)
    assert "page" not in text


def test_the_page_line_shows_when_the_api_serves_it() -> None:
    page = "http://127.0.0.1:8090/  log in with the token in .smartcity/api-token"
    text = screen(Snapshot(page=page))
    assert all(cell_len(line) <= 80 for line in text.splitlines())
    assert words(f"page {page}") in words(text)  # wrapped, not cut
    assert "none yet" in text


def test_ages_are_short() -> None:
    assert [format_age(s) for s in (None, 5, 125, 3_600 * 3 + 300)] == ["-", "5s", "2m", "3h05"]
