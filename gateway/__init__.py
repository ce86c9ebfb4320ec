"""The MQTT side of the platform: receive, validate, dead-letter, store durably, then ack.

One worker::

    gateway = Gateway(config, registry, store, sink=engine)   # store: ingest.DurableStore
    await gateway.run()                                        # until cancelled; flushes first

``smartcity gateway`` assembles and runs it from settings (``smartcity.assembly``).
"""

from gateway.config import GatewayConfig, UnknownDevices
from gateway.deadletter import DEADLETTER_MEASUREMENT, DeadLetter, redact_personal
from gateway.errors import BrokerUnavailable, ConfigInvalid, GatewayError, PayloadRejected
from gateway.partition import owner_of, partition_subscriptions
from gateway.presence import DeviceState, Presence, SeqVerdict
from gateway.service import SEQUENCE_MEASUREMENT, STATS_MEASUREMENT, Gateway, GatewayStats

__all__ = [
    "DEADLETTER_MEASUREMENT",
    "SEQUENCE_MEASUREMENT",
    "STATS_MEASUREMENT",
    "BrokerUnavailable",
    "ConfigInvalid",
    "DeadLetter",
    "DeviceState",
    "Gateway",
    "GatewayConfig",
    "GatewayError",
    "GatewayStats",
    "PayloadRejected",
    "Presence",
    "SeqVerdict",
    "UnknownDevices",
    "owner_of",
    "partition_subscriptions",
    "redact_personal",
]
