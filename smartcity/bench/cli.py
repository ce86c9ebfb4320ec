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
    results_dir: Annotated[Path, typer.Option(help="where the JSON is kept")] = _RESULTS,
) -> None:
    """Rule engine: readings/s with the default pack and 1,000 extra rules over 100,000
    devices, its memory, and publish-to-alert latency through broker and gateway."""
    from smartcity.bench.rules import run_benchmark

    figures = run_benchmark(quick=quick, results_dir=results_dir)
    typer.echo(json.dumps(figures, indent=2))
