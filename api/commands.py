"""The command desk: send downlink commands, match the devices' replies, time out the silent.

A command goes to one device or to a group (a cabinet's lights, a junction's signals) under one
correlation id, the ``command_id`` each device echoes in its ``cmd_result``; the reply's topic
says which device answered. The audit holds the truth; the desk keeps in memory only which
deliveries are open, to ignore replies that are not ours (``smartcity simulate command``'s) and
to wake whoever waits for a command to finish.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from api.audit import CommandAudit, CommandRecord, CommandStatus, Delivery
from api.errors import CommandNotDelivered
from api.sources import CommandPublisher
from devices import Channel, Command, CommandResult, DeviceRecord, Message, Topic

__all__ = ["CommandDesk"]

log = logging.getLogger(__name__)


def _now() -> datetime:
    return datetime.now(UTC)


class CommandDesk:
    """``await run()`` (the timeout sweep) beside the API; ``send``, ``get``, ``wait``."""

    def __init__(
        self,
        audit: CommandAudit,
        publisher: CommandPublisher,
        *,
        timeout_s: float,
        sweep_interval_s: float = 0.5,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self._audit = audit
        self._publisher = publisher
        self.timeout_s = timeout_s
        self._sweep_interval_s = sweep_interval_s
        self._clock = clock
        self._open: dict[str, set[str]] = {}
        self._finished: dict[str, asyncio.Event] = {}
        for command_id, device_id in audit.open_deliveries():
            self._open.setdefault(command_id, set()).add(device_id)

    async def send(
        self,
        command: Command,
        targets: Sequence[DeviceRecord],
        *,
        target: str,
        requested_by: str,
        token_id: str,
    ) -> CommandRecord:
        """Audit, then publish to every target at once; deliveries the broker refuses fail."""
        now = self._clock()
        command_id = f"api-{uuid.uuid4().hex[:20]}"
        body = command.model_copy(update={"command_id": command_id, "ts": now})
        arguments = body.model_dump(mode="json", exclude_none=True, exclude={"command_id", "ts"})
        arguments.pop("action", None)
        record = CommandRecord(
            id=command_id,
            action=body.action,
            arguments=arguments,
            target=target,
            requested_by=requested_by,
            token_id=token_id,
            requested_at=now,
            deadline=now + timedelta(seconds=self.timeout_s),
            deliveries=tuple(
                Delivery(device.id, CommandStatus.SENT, "", None) for device in targets
            ),
        )
        await asyncio.to_thread(self._audit.add, record)
        # open before publishing: a quick device may answer before publish() returns
        self._open[command_id] = {device.id for device in targets}
        self._finished[command_id] = asyncio.Event()
        payload = body.model_dump_json(exclude_none=True).encode("utf-8")
        log.info(
            "command_sent",
            extra={
                "command_id": command_id,
                "action": body.action.value,
                "target": target,
                "devices": len(targets),
                "requested_by": requested_by,
            },
        )
        async with asyncio.TaskGroup() as group:
            for device in targets:
                group.create_task(self._publish(command_id, device, payload))
        found = await self.get(command_id)
        assert found is not None  # written above
        return found

    async def get(self, command_id: str) -> CommandRecord | None:
        """A command as audited now."""
        return await asyncio.to_thread(self._audit.get, command_id)

    async def recent(self, limit: int) -> list[CommandRecord]:
        """The newest commands first."""
        return await asyncio.to_thread(self._audit.recent, limit)

    async def wait(self, command_id: str, timeout_s: float) -> CommandRecord | None:
        """The command once every device answered or timed out, or as it is after
        ``timeout_s``."""
        finished = self._finished.get(command_id)
        if finished is not None and timeout_s > 0:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout_s):
                    await finished.wait()
        return await self.get(command_id)

    async def on_result(self, message: Message, retained: bool) -> None:
        """A ``cmd_result`` from ``MqttLink``: settle the delivery it answers, if ours."""
        result = message.payload
        if not isinstance(result, CommandResult):
            return
        device_id = message.topic.device_id
        if device_id not in self._open.get(result.command_id, ()):
            return  # not ours, or answered already (a redelivered reply)
        status = CommandStatus.DONE if result.ok else CommandStatus.FAILED
        settled = await asyncio.to_thread(
            self._audit.settle, result.command_id, device_id, status, result.detail, self._clock()
        )
        if settled:
            log.info(
                "command_answered",
                extra={"command_id": result.command_id, "device_id": device_id, "ok": result.ok},
            )
        self._close(result.command_id, device_id)

    async def run(self) -> None:
        """Time out silent deliveries, until cancelled."""
        while True:
            expired = await asyncio.to_thread(self._audit.expire, self._clock())
            for command_id, device_id in expired:
                log.warning(
                    "command_timed_out", extra={"command_id": command_id, "device_id": device_id}
                )
                self._close(command_id, device_id)
            await asyncio.sleep(self._sweep_interval_s)

    def open_count(self) -> int:
        """Deliveries waiting for a reply."""
        return sum(len(devices) for devices in self._open.values())

    async def _publish(self, command_id: str, device: DeviceRecord, payload: bytes) -> None:
        topic = str(Topic(device.district, device.kind, device.id, Channel.CMD))
        try:
            await self._publisher.publish(topic, payload)
        except CommandNotDelivered as exc:
            log.warning(
                "command_not_delivered",
                extra={"command_id": command_id, "device_id": device.id, "reason": exc.reason},
            )
            await asyncio.to_thread(
                self._audit.settle,
                command_id,
                device.id,
                CommandStatus.FAILED,
                f"not delivered: {exc.reason}",
                self._clock(),
            )
            self._close(command_id, device.id)

    def _close(self, command_id: str, device_id: str) -> None:
        devices = self._open.get(command_id)
        if devices is None:
            return
        devices.discard(device_id)
        if not devices:
            del self._open[command_id]
            finished = self._finished.pop(command_id, None)
            if finished is not None:
                finished.set()
