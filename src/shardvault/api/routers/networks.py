"""``GET /networks``: the networks wallets can be created on (a fixed table)."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from shardvault.api.dependencies import AUTHENTICATED, ERROR_RESPONSES
from shardvault.api.schemas import NetworkList
from shardvault.api.unsupported import known_query
from shardvault.api.views import networks_out

__all__ = ["router"]

router = APIRouter(
    prefix="/networks", tags=["wallets"], dependencies=AUTHENTICATED, responses=ERROR_RESPONSES
)


@router.get(
    "",
    response_model=NetworkList,
    response_model_exclude_none=True,
    dependencies=[Depends(known_query())],
)
async def list_networks() -> NetworkList:
    """The networks wallets can be created on, with the key schemes each takes."""
    return networks_out()
