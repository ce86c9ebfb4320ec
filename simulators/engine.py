"""The fleet simulation: device models plus scenario plus field faults → MQTT messages.

Pure: no I/O and no wall clock. ``step(t)`` is what every device reports at simulated time
``t``; the transport decides when and over which connection it goes out. The same registry,
seed, scenario and sequence of ``t`` give the same bytes.

Long because: one class steps every device (reading, sensor faults, status, delivery,
commands) over one seeded state that each of those parts reads and changes.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from pydantic import BaseModel

from devices import (
    Channel,
    CheckpointTelemetry,
    Command,
    CommandAction,
    DeviceError,
    DeviceRecord,
    Kind,
    Registry,
    SignalMode,
    StreetlightTelemetry,
    Topic,
    TrafficSignalTelemetry,
    WaterQualityTelemetry,
    decode_message,
)
from simulators.cadence import Cadence, report_due
from simulators.checkpoint import CheckpointState, new_checkpoint, step_checkpoint
from simulators.context import Tick, make_tick
from simulators.rand import device_key, uniform
from simulators.scenario import ActiveIncidents, Scenario
from simulators.streetlight import (
    LampSignature,
    StreetlightState,
    new_streetlight,
    step_streetlight,
    streetlight_signature,
)
from simulators.traffic import PLANS, TrafficState, green_phase_at, new_traffic, step_traffic
from simulators.water import LAB_FIELDS, WaterState, new_water, step_water

__all__ = ["FIRMWARE", "FleetSimulation", "Outgoing"]

log = logging.getLogger(__name__)

FIRMWARE = "smartcity-sim/1"
_BUFFER_MAX = 2_000  # what a device keeps while disconnected; older readings are dropped
_TELEMETRY_QOS = 1

ModelState = StreetlightState | WaterState | TrafficState | CheckpointState


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One MQTT message, with the index of the device that sends it (for connection routing)."""

    device: int
    topic: str
    payload: bytes
    qos: int
    retain: bool


@dataclass(slots=True)
class _Device:
    index: int
    topic: Topic
    state: ModelState
    seq: int = 0
    online: bool = True
    dropped: bool = False
    buffer: list[Outgoing] | None = None
    held: Outgoing | None = None
    stuck: dict[str, float] | None = None
    mode_until_s: float = math.inf
    phase_s: float = 0.0  # where in its report period the device reports
    last_t: float | None = None  # the simulation step before this one
    signature: LampSignature | None = None  # a lamp's state at its last report


def _ranges(model: type[BaseModel]) -> dict[str, tuple[float, float]]:
    found: dict[str, tuple[float, float]] = {}
    for name, info in model.model_fields.items():
        low = next((m.ge for m in info.metadata if getattr(m, "ge", None) is not None), None)
        high = next((m.le for m in info.metadata if getattr(m, "le", None) is not None), None)
        if low is not None and high is not None:
            found[name] = (float(low), float(high))
    return found


_RANGES = {
    Kind.STREETLIGHT: _ranges(StreetlightTelemetry),
    Kind.WATER_QUALITY: _ranges(WaterQualityTelemetry),
    Kind.TRAFFIC_SIGNAL: _ranges(TrafficSignalTelemetry),
    Kind.CHECKPOINT: _ranges(CheckpointTelemetry),
}


@dataclass(slots=True)
class Counters:
    """What the simulation did that nobody would otherwise see."""

    buffered_dropped: int = 0
    commands_handled: int = 0
    commands_rejected: int = 0


class FleetSimulation:
    """Every simulated device of a registry (or of one shard of it), stepped together."""

    def __init__(
        self,
        registry: Registry,
        *,
        seed: int,
        interval_s: float,
        start_s: float,
        scenario: Scenario | None = None,
        shard: tuple[int, int] = (0, 1),
        cadence: Cadence | None = None,
    ) -> None:
        """``cadence`` None: every device reports at every step (``cadence_for("uniform")``)."""
        self.registry = registry
        self.seed = seed
        self.interval_s = interval_s
        self.start_s = start_s
        self.scenario = scenario
        self.zone = ZoneInfo(registry.city.timezone)
        self.counters = Counters()
        self.cadence = cadence or Cadence(None, None, None, None, None)
        if scenario is not None:
            scenario.anchor(start_s, registry.city.timezone)
        part, parts = shard
        self.devices: list[_Device] = []
        self._by_id: dict[str, _Device] = {}
        for number, device_id in enumerate(registry):
            if number % parts != part:
                continue
            record = registry[device_id]
            key = device_key(seed, record.id)
            period = self.cadence.period_s(record.kind)
            # water stations log on the hour; the rest spread over their period
            phase = 0.0 if record.kind is Kind.WATER_QUALITY or not period else uniform(key, 99)
            device = _Device(
                index=len(self.devices),
                topic=Topic(record.district, record.kind, record.id, Channel.TELEMETRY),
                state=_new_state(record, key, registry),
                phase_s=phase * (period or 0.0),
            )
            self.devices.append(device)
            self._by_id[record.id] = device
        # the signal each junction's cameras see (within this shard)
        self._signals: dict[str, TrafficState] = {
            device.state.record.junction: device.state
            for device in self.devices
            if isinstance(device.state, TrafficState) and device.state.record.junction
        }
        self._tick: Tick | None = None
        self._now = ActiveIncidents()
        self._previous_t: float | None = None

    def __len__(self) -> int:
        return len(self.devices)

    @property
    def devices_online(self) -> int:
        """Devices whose last status said online."""
        return sum(1 for device in self.devices if device.online and not device.dropped)

    def tick(self, t: float) -> Tick:
        """The city at ``t``; computed once per simulated moment and shared by every device."""
        if self._tick is None or self._tick.t != t:
            dt = self.interval_s if self._previous_t is None else max(1.0, t - self._previous_t)
            if self._tick is not None:
                dt = max(1.0, t - self._tick.t)
            self._tick = make_tick(t, dt, self.registry.city, self.zone, self.start_s)
            self._now = self.scenario.active(t) if self.scenario else ActiveIncidents()
            self._expire_overrides(t)
        return self._tick

    def _expire_overrides(self, t: float) -> None:
        for device in self.devices:
            if device.mode_until_s <= t and isinstance(device.state, TrafficState):
                device.state.mode_override = None
                device.mode_until_s = math.inf

    def statuses(
        self,
        t: float,
        *,
        online: bool,
        reason: str | None = None,
        first: int = 0,
        last: int | None = None,
    ) -> list[Outgoing]:
        """Devices' retained statuses (at start: online; at a clean stop: offline)."""
        out = []
        for device in self.devices[first:last]:
            device.online = online
            out.append(self._status(device, t, online=online, reason=reason))
        return out

    def wills(self, count: int) -> list[tuple[str, bytes]]:
        """The last-wills of the first ``count`` devices: their ``{"online": false}`` status."""
        return [
            (str(device.topic.with_channel(Channel.STATUS)), orjson.dumps({"online": False}))
            for device in self.devices[:count]
        ]

    def step(self, t: float, first: int = 0, last: int | None = None) -> list[Outgoing]:
        """What devices ``first`` … ``last - 1`` publish for their report at ``t``."""
        tick = self.tick(t)
        out: list[Outgoing] = []
        for device in self.devices[first:last]:
            self._step_device(device, tick, out)
        return out

    def run(self, times: Sequence[float]) -> Iterator[Outgoing]:
        """Every message of the whole fleet over a series of report times (for tests, backfill)."""
        for t in times:
            yield from self.step(t)

    # --- one device ---------------------------------------------------------------------------

    def _step_device(self, device: _Device, tick: Tick, out: list[Outgoing]) -> None:
        now = self._now
        state = device.state
        record = state.record
        produced: list[Outgoing] = []
        due = report_due(device.last_t, tick.t, self.cadence.period_s(record.kind), device.phase_s)
        if isinstance(state, StreetlightState):
            # a controller reports on its period, and at once when its lamp's state changes
            # (a fault, mains lost or back, switched): what real nodes do with alarms
            signature = streetlight_signature(state, tick, now)
            if due or signature != device.signature:
                device.signature = signature
                produced.append(self._reading(device, tick, step_streetlight(state, tick, now)))
        elif isinstance(state, WaterState):
            if due:
                fields = step_water(state, tick, now)
                if not report_due(device.last_t, tick.t, self.cadence.water_lab_s, 0.0):
                    for name in LAB_FIELDS:
                        del fields[name]
                produced.append(self._reading(device, tick, fields))
        elif isinstance(state, TrafficState):
            telemetry, events = step_traffic(state, tick, now, report=due)
            if due:
                produced.append(self._reading(device, tick, telemetry))
            for event in events:
                produced.append(self._reading(device, tick, event, channel=Channel.EVENT))
        elif isinstance(state, CheckpointState):
            offline = record.id in now.cameras_offline
            if offline != (not device.online):
                device.online = not offline
                reason = "camera_offline" if offline else None
                produced.append(self._status(device, tick.t, online=not offline, reason=reason))
            if not offline:
                junction = record.junction or ""
                health, passes = step_checkpoint(
                    state,
                    tick,
                    now,
                    now.jams.get(junction, 1.0),
                    red_at=self._red_at(state),
                    report=due,
                )
                for at, event in passes:
                    produced.append(
                        self._reading(device, tick, event, channel=Channel.EVENT, at=at)
                    )
                if health is not None:
                    produced.append(self._reading(device, tick, health))
        device.last_t = tick.t
        self._deliver(device, tick, produced, out)

    def _red_at(self, camera: CheckpointState) -> Callable[[float], bool] | None:
        """Whether the camera's approach has red at a moment; ``None`` with no running cycle
        in view (no signal, or one flashing or dark)."""
        signal = self._signals.get(camera.record.junction or "")
        if signal is None or signal.mode in (SignalMode.FLASH, SignalMode.OFF):
            return None
        plan, offset, shares = signal.plan, signal.offset_s, signal.shares
        group = 1 + camera.key % 2  # which phase the camera's approach moves in

        def red(t: float) -> bool:
            return green_phase_at(t, plan, offset, shares) != group

        return red

    def _reading(
        self,
        device: _Device,
        tick: Tick,
        fields: dict[str, Any],
        *,
        channel: Channel = Channel.TELEMETRY,
        at: float | None = None,
    ) -> Outgoing:
        record = device.state.record
        if channel is Channel.TELEMETRY:
            faults = self._now.sensor_faults.get(record.id)
            if faults:
                self._sensor_faults(device, tick, fields, faults)
        skew = self._now.value(self._now.skew_s, record) if self._now.skew_s else None
        moment = (tick.t if at is None else at) + (skew or 0.0)
        device.seq += 1
        body = {"ts": int(moment * 1000), "seq": device.seq, **fields}
        topic = device.topic if channel is Channel.TELEMETRY else device.topic.with_channel(channel)
        return Outgoing(device.index, str(topic), orjson.dumps(body), _TELEMETRY_QOS, False)

    def _sensor_faults(
        self,
        device: _Device,
        tick: Tick,
        fields: dict[str, Any],
        faults: list[tuple[str, str, float, float]],
    ) -> None:
        ranges = _RANGES[device.state.record.kind]
        for name, mode, since, rate in faults:
            value = fields.get(name)
            if not isinstance(value, int | float) or isinstance(value, bool) or name not in ranges:
                continue
            low, high = ranges[name]
            if mode == "stuck":
                device.stuck = device.stuck or {}
                value = device.stuck.setdefault(name, value)
            elif mode == "drift":
                value = value + rate * (tick.t - since) / 3_600.0
            elif mode == "spike":
                if uniform(device.state.key, tick.second, 40) < 0.3:
                    value = value * (3.0 + 7.0 * uniform(device.state.key, tick.second, 41)) + 1
            elif mode == "out_of_range":
                value = high  # a saturated sensor pins at the top of its scale
            fields[name] = round(min(max(float(value), low), high), 3)

    def _status(
        self, device: _Device, t: float, *, online: bool, reason: str | None = None
    ) -> Outgoing:
        body: dict[str, Any] = {"online": online, "ts": int(t * 1000), "firmware": FIRMWARE}
        if reason:
            body["reason"] = reason
        topic = str(device.topic.with_channel(Channel.STATUS))
        return Outgoing(device.index, topic, orjson.dumps(body), 1, True)

    def _deliver(
        self, device: _Device, tick: Tick, produced: list[Outgoing], out: list[Outgoing]
    ) -> None:
        """Apply the field's connection faults: drop-outs with bursts, duplicates, reordering."""
        now = self._now
        record = device.state.record
        dropped = bool(now.dropped) and now.targets(now.dropped, record)
        if dropped:
            if not device.dropped:
                device.dropped = True
                # what the broker's last-will would say; see README on multiplexed wills
                out.append(self._status(device, tick.t, online=False, reason="connection_lost"))
                device.buffer = []
            buffer = device.buffer if device.buffer is not None else []
            for message in produced:
                if message.retain:
                    continue
                if len(buffer) >= _BUFFER_MAX:
                    buffer.pop(0)
                    self.counters.buffered_dropped += 1
                buffer.append(message)
            device.buffer = buffer
            return
        if device.dropped:
            device.dropped = False
            out.append(self._status(device, tick.t, online=device.online))
            out.extend(device.buffer or ())  # the burst after reconnecting
            device.buffer = None
        duplicate_p = now.value(now.duplicates, record) if now.duplicates else None
        reorder_p = now.value(now.out_of_order, record) if now.out_of_order else None
        for number, message in enumerate(produced):
            if (
                reorder_p
                and device.held is None
                and not message.retain
                and uniform(device.state.key, tick.second, 50 + number) < reorder_p
            ):
                device.held = message
                continue
            out.append(message)
            if device.held is not None and device.held is not message:
                out.append(device.held)
                device.held = None
            if duplicate_p and uniform(device.state.key, tick.second, 80 + number) < duplicate_p:
                out.append(message)

    # --- commands -----------------------------------------------------------------------------

    def handle_command(self, topic: str, data: bytes, t: float) -> list[Outgoing]:
        """A downlink command for one of our devices: carry it out and answer on cmd_result."""
        try:
            message = decode_message(topic, data)
        except DeviceError as exc:
            self.counters.commands_rejected += 1
            log.warning("command_undecodable", extra={"topic": topic, "error": str(exc)})
            return []
        command = message.payload
        device = self._by_id.get(message.topic.device_id)
        if not isinstance(command, Command) or device is None:
            return []
        if device.dropped or not device.online:
            return []  # an unreachable device cannot answer; the platform times out
        tick = self.tick(t)
        out: list[Outgoing] = []
        ok, detail = self._apply(device, command, t, out)
        self.counters.commands_handled += 1
        reply = {
            "command_id": command.command_id,
            "action": command.action.value,
            "ok": ok,
            "detail": detail,
        }
        out.append(self._reading(device, tick, reply, channel=Channel.CMD_RESULT))
        return out

    def _apply(
        self, device: _Device, command: Command, t: float, out: list[Outgoing]
    ) -> tuple[bool, str]:
        state = device.state
        kind = state.record.kind.value
        until = t + command.duration_s if command.duration_s else math.inf
        if command.action is CommandAction.REBOOT:
            out.append(self._status(device, t, online=False, reason="reboot"))
            out.append(self._status(device, t + 1, online=True))
            return True, "rebooted"
        if command.action is CommandAction.DIM and isinstance(state, StreetlightState):
            state.dim_override = command.level_pct
            state.dim_until_s = until
            return True, f"dimmed to {command.level_pct:g} %"
        if command.action is CommandAction.SET_PLAN and isinstance(state, TrafficState):
            if command.plan_id not in PLANS:
                return False, f"no plan {command.plan_id}; plans are {sorted(PLANS)}"
            state.plan_id = command.plan_id
            return True, f"plan {command.plan_id}"
        if command.action is CommandAction.SET_MODE and isinstance(state, TrafficState):
            mode = command.mode or SignalMode.ACTUATED
            state.mode_override = mode
            device.mode_until_s = until
            return True, f"mode {mode.value}"
        return False, f"a {kind} cannot {command.action.value}"


def _new_state(record: DeviceRecord, key: int, registry: Registry) -> ModelState:
    if record.kind is Kind.STREETLIGHT:
        return new_streetlight(record, key)
    if record.kind is Kind.WATER_QUALITY:
        return new_water(record, key, registry.water_body_of(record))
    if record.kind is Kind.TRAFFIC_SIGNAL:
        return new_traffic(record, key)
    return new_checkpoint(record, key)
