"""A cabinet power cut of 200 lights, end to end: the real rule pack in the real engine (fake
clock) feeds the Alertmanager notifier, a real Alertmanager runs the shipped config, and the
receivers hear one grouped notification about the cabinet; the 200 lamps notify nobody."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from alerts import AlertEngine, AlertmanagerNotifier, AlertsConfig, load_rules
from devices import DeviceRecord, Kind, Registry
from smartcity.local_alertmanager import LocalAlertmanager
from tests.alert_samples import notifier_config
from tests.support import MailCatcher, WebhookReceiver, until
from tests.unit.alerts.factory import CITY, FakeClock, observe_in

RULES = Path(__file__).resolve().parents[2] / "config" / "rules"
LIGHTS = 200


def fleet() -> Registry:
    records = [
        DeviceRecord(id=f"SL-{n:04d}", kind=Kind.STREETLIGHT, district="centre", cabinet="C-07")
        for n in range(LIGHTS)
    ]
    records += [
        DeviceRecord(id=f"SL-9{n:03d}", kind=Kind.STREETLIGHT, district="centre", cabinet="C-08")
        for n in range(5)
    ]
    return Registry.from_records(records, city=CITY)


@pytest.fixture
def mail() -> Iterator[MailCatcher]:
    catcher = MailCatcher().start()
    yield catcher
    catcher.stop()


async def test_a_cabinet_power_cut_is_one_notification_per_receiver_and_the_lamps_none(
    make_alertmanager, mail: MailCatcher, tmp_path: Path
):
    registry = fleet()
    clock = FakeClock()
    config = AlertsConfig(
        queue_max=100,
        tick_interval_s=1.0,
        max_clock_skew_s=300,
        notify_timeout_s=5.0,
        shutdown_timeout_s=10.0,
        reannounce_interval_s=0,
        listener_queue_max=10_000,
        retry_min_s=0.5,
        retry_max_s=5.0,
        rules_path=None,
        watch_rules=False,
        event_time=False,
    )
    with WebhookReceiver() as hook:
        alertmanager: LocalAlertmanager = make_alertmanager(
            webhook_url=hook.url, smtp_smarthost=mail.smarthost
        )
        async with (
            AlertmanagerNotifier(notifier_config(alertmanager.url)) as notifier,
            AlertEngine(
                config,
                load_rules(RULES),
                registry,
                tmp_path / "alerts.sqlite",
                listeners=[notifier],
                clock=clock,
                run_ticker=False,
            ) as engine,
        ):
            cut = [record.id for record in registry.values() if record.cabinet == "C-07"]
            fine = [record.id for record in registry.values() if record.cabinet == "C-08"]

            async def neighbours_report(seq: int) -> None:  # the next cabinet keeps its power
                await engine.submit([observe_in(registry, d, clock.now, seq=seq) for d in fine])

            for step in range(3):  # mains gone for three minutes: past the rule's for: 2m
                await engine.submit(
                    [
                        observe_in(registry, device, clock.now, seq=step, voltage_v=0.0,
                                   power_w=0.0, current_a=0.0, lamp_on=False)
                        for device in cut
                    ]
                )  # fmt: skip
                await neighbours_report(step)
                await engine.flush()
                await engine.tick()
                clock.advance(minutes=1.5)
            # then their controllers' batteries run out: every light says it is offline
            await engine.submit(
                [
                    observe_in(registry, device, clock.now, channel="status", online=False)
                    for device in cut
                ]
            )
            for step in range(3, 6):  # past streetlight-offline's for: 10m
                clock.advance(minutes=5)
                await neighbours_report(step)
                await engine.flush()
                await engine.tick()
            await engine.flush()
            firing = sorted(
                {(a.rule, a.state.value, a.labels["cabinet"]) for a in engine.active_alerts()}
            )
            await notifier.flush(10)
            assert await until(lambda: len(hook.bodies) >= 1, timeout_s=20)
            await asyncio.sleep(4)  # several group intervals: anything else would have come
    assert firing == [
        ("cabinet-power-lost", "firing", "C-07"),
        ("streetlight-offline", "pending", "C-07"),  # held back while its cabinet has no power
    ]
    (body,) = hook.bodies
    assert body["receiver"] == "lighting-oncall"
    assert body["groupLabels"] == {"cabinet": "C-07", "district": "centre"}
    (alert,) = body["alerts"]
    assert alert["annotations"]["summary"] == (
        f"Cabinet C-07: {LIGHTS} of {LIGHTS} lights without power (100 %)"
    )
    (page,) = mail.mails
    assert page.recipients == ("lighting-oncall@city.example",)
    assert f"Cabinet C-07: {LIGHTS} of {LIGHTS} lights without power" in page.text()
