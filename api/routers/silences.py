"""Silences, which live in Alertmanager: list (scope read), make and end (scope operate).

The same ``alerts.AlertOperations`` as ``smartcity alerts silence|silences|unsilence``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, status

from alerts import AlertOperations, Matcher, Silence
from api.auth import Caller, require
from api.context import operations
from api.models import MatcherBody, SilenceIn, SilenceOut
from api.tokens import Scope

__all__ = ["router"]

router = APIRouter(prefix="/silences", tags=["silences"])

Operations = Annotated[AlertOperations, Depends(operations)]


def _out(silence: Silence) -> SilenceOut:
    return SilenceOut(
        id=silence.id,
        matchers=[
            MatcherBody(name=m.name, value=m.value, is_regex=m.is_regex, is_equal=m.is_equal)
            for m in silence.matchers
        ],
        starts_at=silence.starts_at,
        ends_at=silence.ends_at,
        created_by=silence.created_by,
        comment=silence.comment,
        state=silence.state,
    )


@router.get("", response_model=list[SilenceOut], dependencies=[Depends(require(Scope.READ))])
async def list_silences(ops: Operations, include_expired: bool = False) -> list[SilenceOut]:
    """Silences in force (active or pending), or every one Alertmanager still keeps.

    Scope: read."""
    return [_out(silence) for silence in await ops.silences(include_expired=include_expired)]


@router.post("", response_model=SilenceOut, status_code=status.HTTP_201_CREATED)
async def create_silence(
    body: SilenceIn,
    ops: Operations,
    caller: Annotated[Caller, Depends(require(Scope.OPERATE))],
) -> SilenceOut:
    """Silence every alert the matchers select, from now for ``duration_s``; the token's name
    is recorded as who made it.

    Scope: operate."""
    now = datetime.now(UTC)
    silence_id = await ops.silence(
        [Matcher(m.name, m.value, is_regex=m.is_regex, is_equal=m.is_equal) for m in body.matchers],
        starts_at=now,
        ends_at=now + timedelta(seconds=body.duration_s),
        created_by=caller.name,
        comment=body.comment,
    )
    made = [s for s in await ops.silences(include_expired=True) if s.id == silence_id]
    return _out(made[0])


@router.delete(
    "/{silence_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[Depends(require(Scope.OPERATE))],
)
async def end_silence(ops: Operations, silence_id: str) -> None:
    """End a silence now.

    Scope: operate."""
    await ops.unsilence(silence_id)
