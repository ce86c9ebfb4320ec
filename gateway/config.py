"""The gateway's configuration: a frozen dataclass without defaults (they live in settings),
but for the security fields at the end, off unless the front door sets them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from devices import BrokerTls
from gateway.errors import ConfigInvalid

__all__ = ["GatewayConfig", "UnknownDevices"]

UnknownDevices = Literal["reject", "register"]


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    """Everything one gateway worker needs to know; built by ``smartcity`` from its settings.

    ``worker_index`` of ``worker_count``: with one worker the gateway subscribes to
    ``subscriptions``; with several, each subscribes only to the topics of the registry devices it
    owns (see ``gateway.partition``), so a device's sequence and presence stay in one process.
    """

    mqtt_host: str
    mqtt_port: int
    mqtt_username: str | None
    mqtt_password: str | None
    client_id: str
    subscriptions: tuple[str, ...]
    worker_index: int
    worker_count: int
    receive_max: int
    session_expiry_s: int
    keepalive_s: int
    payload_max_bytes: int
    unknown_devices: UnknownDevices
    ts_future_max_s: float
    ts_past_max_s: float
    batch_max: int
    batch_age_s: float
    batches_in_flight: int
    queue_max: int
    deadletter_payload_max_bytes: int
    plate_hash_key: bytes
    stats_interval_s: float
    metrics_host: str
    metrics_port: int | None
    shutdown_timeout_s: float
    # security: how to check a TLS broker, and which MQTT 5 user property (stamped by a broker
    # that can) names the publisher; ``None`` for a plain broker / no publisher check
    mqtt_tls: BrokerTls | None = None
    publisher_property: str | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.worker_index < self.worker_count:
            raise ConfigInvalid(
                "worker_index", self.worker_index, f"must be in 0..{self.worker_count - 1}"
            )
        if not 1 <= self.receive_max <= 65535:
            raise ConfigInvalid("receive_max", self.receive_max, "must be in 1..65535")
        for name in ("batch_max", "batches_in_flight", "queue_max", "keepalive_s"):
            if getattr(self, name) < 1:
                raise ConfigInvalid(name, getattr(self, name), "must be at least 1")
        for name in ("batch_age_s", "stats_interval_s", "shutdown_timeout_s"):
            if getattr(self, name) <= 0:
                raise ConfigInvalid(name, getattr(self, name), "must be positive")
        if self.unknown_devices not in ("reject", "register"):
            raise ConfigInvalid("unknown_devices", self.unknown_devices, "reject or register")

    @property
    def worker_client_id(self) -> str:
        """The MQTT client id of this worker: one persistent session per partition."""
        if self.worker_count == 1:
            return self.client_id
        return f"{self.client_id}-{self.worker_index}of{self.worker_count}"
