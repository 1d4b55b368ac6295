"""``/admin``: operations on the whole signer group, for admin tokens only.

``POST /admin/refresh`` runs a refresh epoch (new aux info and new shares of every
key; docs/security.md item 28), ``GET /admin/refresh`` lists recent epochs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends

from shardvault.api.dependencies import (
    AUTHENTICATED,
    ERROR_RESPONSES,
    Audit,
    Backend,
    Caller,
    Epochs,
    Repository,
)
from shardvault.api.errors import ApiError
from shardvault.api.refresh_epoch import epoch_out
from shardvault.api.schemas import EpochList, EpochOut, RefreshEpochRequest
from shardvault.api.unsupported import known_query

__all__ = ["router"]

router = APIRouter(
    prefix="/admin", tags=["admin"], dependencies=AUTHENTICATED, responses=ERROR_RESPONSES
)


def _require_admin(caller: Caller) -> None:
    if not caller.is_admin:
        raise ApiError(403, "Forbidden", "this operation needs an admin token")


@router.post("/refresh", response_model=EpochOut, response_model_exclude_none=True)
async def refresh_epoch(
    caller: Caller,
    repository: Repository,
    backend: Backend,
    epochs: Epochs,
    audit: Audit,
    body: Annotated[RefreshEpochRequest | None, Body()] = None,
) -> EpochOut:
    """Run a refresh epoch of the signer group: every signer gets new Paillier primes
    and ring-Pedersen parameters, every key new shares (same public keys), and the
    old p, q, shares and presignatures are erased. Needs every signer. Always starts
    an epoch (409 ``RefreshInProgress`` while another runs)."""
    _require_admin(caller)
    fresh = body.fresh_primes if body is not None else False
    return epoch_out(await epochs.run(backend, repository, fresh_primes=fresh, audit=audit))


@router.get(
    "/refresh",
    response_model=EpochList,
    response_model_exclude_none=True,
    dependencies=[Depends(known_query())],
)
async def list_epochs(caller: Caller, backend: Backend) -> EpochList:
    """Recent refresh epochs, newest first."""
    _require_admin(caller)
    return EpochList(items=[epoch_out(r) for r in await backend.epochs()])
