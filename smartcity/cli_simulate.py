"""`smartcity simulate ...`: fleets, scenarios, runs against a broker, load and its benchmark."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import tempfile
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.live import Live
from rich.table import Table

import devices
import simulators
from smartcity.assembly import fleet_registry, load_config, run_config, scenario_by_name
from smartcity.security import mqtt_login, mqtt_tls
from smartcity.settings import Settings, load_settings

__all__ = ["app"]

app = typer.Typer(no_args_is_help=True)
console = Console(stderr=True)


@app.command()
def fleet(
    spec: Annotated[
        Path | None, typer.Argument(help="fleet file; omit with --devices to generate one")
    ] = None,
    devices_count: Annotated[
        int, typer.Option("--devices", help="generate a city of this many devices")
    ] = 0,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="registry to write [registry_path]")
    ] = None,
    spec_out: Annotated[
        Path | None, typer.Option("--spec-out", help="also write the generated fleet file")
    ] = None,
) -> None:
    """Turn a fleet file (or a device count) into the registry the gateway reads."""
    settings = load_settings()
    try:
        if spec is not None:
            fleet_spec = simulators.load_fleet_spec(spec)
        elif devices_count > 0:
            fleet_spec = simulators.scaled_fleet_spec(devices_count)
        else:
            fleet_spec = simulators.load_fleet_spec(settings.simulate_fleet_path)
        registry = simulators.generate_registry(fleet_spec)
    except simulators.SimulatorError as exc:
        typer.secho(str(exc), err=True, fg="red")
        raise typer.Exit(2) from exc
    target = out or settings.registry_path
    devices.dump_registry(registry, target)
    if spec_out is not None:
        spec_out.parent.mkdir(parents=True, exist_ok=True)
        spec_out.write_text(
            json.dumps(fleet_spec.model_dump(mode="json"), indent=1), encoding="utf-8"
        )
    counts = {kind.value: len(registry.of_kind(kind)) for kind in devices.Kind}
    typer.echo(json.dumps({"registry": str(target), "devices": len(registry), **counts}))


@app.command("scenarios")
def list_scenarios() -> None:
    """List the shipped scenarios with what happens in each."""
    settings = load_settings()
    table = Table("scenario", "start", "duration", "events", "what happens")
    for name in simulators.scenario_names(settings.simulate_scenarios_dir):
        scenario = scenario_by_name(settings, name)
        table.add_row(
            name,
            scenario.start.isoformat() if scenario.start else "now",
            f"{(scenario.duration_s or 0) / 3600:g} h",
            str(len(scenario.incidents)),
            scenario.description,
        )
    Console().print(table)


@contextlib.contextmanager
def _broker(settings: Settings, mqtt_url: str | None) -> Iterator[str]:
    """The broker to publish to: the given URL, the configured one, or a local Mosquitto."""
    url = mqtt_url or settings.mqtt_url
    if url is not None:
        yield url
        return
    from smartcity.stack import LocalMosquitto

    with tempfile.TemporaryDirectory(prefix="smartcity-sim-") as folder:
        server = LocalMosquitto(Path(folder))
        with server:
            console.print(f"local Mosquitto on {server.url}")
            yield server.url


@app.command()
def run(
    fleet_file: Annotated[
        Path | None, typer.Option("--fleet", help="fleet or registry file")
    ] = None,
    scenario: Annotated[
        str | None, typer.Option("--scenario", "-s", help="shipped name or file")
    ] = None,
    speed: Annotated[
        float | None, typer.Option("--speed", help="simulated s per real s (0: backfill)")
    ] = None,
    start: Annotated[
        str | None, typer.Option("--start", help="simulated start, ISO 8601 with offset")
    ] = None,
    duration: Annotated[
        str | None, typer.Option("--duration", help="simulated duration (e.g. 6h)")
    ] = None,
    mqtt_url: Annotated[
        str | None, typer.Option("--mqtt-url", help="broker [SMARTCITY_MQTT_URL]")
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed")] = None,
    interval_s: Annotated[
        float | None, typer.Option("--interval", help="simulated s between steps")
    ] = None,
    cadence: Annotated[
        str | None,
        typer.Option("--cadence", help="field | demo | uniform [SMARTCITY_SIMULATE_CADENCE]"),
    ] = None,
) -> None:
    """Run a simulated city against a broker, with a live view and a summary at the end."""
    settings = load_settings()
    try:
        registry = fleet_registry(fleet_file or settings.simulate_fleet_path)
        chosen = scenario_by_name(settings, scenario) if scenario else None
    except (simulators.SimulatorError, devices.DeviceError) as exc:
        typer.secho(str(exc), err=True, fg="red")
        raise typer.Exit(2) from exc
    begin = datetime.fromisoformat(start) if start else (chosen.start if chosen else None)
    length = simulators.parse_duration_s(duration) if duration else None
    if length is None and chosen is not None:
        length = chosen.duration_s
    begin = begin or datetime.now(UTC)
    overrides: dict[str, Any] = {
        "start": begin,
        "end": datetime.fromtimestamp(begin.timestamp() + length, UTC) if length else None,
        "scenario": chosen,
    }
    if speed is not None:
        overrides["speed"] = speed
    if seed is not None:
        overrides["seed"] = seed
    if interval_s is not None:
        overrides["interval_s"] = interval_s
    if cadence is not None:
        try:
            overrides["cadence"] = simulators.cadence_for(cadence)
        except ValueError as exc:
            typer.secho(f"--cadence {cadence!r}: field, demo or uniform", err=True, fg="red")
            raise typer.Exit(2) from exc
    stats = simulators.SimulationStats()
    with _broker(settings, mqtt_url) as url:
        config = run_config(settings, url, **overrides)
        try:
            asyncio.run(_run_with_view(config, registry, stats))
        except (KeyboardInterrupt, asyncio.CancelledError):
            console.print("stopped")
        except simulators.BrokerUnreachable as exc:
            typer.secho(str(exc), err=True, fg="red")
            raise typer.Exit(1) from exc
    summary = {
        "devices": stats.devices_total,
        "messages_published": stats.messages_published,
        "publish_errors": stats.publish_errors,
        "commands_handled": stats.commands_handled,
        "report_rounds": stats.reports,
        "sim_end": stats.sim_time.isoformat() if stats.sim_time else None,
        "elapsed_s": round(stats.elapsed_s, 2),
        "rate_msg_s": round(stats.rate_msg_s, 1),
    }
    typer.echo(json.dumps(summary))


async def _run_with_view(
    config: simulators.FleetRunConfig, registry: devices.Registry, stats: simulators.SimulationStats
) -> None:
    def view() -> Table:
        table = Table.grid(padding=(0, 2))
        table.add_row("simulated time", stats.sim_time.isoformat() if stats.sim_time else "…")
        table.add_row("devices online", f"{stats.devices_online} / {stats.devices_total}")
        table.add_row("messages", f"{stats.messages_published:,}  ({stats.rate_msg_s:,.0f}/s)")
        table.add_row("errors", str(stats.publish_errors))
        return table

    async def refresh(live: Live) -> None:
        while True:
            live.update(view())
            await asyncio.sleep(0.5)

    # SIGTERM (docker stop, systemd) stops as cleanly as Ctrl-C: devices say goodbye first
    current = asyncio.current_task()
    if current is not None:
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, current.cancel)
    with Live(view(), console=console, transient=False) as live:
        async with asyncio.TaskGroup() as group:
            updater = group.create_task(refresh(live))
            try:
                await simulators.run_fleet(config, registry, stats=stats)
            finally:
                updater.cancel()
        live.update(view())


@app.command()
def load(
    devices_count: Annotated[int, typer.Option("--devices", help="fleet size")] = 10_000,
    rate: Annotated[float, typer.Option("--rate", help="target msg/s; 0: flat out")] = 0.0,
    processes: Annotated[int, typer.Option("--processes", "-p", help="publisher processes")] = 2,
    duration_s: Annotated[float, typer.Option("--duration", help="real seconds")] = 10.0,
    qos: Annotated[int, typer.Option("--qos", min=0, max=2)] = 1,
    mqtt_url: Annotated[str | None, typer.Option("--mqtt-url", help="broker")] = None,
) -> None:
    """Load a broker with a simulated city spread over processes; print the achieved rate."""
    settings = load_settings()
    with _broker(settings, mqtt_url) as url:
        config = load_config(
            settings,
            url,
            devices_count=devices_count,
            processes=processes,
            rate_msg_s=rate,
            duration_s=duration_s,
            qos=qos,
        )
        with console.status(f"{processes} processes publishing for {duration_s:g} s …"):
            result = simulators.run_load(config)
    typer.echo(json.dumps(result.as_dict()))


@app.command()
def bench(
    quick: Annotated[bool, typer.Option("--quick", help="a short smoke run")] = False,
    results_dir: Annotated[Path, typer.Option("--results-dir")] = Path("bench/results"),
) -> None:
    """Publish rates (one process, multi-process, the broker's own limit) and memory, as JSON."""
    from smartcity.bench.simulate import run_benchmark

    typer.echo(json.dumps(run_benchmark(quick=quick, results_dir=results_dir), indent=2))


@app.command()
def command(
    device_id: Annotated[str, typer.Argument(help="device id, e.g. SL-0001")],
    action: Annotated[
        devices.CommandAction, typer.Argument(help="dim, set_plan, set_mode, reboot")
    ],
    level_pct: Annotated[float | None, typer.Option("--level", help="dim: 0-100 %")] = None,
    plan_id: Annotated[int | None, typer.Option("--plan", help="set_plan: plan id")] = None,
    mode: Annotated[devices.SignalMode | None, typer.Option("--mode", help="set_mode")] = None,
    duration_s: Annotated[float | None, typer.Option("--duration", help="seconds")] = None,
    mqtt_url: Annotated[str | None, typer.Option("--mqtt-url", help="broker")] = None,
    timeout_s: Annotated[float, typer.Option("--timeout", help="wait for the reply")] = 10.0,
) -> None:
    """Send a downlink command to one device and print its reply (from cmd_result)."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    settings = load_settings()
    url = mqtt_url or settings.mqtt_url
    if url is None:
        typer.secho("set --mqtt-url or SMARTCITY_MQTT_URL", err=True, fg="red")
        raise typer.Exit(2)
    registry = devices.load_registry(settings.registry_path)
    record = registry.get(device_id)
    if record is None:
        typer.secho(f"{device_id}: not in {settings.registry_path}", err=True, fg="red")
        raise typer.Exit(2)
    body = devices.Command(
        command_id=f"cli-{uuid.uuid4().hex[:12]}",
        action=action,
        level_pct=level_pct,
        plan_id=plan_id,
        mode=mode,
        duration_s=duration_s,
    )
    topic = devices.Topic(record.district, record.kind, record.id, devices.Channel.CMD)
    reply_topic = str(topic.with_channel(devices.Channel.CMD_RESULT))
    address = devices.parse_broker_url(url)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=body.command_id)
    # a downlink command is the operators' API's business: log in as its user
    login = mqtt_login(settings, url, devices.ServiceRole.API)
    if login is not None:
        client.username_pw_set(login.username, login.password)
    tls = mqtt_tls(settings, url)
    if tls is not None:
        client.tls_set_context(devices.ssl_context(tls))
    done = threading.Event()
    answer: list[bytes] = []

    def on_message(c: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        if body.command_id.encode() in message.payload:
            answer.append(bytes(message.payload))
            done.set()

    def on_subscribe(c: mqtt.Client, *args: object) -> None:
        payload = body.model_dump_json(exclude_none=True)
        c.publish(str(topic), payload, qos=1)

    client.on_message = on_message
    client.on_subscribe = on_subscribe
    client.on_connect = lambda c, *args: c.subscribe(reply_topic, qos=1)
    client.connect(address.host, address.port, keepalive=30)
    client.loop_start()
    try:
        answered = done.wait(timeout_s)
    finally:
        client.disconnect()
        client.loop_stop()
    if not answered:
        typer.secho(f"{device_id}: no reply within {timeout_s:g} s", err=True, fg="red")
        raise typer.Exit(1)
    result = devices.decode_message(reply_topic, answer[0]).payload
    typer.echo(json.dumps(result.model_dump(mode="json", exclude_none=True)))
