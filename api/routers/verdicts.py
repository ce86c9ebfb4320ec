"""``/silences/verdicts``: what Alertmanager does with each active alert (scope read).

The page marks an alert silenced by Alertmanager's own verdict, not by matching labels itself,
and offers the labels an alert carries in Alertmanager when an operator silences it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from alerts import AlertOperations, acknowledged_fingerprint, alertmanager_labels
from api.auth import require
from api.context import operations
from api.tokens import Scope

__all__ = ["VerdictOut", "router"]

router = APIRouter(
    prefix="/silences", tags=["silences"], dependencies=[Depends(require(Scope.READ))]
)

Operations = Annotated[AlertOperations, Depends(operations)]


class VerdictOut(BaseModel):
    """One active alert as Alertmanager sees it."""

    model_config = ConfigDict(frozen=True)

    fingerprint: str
    labels: dict[str, str] = Field(description="as Alertmanager holds them (alertname, device_id)")
    state: str | None = Field(description="active or suppressed; null: Alertmanager has not got it")
    silenced_by: list[str] = Field(description="silences muting it, acknowledgements' excluded")
    acknowledgement_silence: str | None = Field(description="the silence of its acknowledgement")
    inhibited_by: list[str]


@router.get("/verdicts", response_model=list[VerdictOut])
async def verdicts(ops: Operations) -> list[VerdictOut]:
    """Each pending or firing alert with its labels in Alertmanager and Alertmanager's verdict:
    the silences muting it (an acknowledgement's own silence apart) and what inhibits it.

    Scope: read."""
    acknowledging = {
        silence.id: fingerprint
        for silence in await ops.silences()
        if (fingerprint := acknowledged_fingerprint(silence)) is not None
    }
    found: list[VerdictOut] = []
    for view in await ops.active():
        status = view.status
        silenced_by = list(status.silenced_by) if status else []
        found.append(
            VerdictOut(
                fingerprint=view.alert.fingerprint,
                labels=alertmanager_labels(view.alert),
                state=status.state if status else None,
                silenced_by=[s for s in silenced_by if s not in acknowledging],
                acknowledgement_silence=next(
                    (s for s in silenced_by if acknowledging.get(s) == view.alert.fingerprint),
                    None,
                ),
                inhibited_by=list(status.inhibited_by) if status else [],
            )
        )
    return found
