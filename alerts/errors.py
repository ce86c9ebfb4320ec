"""The rule engine's errors: one base, subclasses named for what happened, with where."""

from __future__ import annotations

__all__ = [
    "AlertDocumentInvalid",
    "AlertNotDelivered",
    "AlertNotFound",
    "AlertStateUnusable",
    "AlertmanagerRefused",
    "AlertmanagerUnavailable",
    "AlertsError",
    "PayloadRejectedInTest",
    "RelayConfigInvalid",
    "RuleFileInvalid",
    "RuleTestFileInvalid",
    "SilenceNotFound",
]


class AlertsError(Exception):
    """Base of every error the alerts room raises."""


class RuleFileInvalid(AlertsError):
    """A rule file that cannot be loaded; names the file, line, rule and field at fault."""

    def __init__(
        self,
        path: str,
        reason: str,
        *,
        line: int | None = None,
        rule: str | None = None,
        field: str | None = None,
        subject: str = "rule",
    ) -> None:
        self.path = path
        self.reason = reason
        self.line = line
        self.rule = rule
        self.field = field
        where = path if line is None else f"{path}:{line}"
        parts = [where]
        if rule is not None:
            parts.append(f"{subject} {rule!r}")
        if field:
            parts.append(f"field {field!r}")
        super().__init__(": ".join([*parts, reason]))


class RuleTestFileInvalid(RuleFileInvalid):
    """A rule test file that cannot be loaded; names the file, line, test and field."""

    def __init__(
        self,
        path: str,
        reason: str,
        *,
        line: int | None = None,
        rule: str | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(path, reason, line=line, rule=rule, field=field, subject="test")


class AlertStateUnusable(AlertsError):
    """The persisted alert state cannot be opened or read; names the file."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


class PayloadRejectedInTest(RuleTestFileInvalid):
    """A rule test's series builds a payload the device decoder rejects."""

    def __init__(self, path: str, device: str, reason: str) -> None:
        super().__init__(path, f"series for {device!r} makes a payload devices reject: {reason}")
        self.device = device


class AlertNotDelivered(AlertsError):
    """A listener could not take an alert change (its broker or server is unreachable)."""

    def __init__(self, listener: str, reason: str) -> None:
        self.listener = listener
        self.reason = reason
        super().__init__(f"{listener}: {reason}")


class AlertmanagerUnavailable(AlertsError):
    """No Alertmanager of the cluster answered; names each URL and what went wrong there."""

    def __init__(self, urls: tuple[str, ...], reason: str) -> None:
        self.urls = urls
        self.reason = reason
        super().__init__(f"no Alertmanager answered ({', '.join(urls)}): {reason}")


class AlertmanagerRefused(AlertsError):
    """An Alertmanager answered a request with an error it will give again (a 4xx)."""

    def __init__(self, url: str, status: int, detail: str) -> None:
        self.url = url
        self.status = status
        self.detail = detail
        super().__init__(f"{url} refused the request ({status}): {detail}")


class SilenceNotFound(AlertsError):
    """No silence with this id is in force."""

    def __init__(self, silence_id: str) -> None:
        self.silence_id = silence_id
        super().__init__(f"no silence {silence_id!r} in force")


class AlertNotFound(AlertsError):
    """No firing alert has this fingerprint (or the prefix is not unique)."""

    def __init__(self, fingerprint: str, reason: str) -> None:
        self.fingerprint = fingerprint
        self.reason = reason
        super().__init__(f"{reason} with fingerprint {fingerprint!r}")


class RelayConfigInvalid(AlertsError):
    """The relay's subscriber file cannot be used; names the file and the field."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


class AlertDocumentInvalid(AlertsError):
    """An alert change document (from ``city/alerts/...``) that is not one; names where."""

    def __init__(self, source: str, reason: str) -> None:
        self.source = source
        self.reason = reason
        super().__init__(f"{source}: {reason}")
