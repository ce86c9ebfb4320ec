"""Shared helpers: the demo city and a way to run it over simulated hours without a broker."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

import devices
import simulators

ROOT = Path(__file__).resolve().parents[3]


@dataclass(frozen=True)
class Seen:
    """One decoded message with the simulated time of the report that produced it."""

    at: float
    topic: devices.Topic
    payload: devices.Payload
    raw: bytes


def demo_registry(**city: object) -> devices.Registry:
    """The shipped demo city, optionally moved to another place."""
    spec = simulators.load_fleet_spec(ROOT / "config/fleets/demo.yaml")
    if city:
        spec = spec.model_copy(update={"city": spec.city.model_copy(update=city)})
    return simulators.generate_registry(spec)


def only(registry: devices.Registry, *kinds: devices.Kind) -> devices.Registry:
    """The devices of some kinds only: cheaper runs for tests about one kind."""
    records = [registry[i] for i in registry if registry[i].kind in kinds]
    return devices.Registry.from_records(
        records, city=registry.city, waters=tuple(registry.waters.values())
    )


def shipped(name: str) -> simulators.Scenario:
    """A scenario from config/scenarios."""
    return simulators.load_scenario(ROOT / "config/scenarios" / f"{name}.yaml")


def simulate(
    registry: devices.Registry,
    start: datetime,
    hours: float,
    *,
    interval_s: float = 300.0,
    scenario: simulators.Scenario | None = None,
    seed: int = 7,
) -> list[Seen]:
    """Every message of the fleet from ``start`` for ``hours``, decoded through devices."""
    start_s = start.timestamp()
    simulation = simulators.FleetSimulation(
        registry, seed=seed, interval_s=interval_s, start_s=start_s, scenario=scenario
    )
    seen = []
    steps = int(hours * 3600 / interval_s)
    for number in range(steps):
        t = start_s + number * interval_s
        for message in simulation.step(t):
            decoded = devices.decode_message(message.topic, message.payload)
            seen.append(Seen(t, decoded.topic, decoded.payload, message.payload))
    return seen


@pytest.fixture(scope="session")
def registry() -> devices.Registry:
    return demo_registry()
