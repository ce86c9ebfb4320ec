"""Settings → the simulators' configs: a fleet run, a load run, a scenario, a fleet's registry."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import devices
import simulators
from smartcity.security import load_credentials, mqtt_tls
from smartcity.settings import Settings

__all__ = ["fleet_registry", "load_config", "run_config", "scenario_by_name"]


def run_config(settings: Settings, mqtt_url: str, **overrides: Any) -> simulators.FleetRunConfig:
    """A ``FleetRunConfig`` from the settings, with keyword overrides (``speed=720`` …); with
    the secrets file (security on), each device logs in as itself and the pool as
    ``platform.simulator``."""
    values: dict[str, Any] = {
        "mqtt_url": mqtt_url,
        "seed": settings.simulate_seed,
        "interval_s": settings.simulate_interval_s,
        "speed": settings.simulate_speed,
        "start": None,
        "end": None,
        "scenario": None,
        "connections": settings.simulate_connections,
        "dedicated_max": settings.simulate_dedicated_max,
        "inflight_max": settings.simulate_inflight_max,
        "client_id_prefix": settings.simulate_client_id_prefix,
        "connect_timeout_s": settings.simulate_connect_timeout_s,
        "shutdown_timeout_s": settings.shutdown_timeout_s,
        "cadence": simulators.cadence_for(settings.simulate_cadence),
        "tls": mqtt_tls(settings, mqtt_url),
        "credentials": load_credentials(settings),
    }
    values.update(overrides)
    return simulators.FleetRunConfig(**values)


def load_config(
    settings: Settings,
    mqtt_url: str,
    *,
    devices_count: int,
    processes: int,
    rate_msg_s: float,
    duration_s: float,
    qos: int,
) -> simulators.LoadConfig:
    """A load run over a scaled city of ``devices_count`` devices, spread over processes."""
    return simulators.LoadConfig(
        mqtt_url=mqtt_url,
        fleet=simulators.scaled_fleet_spec(devices_count),
        seed=settings.simulate_seed,
        processes=processes,
        rate_msg_s=rate_msg_s,
        duration_s=duration_s,
        qos=qos,
        connections=settings.simulate_connections,
        inflight_max=settings.simulate_inflight_max,
        interval_s=settings.simulate_interval_s,
        start_s=datetime.now(UTC).timestamp(),
        client_id_prefix=f"{settings.simulate_client_id_prefix}-load",
        connect_timeout_s=settings.simulate_connect_timeout_s,
    )


def scenario_by_name(settings: Settings, name_or_path: str) -> simulators.Scenario:
    """A shipped scenario by name (``pollution-spill``) or any scenario file by path."""
    path = Path(name_or_path)
    if not path.suffix:
        path = settings.simulate_scenarios_dir / f"{name_or_path}.yaml"
    return simulators.load_scenario(path)


def fleet_registry(path: Path) -> devices.Registry:
    """A registry from a fleet file (counts) or from a registry file (a device list)."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if "\ndevices:" in text or text.startswith("devices:"):
        return devices.load_registry(path)
    return simulators.generate_registry(simulators.load_fleet_spec(path))
