"""Tokens (scope admin): list, make, revoke; what ``smartcity api token`` does, over HTTP."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status

from api.auth import require
from api.context import ApiContext, context
from api.errors import TokenNameTaken, TokenNotFound
from api.models import TokenIn, TokenIssued, TokenOut
from api.tokens import Scope

__all__ = ["router"]

router = APIRouter(prefix="/tokens", tags=["tokens"], dependencies=[Depends(require(Scope.ADMIN))])

Context = Annotated[ApiContext, Depends(context)]


@router.get("", response_model=list[TokenOut])
async def list_tokens(ctx: Context) -> list[TokenOut]:
    """Every live token, oldest first; never a secret.

    Scope: admin."""
    return [TokenOut.of(record) for record in await asyncio.to_thread(ctx.tokens.list)]


@router.post("", response_model=TokenIssued, status_code=status.HTTP_201_CREATED)
async def create_token(ctx: Context, body: TokenIn) -> TokenIssued:
    """Make a token; its secret is in this answer and nowhere else.

    Scope: admin."""
    try:
        issued = await asyncio.to_thread(ctx.tokens.create, body.name, body.scope)
    except TokenNameTaken as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    record = issued.record
    return TokenIssued(
        id=record.id,
        name=record.name,
        scope=record.scope,
        created_at=record.created_at,
        token=issued.secret,
    )


@router.delete("/{key}", response_model=TokenOut)
async def revoke_token(ctx: Context, key: str) -> TokenOut:
    """Revoke a token by id or name; it stops working at once.

    Scope: admin."""
    try:
        record = await asyncio.to_thread(ctx.tokens.revoke, key)
    except TokenNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    return TokenOut.of(record)
