"""The operators' page in a real headless Chromium (Debian's, driven by Playwright) against a
real platform: log in, see an alert appear live, acknowledge it, silence another, watch a chart
draw, and find each change in the API; take an incident opened by an alert from open to closed
by clicking, and find its timeline in the API. Screenshots go to docs/screenshots/ (a failing
test leaves ``failed-<test>.png`` there too)."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from smartcity.local_alertmanager import LocalAlertmanager
from smartcity.stack import LocalInfluxDB, LocalMosquitto
from tests.integration.page_platform import (
    AMMONIA_RULE,
    FLOODING_STEP,
    INCIDENT_TITLE,
    OWN_STATIONS,
    REGISTRY,
    Platform,
    running_platform,
)

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1366, "height": 768}
# the chart's first line colour (chart.js PALETTE[0]), looked for in the canvas' pixels
FIRST_STROKE = (0x1F, 0x77, 0xB4)

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
async def platform(
    tmp_path: Path,
    mosquitto: LocalMosquitto,
    influxdb: LocalInfluxDB,
    influx_database: str,
    make_alertmanager: Callable[..., LocalAlertmanager],
) -> AsyncIterator[Platform]:
    alertmanager = make_alertmanager()
    async with running_platform(
        tmp_path, mosquitto, influxdb, influx_database, alertmanager.url
    ) as found:
        yield found


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            yield launched
        finally:
            await launched.close()


@contextlib.asynccontextmanager
async def screenshot_on_failure(page: Page, name: str, errors: list[str]) -> AsyncIterator[None]:
    """Keep a screenshot of a failing test, and say what the page's scripts complained of."""
    try:
        yield
    except BaseException as exc:
        SHOTS.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(Exception):
            await page.screenshot(path=SHOTS / f"failed-{name}.png")
        if errors:
            exc.add_note("the page's errors: " + " | ".join(errors))
        raise


async def api_get(platform: Platform, path: str) -> Any:
    """What the API answers the same token (the test's loop serves the API: never block it)."""
    async with httpx.AsyncClient(base_url=platform.url, timeout=10) as client:
        answer = await client.get(path, headers={"Authorization": f"Bearer {platform.token}"})
    assert answer.status_code == 200, answer.text
    return answer.json()


def watch_errors(page: Page) -> list[str]:
    """The page's script errors and console errors, as they come."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" else None
    )
    return errors


async def log_in(page: Page, platform: Platform) -> None:
    await page.goto(platform.url)
    await expect(page.locator("#login")).to_be_visible()
    await page.fill("#token", platform.token)
    await page.click("#login button[type=submit]")
    await expect(page.locator("#app")).to_be_visible()
    await expect(page.locator("#live")).to_have_text("live", timeout=10_000)


def alert_row(page: Page, device_id: str):  # type: ignore[no-untyped-def]
    return page.locator("#alerts tbody tr", has_text=device_id).filter(has_text=AMMONIA_RULE)


async def stroke_pixels(page: Page) -> int:
    """How many pixels of the chart's canvas carry the first line's colour."""
    return int(
        await page.evaluate(
            """([r, g, b]) => {
                const canvas = document.querySelector('#chart canvas');
                if (!canvas) return 0;
                const context = canvas.getContext('2d');
                const data = context.getImageData(0, 0, canvas.width, canvas.height).data;
                let found = 0;
                for (let i = 0; i < data.length; i += 4) {
                    if (Math.abs(data[i] - r) < 12 && Math.abs(data[i + 1] - g) < 12
                        && Math.abs(data[i + 2] - b) < 12 && data[i + 3] > 200) found++;
                }
                return found;
            }""",
            list(FIRST_STROKE),
        )
    )


async def test_an_operator_logs_in_sees_an_alert_live_acks_one_silences_another_and_charts(
    platform: Platform, browser: Browser
) -> None:
    page = await browser.new_page(viewport=VIEWPORT)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" else None
    )
    async with screenshot_on_failure(page, "operator-day", errors):
        # a wrong token is refused and the login stays
        await page.goto(platform.url)
        await page.fill("#token", "sct_000000000000_" + "x" * 43)
        await page.click("#login button[type=submit]")
        await expect(page.locator("#login-error")).to_contain_text("refused")
        await log_in(page, platform)

        # presence per district and the map, from the simulated city
        await expect(page.locator("#presence tbody tr")).to_have_count(9)
        centre = sum(1 for device in REGISTRY.values() if device.district == "guancheng")
        await expect(page.locator("#presence tr[data-district=guancheng] td.online")).to_have_text(
            f"{centre}/{centre}", timeout=15_000
        )
        assert await page.locator("#map svg path.leaflet-interactive").count() == 9
        await expect(page.locator("#map")).to_have_attribute("data-online", str(len(REGISTRY) - 2))

        # an alert appears without a reload: the page marks itself, the reading fires the rule
        await page.evaluate("window.__same_page = true")
        first, second = OWN_STATIONS
        for ago, ammonia in ((50, 0.4), (35, 0.6), (20, 0.9), (5, 1.4)):
            await asyncio.to_thread(platform.publish_station, first, ammonia, minutes_ago=ago)
        await asyncio.to_thread(platform.publish_station, first, 3.2, minutes_ago=0)
        await expect(alert_row(page, first)).to_be_visible(timeout=15_000)
        assert await page.evaluate("window.__same_page") is True
        await expect(page.locator("#map")).to_have_attribute("data-alerting", "1")

        # acknowledge it with a comment: the engine takes it, the page and the API show who
        await alert_row(page, first).locator("button.ack").click()
        await page.fill("#ack-comment", "crew 3 on the way")
        await page.click("#ack-ok")
        await expect(alert_row(page, first).locator(".badge.acked")).to_have_text(
            "ack ops", timeout=15_000
        )
        active = await api_get(platform, "/alerts")
        acked = next(a for a in active if a["labels"]["device"] == first)
        assert acked["acknowledged_by"] == "ops"
        history = await api_get(platform, f"/alerts/history?rule={AMMONIA_RULE}")
        assert ("acknowledged", first) in [(c["change"], c["labels"]["device"]) for c in history]

        # silence another for an hour: the page marks it, the API lists the silence muting it
        await asyncio.to_thread(platform.publish_station, second, 4.0, minutes_ago=0)
        await expect(alert_row(page, second)).to_be_visible(timeout=15_000)
        await alert_row(page, second).locator("button.silence").click()
        await page.select_option("#silence-duration", "3600")
        await page.fill("#silence-comment", "probe being cleaned")
        await page.click("#silence-ok")
        await expect(alert_row(page, second).locator(".badge.silenced")).to_be_visible(
            timeout=10_000
        )
        # in Alertmanager: the acknowledgement's own silence, and this one muting exactly it
        fingerprints = {
            a["labels"]["device"]: a["fingerprint"] for a in await api_get(platform, "/alerts")
        }
        made = [
            s for s in await api_get(platform, "/silences") if s["comment"] == "probe being cleaned"
        ]
        assert len(made) == 1
        assert {(m["name"], m["value"]) for m in made[0]["matchers"]} == {
            ("alertname", AMMONIA_RULE),
            ("device_id", second),
        }
        assert made[0]["created_by"] == "ops"
        verdicts = {v["fingerprint"]: v for v in await api_get(platform, "/silences/verdicts")}
        assert verdicts[fingerprints[second]]["silenced_by"] == [made[0]["id"]]
        assert verdicts[fingerprints[first]]["silenced_by"] == []
        assert verdicts[fingerprints[first]]["acknowledgement_silence"] is not None
        await expect(alert_row(page, first).locator(".badge.silenced")).to_have_count(0)

        # filters: another district hides both, the station's district shows them again
        await page.select_option("#f-district", "guancheng")
        await expect(page.locator("#alerts tbody tr")).to_have_count(0)
        await page.select_option("#f-district", "zhongtang")
        await expect(page.locator("#alerts tbody tr")).to_have_count(2)

        # the station's ammonia chart, from the water dashboard's query, draws its readings:
        # once the API's series has them (the gateway stores in batches), the page must show them
        async def stored_points() -> int:
            answer = await api_get(platform, f"/series/station-ammonia_mg_l?key={first}")
            return sum(v is not None for line in answer["lines"] for v in line["values"])

        for _ in range(50):
            if await stored_points() >= 5:
                break
            await asyncio.sleep(0.2)
        await alert_row(page, first).locator("td.summary").click()
        await expect(page.locator("#series")).to_have_value("station-ammonia_mg_l")
        await expect(page.locator("#series-key")).to_have_value(first)
        await expect(page.locator("#chart canvas")).to_have_count(1, timeout=10_000)
        await expect(page.locator("#chart")).not_to_have_attribute("data-points", "0")
        assert int(await page.locator("#chart").get_attribute("data-points") or 0) >= 5
        assert await stroke_pixels(page) > 100, "the chart's canvas has no line drawn"

        SHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=SHOTS / "page-1366x768.png")

        # the history tab shows the changes, newest first
        await page.click(".tabs button[data-tab=history]")
        await expect(page.locator("#history tbody tr", has_text="acknowledged")).to_have_count(1)

        # a revoked token ends the stream and returns to the login
        platform.settings_tokens.revoke("ops")
        await expect(page.locator("#login")).to_be_visible(timeout=10_000)
        assert await page.evaluate("sessionStorage.getItem('smartcity.token')") is None
    # nothing went wrong in the page's scripts but the wrong token's two refusals
    assert [e for e in errors if "401" not in e] == [], errors


async def test_an_operator_takes_an_incident_from_open_to_closed_by_clicking_in_the_page(
    platform: Platform, browser: Browser
) -> None:
    page = await browser.new_page(viewport=VIEWPORT)
    errors = watch_errors(page)
    async with screenshot_on_failure(page, "incident", errors):
        await log_in(page, platform)
        await page.get_by_role("tab", name="Incidents").click()
        await expect(page.locator("#no-incidents")).to_be_visible()
        await page.evaluate("window.__same_page = true")

        # ammonia above the limit at the river's first station, above the waterworks intake:
        # the alert opens a spill incident by itself, and the page shows it without a reload
        station = OWN_STATIONS[0]
        await asyncio.to_thread(platform.publish_station, station, 3.2, minutes_ago=0)
        rows = page.locator("#incidents tbody tr.incident")
        await expect(rows).to_have_count(1, timeout=15_000)
        await expect(rows).to_contain_text(INCIDENT_TITLE)
        await expect(page.locator("#incident-count")).to_have_text("1")
        assert await page.evaluate("window.__same_page") is True
        number = int(await rows.get_attribute("data-incident") or 0)
        row = page.locator(f"#incidents tbody tr[data-incident='{number}']")
        await expect(page.get_by_role("status")).to_contain_text(f"New incident #{number}")
        opened = await api_get(platform, f"/incidents/{number}")
        assert opened["opened_by"] != "ops"  # the platform opened it, not the operator

        # a second one at the same time, opened by hand: its plan's one step is due at once
        await page.get_by_role("button", name="Open…").click()
        await page.get_by_label("Type", exact=True).fill("flooding")
        await page.get_by_label("Title", exact=True).fill("Underpass flooded on Dongcheng Road")
        await page.get_by_label("District", exact=True).select_option("dongcheng")
        await page.locator("#open-dialog").get_by_role("button", name="Open incident").click()
        await expect(rows).to_have_count(2)
        await expect(page.locator("#incident-count")).to_have_text("2")
        await expect(page.locator("#incident-title")).to_contain_text("Underpass flooded")
        await expect(page.locator("#steps tbody tr")).to_contain_text(FLOODING_STEP)
        flooded = int(await page.locator("#incident-head").get_attribute("data-incident") or 0)
        by_hand = await api_get(platform, f"/incidents/{flooded}")
        assert (by_hand["type"], by_hand["district"], by_hand["opened_by"], by_hand["plan"]) == (
            "flooding",
            "dongcheng",
            "ops",
            "underpass-flooding@1",
        )
        # overdue in the list, and escalated once by the platform (the page hears of it)
        late = page.locator(f"#incidents tbody tr[data-incident='{flooded}']")
        await expect(late.locator(".badge.overdue")).to_be_visible(timeout=10_000)
        await expect(late.locator(".escalation")).to_contain_text("level 1", timeout=10_000)
        await expect(late.locator(".steps-text")).to_have_text("0 of 1 steps")
        await expect(page.locator("#map .incident-marker")).to_have_count(2)

        # the alert that opened it says so in the alerts' view
        await page.get_by_role("tab", name="Alerts").click()
        await expect(alert_row(page, station).locator(".badge.incident")).to_have_text(
            f"incident #{number}", timeout=10_000
        )
        await page.get_by_role("tab", name="Incidents").click()

        # its place on the map (a diamond of its own, not an alert's ring): clicking selects it
        await page.locator(f"#map .incident-marker[data-incident='{number}']").click()
        head = page.locator("#incident-head")
        await expect(head).to_have_attribute("data-incident", str(number))
        await expect(page.locator("#incident-title")).to_have_text(f"#{number} {INCIDENT_TITLE}")
        await expect(row).to_have_attribute("aria-current", "true")
        # the plan's two notifications are the platform's: they run and say how they went
        await expect(row.locator(".steps-text")).to_have_text("2 of 5 steps", timeout=15_000)
        for step in ("notify-waterworks", "notify-environment"):
            result = page.locator(f"#steps tr[data-step={step}]")
            await expect(result).to_have_attribute("data-status", "done")
            assert (await result.locator(".result").inner_text()).strip()
        # where the spill goes next: the stations and the intake downstream, in river order
        forecast = (await api_get(platform, f"/incidents/{number}"))["forecast"]
        await expect(page.locator("#forecast tbody tr")).to_have_count(len(forecast["waypoints"]))
        assert await page.locator("#forecast tbody tr").evaluate_all(
            "rows => rows.map(r => r.dataset.waypoint)"
        ) == [w["name"] for w in forecast["waypoints"]]
        await expect(
            page.locator("#forecast tr[data-waypoint=zhongtang-waterworks-intake]")
        ).to_be_visible()

        # take it, note, a person's step done with a comment
        actions = page.locator("#incident-actions")
        await actions.get_by_role("button", name="Take").click()
        await expect(page.locator("#incident-facts .assignee")).to_have_text("with ops")
        await page.get_by_label("Note", exact=True).fill("crew 3 on the way to the S1 station")
        await page.get_by_role("button", name="Add note").click()
        await expect(page.locator("#timeline li[data-kind=note]")).to_contain_text(
            "crew 3 on the way"
        )
        await page.get_by_role(
            "button", name='Mark step "Send a sampling crew to the first station that saw it" done'
        ).click()
        await page.get_by_label("Comment (optional)").fill("sampled at 02:10, bottle 7")
        await page.locator("#step-dialog").get_by_role("button", name="Mark done").click()
        await expect(page.locator("#steps tr[data-step=sample-upstream]")).to_have_attribute(
            "data-status", "done"
        )
        await expect(row.locator(".steps-text")).to_have_text("3 of 5 steps")

        # along the workflow, escalating on the way
        await actions.get_by_role("button", name="Mark dispatched").click()
        await expect(head).to_have_attribute("data-status", "dispatched")
        await actions.get_by_role("button", name="Mark on site").click()
        await expect(head).to_have_attribute("data-status", "on_site")
        await actions.get_by_role("button", name="Escalate").click()
        await page.get_by_label("Reason", exact=True).fill("a second station smells of it")
        await page.locator("#escalate-dialog").get_by_role("button", name="Escalate").click()
        await expect(row.locator(".escalation")).to_have_text(re.compile("level 1"))
        SHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=SHOTS / "page-incident-1366x768.png")
        await actions.get_by_role("button", name="Mark resolved").click()
        await expect(head).to_have_attribute("data-status", "resolved")

        # closing needs a report; a closed incident leaves the list and keeps its page
        await actions.get_by_role("button", name="Close").click()
        await page.get_by_label("Report", exact=True).fill(
            "farm outlet found and closed; S1 back below 1 mg/L"
        )
        await page.locator("#close-dialog").get_by_role("button", name="Close incident").click()
        await expect(head).to_have_attribute("data-status", "closed")
        await expect(page.locator("#incident-report")).to_contain_text("farm outlet found")
        await expect(rows).to_have_count(1)
        await expect(rows).to_have_attribute("data-incident", str(flooded))
        await expect(page.locator("#incident-count")).to_have_text("1")

        # a reload comes back to it (the address names it)
        await page.reload()
        await expect(head).to_have_attribute("data-status", "closed", timeout=10_000)

        # the API agrees, and the page's timeline is the API's, entry for entry
        closed = await api_get(platform, f"/incidents/{number}")
        assert closed["status"] == "closed"
        assert closed["assignee"] == "ops"
        assert closed["report"] == "farm outlet found and closed; S1 back below 1 mg/L"
        assert closed["escalation_level"] == 1
        sampled = next(s for s in closed["steps"] if s["step_id"] == "sample-upstream")
        assert (sampled["status"], sampled["done_by"], sampled["comment"]) == (
            "done",
            "ops",
            "sampled at 02:10, bottle 7",
        )
        mine = [(e["kind"], e["actor"]) for e in closed["timeline"] if e["actor"] == "ops"]
        assert mine == [
            ("assigned", "ops"),
            ("note", "ops"),
            ("step", "ops"),
            ("status", "ops"),
            ("status", "ops"),
            ("escalation", "ops"),
            ("status", "ops"),
            ("status", "ops"),
        ]
        kinds = {e["kind"] for e in closed["timeline"]}
        assert {"opened", "alert", "notification"} <= kinds
        shown = page.locator("#timeline li")
        async with asyncio.timeout(10):
            while True:  # the platform may still add an entry (a notification withdrawn)
                entries = (await api_get(platform, f"/incidents/{number}"))["timeline"]
                texts = await shown.evaluate_all(
                    "items => items.map(i => [i.dataset.kind,"
                    " i.querySelector('.actor').textContent, i.querySelector('.text').textContent])"
                )
                if texts == [[e["kind"], e["actor"], e["text"]] for e in entries]:
                    break
                await asyncio.sleep(0.2)
        # oldest first: the newest change is at the bottom, the operator's last one the closing
        moments = [e["at"] for e in entries]
        assert moments == sorted(moments)
        assert [t for t in texts if t[1] == "ops"][-1][2].startswith("closed: farm outlet")
    assert errors == [], errors
