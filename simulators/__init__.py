"""Simulated field devices: behaviour models, fleets, scenarios, the simulated clock, load.

The models are pure (device, seed, simulated time → payloads); ``FleetSimulation`` turns a
registry and a scenario into MQTT messages; ``run_fleet`` puts them on a broker.
"""

from simulators.cadence import FIELD_CADENCE, Cadence, CadenceMode, cadence_for
from simulators.context import NIGHT_DEMAND, Tick, make_tick, traffic_demand
from simulators.engine import FIRMWARE, FleetSimulation, Outgoing
from simulators.errors import (
    BrokerUnreachable,
    CommandRejected,
    FleetFileInvalid,
    ScenarioInvalid,
    SimulatorError,
)
from simulators.fleet import (
    DistrictSpec,
    FleetSpec,
    RiverSpec,
    generate_registry,
    load_fleet_registry,
    load_fleet_spec,
    scaled_fleet_spec,
)
from simulators.load import LoadConfig, LoadResult, ProcessResult, run_load
from simulators.runner import FleetRunConfig, SimulationStats, run_fleet
from simulators.scenario import (
    Incident,
    IncidentKind,
    Scenario,
    load_scenario,
    parse_duration_s,
    scenario_names,
)
from simulators.streetlight import dimming_pct
from simulators.wire import RawPublisher

__all__ = [
    "FIELD_CADENCE",
    "FIRMWARE",
    "NIGHT_DEMAND",
    "BrokerUnreachable",
    "Cadence",
    "CadenceMode",
    "CommandRejected",
    "DistrictSpec",
    "FleetFileInvalid",
    "FleetRunConfig",
    "FleetSimulation",
    "FleetSpec",
    "Incident",
    "IncidentKind",
    "LoadConfig",
    "LoadResult",
    "Outgoing",
    "ProcessResult",
    "RawPublisher",
    "RiverSpec",
    "Scenario",
    "ScenarioInvalid",
    "SimulationStats",
    "SimulatorError",
    "Tick",
    "cadence_for",
    "dimming_pct",
    "generate_registry",
    "load_fleet_registry",
    "load_fleet_spec",
    "load_scenario",
    "make_tick",
    "parse_duration_s",
    "run_fleet",
    "run_load",
    "scaled_fleet_spec",
    "scenario_names",
    "traffic_demand",
]
