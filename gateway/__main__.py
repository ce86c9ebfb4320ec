"""Run one gateway worker as a process: ``python -m gateway CONFIG.json`` (``-`` reads stdin).

The JSON holds ``gateway`` (every ``GatewayConfig`` field; ``plate_hash_key`` as text),
``registry_path``, ``influx`` (``url``, ``database``, ``username``, ``password``, ``timeout_s``),
``spool`` (``directory``, ``max_bytes``, ``segment_max_bytes``, ``fsync``), ``store``
(``max_in_flight``, ``retry_initial_s``, ``retry_max_s``) and optionally ``log_level`` and
``ready_file``: once subscribed, the worker writes ``{"pid": ..., "metrics_port": ...}``
there. SIGTERM or SIGINT stops it gracefully (flush, ack, disconnect); SIGKILL is what the
fault tests use.

``smartcity up`` runs the gateway in its own process tree; this entry point exists so that a
gateway can be run, killed and restarted on its own, and so that it needs nothing of
``smartcity`` (which no room may import).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

from devices import load_registry
from gateway.config import GatewayConfig
from gateway.errors import ConfigInvalid
from gateway.service import Gateway
from ingest import (
    DurableStore,
    InfluxV1Config,
    InfluxV1Writer,
    Spool,
    SpoolConfig,
    StoreConfig,
)

log = logging.getLogger("gateway")


def load_config(text: str) -> dict[str, Any]:
    """Parse the worker's JSON configuration; errors name what is missing."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigInvalid("config", text[:40], f"not JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise ConfigInvalid("config", type(document).__name__, "expected a JSON object")
    for key in ("gateway", "registry_path", "influx", "spool", "store"):
        if key not in document:
            raise ConfigInvalid(key, None, "missing from the worker configuration")
    return document


def gateway_config(section: dict[str, Any]) -> GatewayConfig:
    """``GatewayConfig`` from its JSON form."""
    values = dict(section)
    values["plate_hash_key"] = str(values["plate_hash_key"]).encode("utf-8")
    values["subscriptions"] = tuple(values["subscriptions"])
    try:
        return GatewayConfig(**values)
    except TypeError as exc:
        raise ConfigInvalid("gateway", sorted(values), str(exc)) from exc


async def serve(document: dict[str, Any]) -> None:
    """Open the store, run the gateway until cancelled, close the store."""
    config = gateway_config(document["gateway"])
    registry = load_registry(document["registry_path"])
    influx = document["influx"]
    writer = InfluxV1Writer(
        InfluxV1Config(
            url=influx["url"],
            database=influx["database"],
            retention_policy=None,
            username=influx.get("username"),
            password=influx.get("password"),
            timeout_s=float(influx["timeout_s"]),
            gzip=False,
            max_in_flight=config.batches_in_flight,
        )
    )
    spool = document["spool"]
    spool_config = SpoolConfig(
        directory=Path(spool["directory"]),
        max_bytes=int(spool["max_bytes"]),
        segment_max_bytes=int(spool["segment_max_bytes"]),
        fsync=spool["fsync"],
    )
    store_section = document["store"]
    store_config = StoreConfig(
        max_in_flight=int(store_section["max_in_flight"]),
        retry_initial_s=float(store_section["retry_initial_s"]),
        retry_max_s=float(store_section["retry_max_s"]),
    )
    async with writer, DurableStore(writer, Spool(spool_config), store_config) as store:
        gateway = Gateway(config, registry, store)
        async with asyncio.TaskGroup() as group:
            running = group.create_task(gateway.run())
            ready = group.create_task(gateway.ready.wait())
            await asyncio.wait([running, ready], return_when=asyncio.FIRST_COMPLETED)
            ready_file = document.get("ready_file")
            if ready_file and gateway.ready.is_set():
                await _wait_for_port(gateway)
                note = json.dumps({"pid": os.getpid(), "metrics_port": gateway.metrics_port})
                await asyncio.to_thread(Path(ready_file).write_text, note)


async def _wait_for_port(gateway: Gateway) -> None:
    if gateway.config.metrics_port is None:
        return
    for _ in range(200):
        if gateway.metrics_port is not None:
            return
        await asyncio.sleep(0.01)


async def _main(document: dict[str, Any]) -> None:
    task = asyncio.create_task(serve(document))
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await task


def main(argv: list[str]) -> int:
    """Entry point: one argument, the JSON file (or ``-`` for stdin)."""
    if len(argv) != 1:
        print("usage: python -m gateway CONFIG.json|-", file=sys.stderr)
        return 2
    text = sys.stdin.read() if argv[0] == "-" else Path(argv[0]).read_text(encoding="utf-8")
    try:
        document = load_config(text)
    except ConfigInvalid as exc:
        print(f"gateway: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=str(document.get("log_level", "WARNING")),
        format='{"ts":"%(asctime)s","level":"%(levelname)s","logger":"%(name)s","event":"%(message)s"}',
    )
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    asyncio.run(_main(document))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
