"""The demo's notification receivers: a real webhook POST and a real SMTP conversation are
recorded under the data folder, newest first, bounded; a bad body is refused and not kept."""

from __future__ import annotations

import json
import smtplib
from email.message import EmailMessage
from pathlib import Path

import httpx

from smartcity.assembly import demo_receivers, notifications
from smartcity.receivers import LocalReceivers, recent_notifications
from smartcity.settings import load_settings

WEBHOOK_BODY = {
    "receiver": "lighting-oncall",
    "status": "firing",
    "groupLabels": {"cabinet": "C-30", "district": "riverside"},
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "cabinet-power-lost", "cabinet": "C-30"},
            "annotations": {"summary": "Cabinet C-30: 40 of 40 lights without power (100 %)"},
        }
    ],
}


def send_mail(smarthost: str, subject: str, text: str) -> None:
    host, port = smarthost.split(":")
    message = EmailMessage()
    message["From"] = "smartcity-alerts@city.example"
    message["To"] = "lighting-oncall@city.example"
    message["Subject"] = subject
    message.set_content(text)
    with smtplib.SMTP(host, int(port), timeout=10) as client:
        client.send_message(message)


def test_a_webhook_and_an_email_are_recorded_newest_first(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    with demo_receivers(settings) as receivers:
        answer = httpx.post(receivers.webhook_url, json=WEBHOOK_BODY, timeout=10)
        assert answer.status_code == 200
        send_mail(receivers.smtp_smarthost, "[FIRING 1] C-30 · riverside", "Cabinet C-30 dark")
    newest, oldest = notifications(settings, 10)
    assert newest.channel == "email"
    assert newest.subject == "[FIRING 1] C-30 · riverside"
    assert newest.receiver == "lighting-oncall@city.example"
    assert "Cabinet C-30 dark" in newest.body
    assert oldest.channel == "webhook"
    assert oldest.receiver == "lighting-oncall"
    assert oldest.status == "firing"
    assert "cabinet-power-lost" in oldest.subject
    assert "C-30" in oldest.subject
    assert oldest.body == "firing: Cabinet C-30: 40 of 40 lights without power (100 %)"
    assert (tmp_path / "notifications.jsonl").exists()


def test_the_record_is_bounded_and_a_bad_body_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notifications.jsonl"
    with LocalReceivers(path, keep=3) as receivers:
        bad = httpx.post(receivers.webhook_url, content=b"[1, 2", timeout=10)
        assert bad.status_code == 400
        for number in range(10):
            body = {**WEBHOOK_BODY, "groupLabels": {"cabinet": f"C-{number:02d}"}}
            assert httpx.post(receivers.webhook_url, json=body, timeout=10).status_code == 200
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 6  # at most twice what it keeps, trimmed as it goes
    assert all(json.loads(line)["channel"] == "webhook" for line in lines)
    recent = recent_notifications(path, 3)
    assert [item.subject.rsplit("=", 1)[1] for item in recent] == ["C-09)", "C-08)", "C-07)"]
    assert recent_notifications(tmp_path / "absent.jsonl") == []
