"""The API's request and response bodies (frozen pydantic models; OpenAPI is drawn from them)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from alerts import Alert, HistoryEntry, alert_document
from api.audit import CommandRecord, CommandStatus
from api.sources import DevicePresence
from api.tokens import Scope, TokenRecord
from devices import CommandAction, DeviceRecord, Kind, SignalMode

__all__ = [
    "AckIn",
    "AckOut",
    "AlertChangeOut",
    "AlertOut",
    "CommandIn",
    "CommandOut",
    "DeliveryOut",
    "DeviceList",
    "DeviceOut",
    "HealthOut",
    "MatcherBody",
    "SilenceIn",
    "SilenceOut",
    "TokenIn",
    "TokenIssued",
    "TokenOut",
]

_FROZEN = ConfigDict(frozen=True)


class AlertOut(BaseModel):
    """An alert as the engine holds it: the platform's one alert document
    (``alerts.alert_document``, also on MQTT and in ``smartcity alerts list --json``), typed."""

    model_config = _FROZEN

    fingerprint: str
    rule: str
    state: str
    severity: str
    district: str
    kind: Kind
    labels: dict[str, str]
    summary: str
    runbook: str
    value: float | None
    active_since: datetime
    starts_at: datetime | None = Field(description="when it started firing")
    ends_at: datetime | None = Field(description="when it resolved")
    acknowledged_by: str | None

    @classmethod
    def of(cls, alert: Alert) -> AlertOut:
        """From the engine's value, through the shared document."""
        document = alert_document(alert, silenced=False)
        # silences are Alertmanager's to tell (issue 10); the store does not know them here
        del document["silenced"]
        return cls.model_validate(document)


class AlertChangeOut(BaseModel):
    """One announced change of an alert (history): what changed, when, and about whom."""

    model_config = _FROZEN

    at: datetime
    change: str = Field(description="firing, resolved or acknowledged")
    fingerprint: str
    rule: str
    severity: str
    district: str
    kind: Kind
    labels: dict[str, str]
    summary: str
    value: float | None

    @classmethod
    def of(cls, entry: HistoryEntry) -> AlertChangeOut:
        """From the engine store's history entry."""
        return cls(
            at=entry.at,
            change=entry.change,
            fingerprint=entry.fingerprint,
            rule=entry.rule,
            severity=entry.severity,
            district=entry.district,
            kind=Kind(entry.kind),
            labels=dict(entry.labels),
            summary=entry.summary,
            value=entry.value,
        )


class DeviceOut(BaseModel):
    """A device of the registry with its presence."""

    model_config = _FROZEN

    id: str
    kind: Kind
    district: str
    group: dict[str, str] = Field(description="cabinet, river, section, junction")
    online: bool | None = Field(description="null: not heard of since the platform started")
    last_seen: datetime | None

    @classmethod
    def of(cls, device: DeviceRecord, presence: DevicePresence | None) -> DeviceOut:
        """From the registry's record and the presence source."""
        tags = device.tags()
        tags.pop("district", None)
        return cls(
            id=device.id,
            kind=device.kind,
            district=device.district,
            group=tags,
            online=presence.online if presence else None,
            last_seen=presence.last_seen if presence else None,
        )


class DeviceList(BaseModel):
    """A page of devices; ``total`` counts every match."""

    model_config = _FROZEN

    total: int
    online: int
    devices: list[DeviceOut]


class CommandIn(BaseModel):
    """A downlink command: the action, its arguments, and one target (a device, a cabinet's
    lights, or a junction's signals; ``district`` narrows a cabinet or junction)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    action: CommandAction
    device_id: str | None = None
    cabinet: str | None = None
    junction: str | None = None
    district: str | None = None
    level_pct: float | None = Field(default=None, description="dim: 0-100")
    plan_id: int | None = Field(default=None, description="set_plan: 0-255")
    mode: SignalMode | None = Field(default=None, description="set_mode")
    duration_s: float | None = Field(default=None, description="how long it holds (dim, set_mode)")


class DeliveryOut(BaseModel):
    """One device's part of a command."""

    model_config = _FROZEN

    device_id: str
    status: CommandStatus
    detail: str
    answered_at: datetime | None


class CommandOut(BaseModel):
    """A command as audited."""

    model_config = _FROZEN

    id: str = Field(description="the correlation id the devices echo in cmd_result")
    action: CommandAction
    arguments: dict[str, object]
    target: str
    status: CommandStatus
    requested_by: str
    requested_at: datetime
    deadline: datetime
    deliveries: list[DeliveryOut]

    @classmethod
    def of(cls, record: CommandRecord) -> CommandOut:
        """From the audit's record."""
        return cls(
            id=record.id,
            action=record.action,
            arguments=dict(record.arguments),
            target=record.target,
            status=record.status,
            requested_by=record.requested_by,
            requested_at=record.requested_at,
            deadline=record.deadline,
            deliveries=[
                DeliveryOut(
                    device_id=d.device_id,
                    status=d.status,
                    detail=d.detail,
                    answered_at=d.answered_at,
                )
                for d in record.deliveries
            ],
        )


class HealthOut(BaseModel):
    """``ok`` when every dependency is; each dependency's state."""

    model_config = _FROZEN

    status: str
    dependencies: dict[str, dict[str, object]]


class TokenIn(BaseModel):
    """A token to make."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9_.@-]{1,64}$", description="who will hold it")
    scope: Scope


class TokenOut(BaseModel):
    """A token as listed: never its secret."""

    model_config = _FROZEN

    id: str
    name: str
    scope: Scope
    created_at: datetime

    @classmethod
    def of(cls, record: TokenRecord) -> TokenOut:
        """From the store's record."""
        return cls(id=record.id, name=record.name, scope=record.scope, created_at=record.created_at)


class TokenIssued(TokenOut):
    """A token just made; ``token`` is shown this once."""

    token: str


class AckIn(BaseModel):
    """Someone is on it: why, in a few words."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    comment: str = Field(min_length=1, max_length=500, description="e.g. 'crew on site'")


class AckOut(BaseModel):
    """An acknowledgement: who, when, and the Alertmanager silence that stops the repeats."""

    model_config = _FROZEN

    fingerprint: str
    rule: str
    by: str
    comment: str
    at: datetime
    silence_id: str


class MatcherBody(BaseModel):
    """One label matcher: ``name=value``, or a regex, or negated."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=128)
    value: str = Field(max_length=1024)
    is_regex: bool = False
    is_equal: bool = True


class SilenceIn(BaseModel):
    """A silence for every alert the matchers select, from now for ``duration_s``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    matchers: list[MatcherBody] = Field(min_length=1, max_length=32)
    duration_s: float = Field(gt=0, le=90 * 86_400, description="how long, from now")
    comment: str = Field(min_length=1, max_length=500)


class SilenceOut(BaseModel):
    """A silence as Alertmanager keeps it (state: active, pending or expired)."""

    model_config = _FROZEN

    id: str
    matchers: list[MatcherBody]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str
    state: str
