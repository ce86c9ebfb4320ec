"""Sample messages of every kind, for the ingest tests."""

from __future__ import annotations

from typing import Any

import orjson

from devices import DeviceRecord, Message, decode_message

TS_MS = 1_795_420_800_123  # 2026-11-23T08:00:00.123Z

STREETLIGHT = {
    "ts": TS_MS,
    "seq": 41,
    "power_w": 82,
    "voltage_v": 229.5,
    "current_a": 0.36,
    "power_factor": 0.97,
    "energy_kwh": 1234.5,
    "lamp_on": True,
    "dimming_pct": 80,
    "ambient_lux": 2.5,
    "lamp_temp_c": 41.0,
    "faults": ["over_voltage", "lamp_failure"],
}
WATER = {
    "ts": TS_MS,
    "seq": 7,
    "water_temp_c": 12.5,
    "ph": 7.2,
    "dissolved_oxygen_mg_l": 8.1,
    "permanganate_index_mg_l": 3.0,
    "ammonia_mg_l": 0.3,
    "total_phosphorus_mg_l": 0.05,
    "turbidity_ntu": 10,
    "conductivity_us_cm": 420,
}
SIGNAL = {
    "ts": TS_MS,
    "seq": 3,
    "mode": "actuated",
    "plan_id": 2,
    "phase": 1,
    "cycle_s": 90,
    "approaches": [
        {"approach": "north", "queue_veh": 4, "volume_veh": 120, "occupancy_pct": 18.5},
        {"approach": "east", "queue_veh": 0, "volume_veh": 40, "occupancy_pct": 3},
    ],
}
SIGNAL_FAULT = {
    "ts": TS_MS,
    "seq": 4,
    "event": "fault",
    "fault": "lamp_out",
    "approach": "north",
    "detail": 'red "A" lamp\\out\nsecond line, ünïcode 信号',
}
CAMERA = {
    "ts": TS_MS,
    "seq": 9,
    "online": True,
    "fps": 25,
    "storage_used_pct": 40.5,
    "temp_c": 35,
    "vehicles_per_min": 12,
}
VEHICLE_PASS = {
    "ts": TS_MS,
    "seq": 10,
    "event": "vehicle_pass",
    "plate": "沪A12345",
    "vehicle_class": "car",
    "speed_kmh": 48.5,
    "lane": 2,
    "direction": "inbound",
}
VIOLATION = {
    "ts": TS_MS,
    "seq": 11,
    "event": "violation",
    "violation": "speeding",
    "plate": "沪A12345",
    "evidence_id": "ev-2026.11.23:001",
    "lane": 2,
    "speed_kmh": 92,
    "limit_kmh": 60,
}
STATUS = {"online": False, "reason": "last will"}

DEVICES = {
    "SL-0001": DeviceRecord.model_validate(
        {"id": "SL-0001", "kind": "streetlight", "district": "riverside", "cabinet": "C-01"}
    ),
    "WQ-0001": DeviceRecord.model_validate(
        {
            "id": "WQ-0001",
            "kind": "water_quality",
            "district": "riverside",
            "river": "jade",
            "section": "S1",
            "section_order": 1,
            "target_class": "III",
        }
    ),
    "TS-0001": DeviceRecord.model_validate(
        {"id": "TS-0001", "kind": "traffic_signal", "district": "centre", "junction": "J-01"}
    ),
    "CP-0001": DeviceRecord.model_validate(
        {"id": "CP-0001", "kind": "checkpoint", "district": "centre", "junction": "J-01"}
    ),
}


def message(topic: str, payload: dict[str, Any]) -> Message:
    """Decode a sample the way the gateway does."""
    return decode_message(topic, orjson.dumps(payload))


def every_sample() -> list[tuple[Message, DeviceRecord]]:
    """One message of every kind and channel, with its device."""
    return [
        (message("city/riverside/streetlight/SL-0001/telemetry", STREETLIGHT), DEVICES["SL-0001"]),
        (message("city/riverside/water_quality/WQ-0001/telemetry", WATER), DEVICES["WQ-0001"]),
        (message("city/centre/traffic_signal/TS-0001/telemetry", SIGNAL), DEVICES["TS-0001"]),
        (message("city/centre/traffic_signal/TS-0001/event", SIGNAL_FAULT), DEVICES["TS-0001"]),
        (message("city/centre/checkpoint/CP-0001/telemetry", CAMERA), DEVICES["CP-0001"]),
        (message("city/centre/checkpoint/CP-0001/event", VEHICLE_PASS), DEVICES["CP-0001"]),
        (message("city/centre/checkpoint/CP-0001/event", VIOLATION), DEVICES["CP-0001"]),
        (message("city/riverside/streetlight/SL-0001/status", STATUS), DEVICES["SL-0001"]),
    ]
