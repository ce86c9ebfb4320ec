"""`smartcity bench ...` commands."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["app"]

app = typer.Typer(no_args_is_help=True)

_RESULTS = Path("bench/results")


@app.command("ingest")
def ingest(
    messages: int = typer.Option(100_000, min=1_000, max=2_000_000, help="backlog per phase"),
    latency_s: float = typer.Option(20.0, min=1, max=600, help="latency phase duration"),
    workers: int = typer.Option(2, min=1, max=8, help="also measure this many workers"),
    results_dir: Annotated[Path, typer.Option(help="where the JSON is kept")] = _RESULTS,
) -> None:
    """Broker → gateway → InfluxDB: sustained QoS 1 rate, latency, memory, and the limits."""
    from smartcity.bench.ingest import run_ingest_bench

    figures = run_ingest_bench(
        messages=messages, latency_s=latency_s, workers=workers, results_dir=results_dir
    )
    typer.echo(json.dumps(figures, indent=2))


@app.command("rules")
def rules(
    quick: Annotated[
        bool, typer.Option(help="10,000 devices, 100 extra rules: a smoke run")
    ] = False,
    devices: Annotated[
        int | None, typer.Option(min=100, max=1_000_000, help="city size (default 100,000)")
    ] = None,
    extra_rules: Annotated[
        int | None, typer.Option(min=0, max=10_000, help="generated rules (default 1,000)")
    ] = None,
    probes: Annotated[
        int | None,
        typer.Option(min=10, max=100_000, help="latency probes, idle and again under load"),
    ] = None,
    part: Annotated[
        list[str] | None,
        typer.Option(help="throughput, engine or latency (repeat; default: all three)"),
    ] = None,
    results_dir: Annotated[Path, typer.Option(help="where the JSON is kept")] = _RESULTS,
) -> None:
    """Rule engine: readings/s with the default pack and 1,000 extra rules over 100,000
    devices, its memory, and publish-to-alert latency through broker and gateway."""
    from smartcity.bench.rules import run_benchmark

    known = ("throughput", "engine", "latency")
    unknown = sorted(set(part or ()) - set(known))
    if unknown:
        raise typer.BadParameter(f"unknown part {unknown[0]!r}; known: {', '.join(known)}")
    figures = run_benchmark(
        quick=quick,
        results_dir=results_dir,
        devices=devices,
        extra=extra_rules,
        probes=probes,
        parts=tuple(part) if part else known,
    )
    typer.echo(json.dumps(figures, indent=2))


@app.command("notify")
def notify(
    probes: int = typer.Option(100, min=5, max=10_000, help="alerts announced, each its own group"),
    interval_s: float = typer.Option(0.1, min=0.0, max=10, help="between two announcements"),
    group_wait_s: float = typer.Option(1.0, min=0.1, max=60, help="Alertmanager's group_wait"),
    config: Annotated[Path, typer.Option(help="Alertmanager config")] = Path(
        "config/alertmanager.yml"
    ),
    results_dir: Annotated[Path, typer.Option(help="where the JSON is kept")] = _RESULTS,
) -> None:
    """Alert announced → Alertmanager (shipped config) → webhook: p50 and p99 latency; the goal
    is p99 under 0.5 s plus group_wait."""
    from smartcity.bench.notify import run_notify_bench

    figures = run_notify_bench(
        probes=probes,
        interval_s=interval_s,
        group_wait_s=group_wait_s,
        results_dir=results_dir,
        config=config,
    )
    typer.echo(json.dumps(figures, indent=2))
