"""The demo's notification receivers: a webhook receiver and an SMTP catcher on loopback.

``smartcity up --demo`` starts both and points the local Alertmanager at them (the settings
``SMARTCITY_ALERTMANAGER_WEBHOOK_URL`` / ``SMARTCITY_ALERTMANAGER_SMTP_SMARTHOST``, unless they
are set), so a newcomer sees notifications arrive without configuring anything. Each one
received is one JSON line in ``{data_dir}/notifications.jsonl``, the newest ``keep`` kept::

    with LocalReceivers(path, keep=200) as receivers:
        receivers.webhook_url, receivers.smtp_smarthost   # what Alertmanager is given
    recent_notifications(path, limit=5)                   # newest first, for the console/page
"""

from __future__ import annotations

import email
import email.policy
import json
import logging
import threading
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from smartcity.stack import LOOPBACK, free_port

__all__ = ["LocalReceivers", "Notification", "recent_notifications"]

log = logging.getLogger(__name__)
logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd's per-connection chatter

_BODY_MAX_CHARS = 4_000  # of one e-mail's text kept on disk
_WEBHOOK_MAX_BYTES = 1_048_576  # Alertmanager's bodies are a few KiB; refuse anything silly


@dataclass(frozen=True, slots=True)
class Notification:
    """One notification a local receiver got: by webhook or by e-mail."""

    received_at: str  # RFC 3339, UTC
    channel: str  # "webhook" | "email"
    status: str  # "firing" | "resolved" (webhook); "" when an e-mail does not say
    receiver: str  # the Alertmanager receiver (webhook) or the recipients (e-mail)
    subject: str  # what happened, in one line
    body: str  # the alerts' summaries (webhook) or the e-mail's text part


class _Journal:
    """The bounded JSON-lines file both receivers append to (thread-safe)."""

    def __init__(self, path: Path, keep: int) -> None:
        self.path = path
        self.keep = keep
        self.count = 0
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            self.count = len(path.read_text(encoding="utf-8").splitlines())

    def append(self, notification: Notification) -> None:
        line = json.dumps(asdict(notification), ensure_ascii=False)
        with self._lock:
            with self.path.open("a", encoding="utf-8") as file:
                file.write(line + "\n")
            self.count += 1
            if self.count > 2 * self.keep:  # trim now and then, not on every line
                lines = self.path.read_text(encoding="utf-8").splitlines()[-self.keep :]
                temporary = self.path.with_suffix(".tmp")
                temporary.write_text("".join(f"{kept}\n" for kept in lines), encoding="utf-8")
                temporary.replace(self.path)
                self.count = len(lines)
        log.info(
            "notification_received",
            extra={"channel": notification.channel, "subject": notification.subject},
        )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def webhook_notification(body: dict[str, Any]) -> Notification:
    """What an Alertmanager webhook body says, as one notification."""
    alerts = [alert for alert in body.get("alerts", []) if isinstance(alert, dict)]
    status = str(body.get("status", ""))
    groups = body.get("groupLabels") or {}
    group = ", ".join(f"{key}={value}" for key, value in sorted(groups.items()))
    names = sorted({str(alert.get("labels", {}).get("alertname", "?")) for alert in alerts})
    subject = f"[{status.upper()}:{len(alerts)}] {' '.join(names)}" + (
        f" ({group})" if group else ""
    )
    summaries = [
        f"{alert.get('status', status)}: "
        + str(alert.get("annotations", {}).get("summary") or alert.get("labels", {}))
        for alert in alerts
    ]
    return Notification(
        received_at=_now(),
        channel="webhook",
        status=status,
        receiver=str(body.get("receiver", "")),
        subject=subject,
        body="\n".join(summaries),
    )


def mail_notification(recipients: list[str], content: bytes) -> Notification:
    """What an e-mail says, as one notification (its plain-text part)."""
    message = email.message_from_bytes(content, policy=email.policy.default)
    text = ""
    if isinstance(message, EmailMessage):
        part = message.get_body(preferencelist=("plain", "html"))
        text = str(part.get_content()).replace("\r\n", "\n") if part is not None else ""
    subject = str(message.get("Subject", ""))
    status = "resolved" if "RESOLVED" in subject.upper() else "firing" if subject else ""
    return Notification(
        received_at=_now(),
        channel="email",
        status=status,
        receiver=", ".join(recipients),
        subject=subject,
        body=text[:_BODY_MAX_CHARS],
    )


class _MailHandler:
    def __init__(self, journal: _Journal) -> None:
        self.journal = journal

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.journal.append(mail_notification(list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


@dataclass
class LocalReceivers:
    """The webhook receiver and the SMTP catcher, each on a free loopback port, in threads."""

    path: Path
    keep: int = 200
    webhook_port: int = 0
    smtp_port: int = 0

    def __post_init__(self) -> None:
        self._journal = _Journal(self.path, self.keep)
        self._http: ThreadingHTTPServer | None = None
        self._smtp: Controller | None = None

    @property
    def webhook_url(self) -> str:
        return f"http://{LOOPBACK}:{self.webhook_port}/hooks/alertmanager"

    @property
    def smtp_smarthost(self) -> str:
        return f"{LOOPBACK}:{self.smtp_port}"

    def start(self) -> LocalReceivers:
        journal = self._journal

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0") or 0)
                try:
                    if length > _WEBHOOK_MAX_BYTES:
                        raise ValueError(f"body of {length} bytes is over {_WEBHOOK_MAX_BYTES}")
                    body = json.loads(self.rfile.read(length))
                    if not isinstance(body, dict):
                        raise ValueError("body is not a JSON object")
                except ValueError as exc:
                    log.warning("notification_rejected", extra={"reason": str(exc)})
                    self.send_response(400)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                journal.append(webhook_notification(body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.webhook_port = self.webhook_port or free_port()
        self._http = ThreadingHTTPServer((LOOPBACK, self.webhook_port), Handler)
        threading.Thread(target=self._http.serve_forever, name="webhook", daemon=True).start()
        self.smtp_port = self.smtp_port or free_port()
        self._smtp = Controller(_MailHandler(journal), hostname=LOOPBACK, port=self.smtp_port)
        self._smtp.start()
        log.info(
            "receivers_started",
            extra={"webhook_url": self.webhook_url, "smtp": self.smtp_smarthost},
        )
        return self

    def stop(self) -> None:
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None
        if self._smtp is not None:
            self._smtp.stop()
            self._smtp = None

    def __enter__(self) -> LocalReceivers:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def recent_notifications(path: Path, limit: int = 10) -> list[Notification]:
    """The newest ``limit`` notifications the receivers recorded, newest first (none: [])."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    found: list[Notification] = []
    for line in reversed(lines):
        if len(found) >= limit:
            break
        try:
            found.append(Notification(**json.loads(line)))
        except (ValueError, TypeError):
            continue  # a line cut short by a crash: skip it
    return found
