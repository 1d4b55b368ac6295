"""The FastAPI dependencies the routers declare (FastAPI's "Bigger Applications"
pattern); each reads what :func:`~shardvault.api.app.create_app` put on ``app.state``:

* ``Repository``: the API database (``app.state.repository``; its operations are
  short transactions, run in worker threads);
* ``Caller``: the authenticated principal, whose ``org_id`` scopes every query (set
  by the auth middleware; :data:`AUTHENTICATED` is the routers' own dependency on it,
  so no route of an authenticated router can forget it);
* ``Backend``: the signing back end (``app.state.backend``);
* ``Signing``: the signing flow (``app.state.signing``, a :class:`SigningService`);
* ``Settings``: the app's :class:`ApiSettings`.

Also the path and query parameter types the routes share, and the error responses
every authenticated route documents.
"""

from __future__ import annotations

from typing import Annotated, Any, cast

from fastapi import Depends, Path, Query, Request
from fastapi.params import Depends as DependsParam

from shardvault.api.auth import Principal, current_principal
from shardvault.api.refresh_epoch import EpochGate
from shardvault.api.repository import ApiRepository
from shardvault.api.schemas import ErrorEnvelope
from shardvault.api.settings import ApiSettings
from shardvault.api.signing import SigningService
from shardvault.coordinator.backend import SigningBackend

__all__ = [
    "AUTHENTICATED",
    "ERROR_RESPONSES",
    "Backend",
    "Caller",
    "Epochs",
    "KeyId",
    "Limit",
    "PageToken",
    "Repository",
    "Settings",
    "SignatureId",
    "Signing",
    "WalletId",
]


async def _repository(request: Request) -> ApiRepository:
    return cast(ApiRepository, request.app.state.repository)


async def _backend(request: Request) -> SigningBackend:
    return cast(SigningBackend, request.app.state.backend)


async def _signing(request: Request) -> SigningService:
    return cast(SigningService, request.app.state.signing)


async def _epochs(request: Request) -> EpochGate:
    return cast(EpochGate, request.app.state.epochs)


async def _settings(request: Request) -> ApiSettings:
    return cast(ApiSettings, request.app.state.settings)


Repository = Annotated[ApiRepository, Depends(_repository)]
Backend = Annotated[SigningBackend, Depends(_backend)]
Signing = Annotated[SigningService, Depends(_signing)]
Settings = Annotated[ApiSettings, Depends(_settings)]
Epochs = Annotated[EpochGate, Depends(_epochs)]
Caller = Annotated[Principal, Depends(current_principal)]

#: The dependency of every authenticated router (the bearer token, documented in the
#: OpenAPI schema; the middleware has already refused requests without one).
AUTHENTICATED: list[DependsParam] = [Depends(current_principal)]

KeyId = Annotated[str, Path(alias="keyId", max_length=64)]
SignatureId = Annotated[str, Path(alias="signatureId", max_length=64)]
WalletId = Annotated[str, Path(alias="walletId", max_length=64)]
Limit = Annotated[int, Query(ge=1, le=100)]
PageToken = Annotated[str | None, Query(alias="paginationToken", max_length=256)]

#: The error envelope, documented for every status an authenticated route can answer.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorEnvelope} for status in (400, 401, 403, 404, 409, 429, 500, 502, 503)
}
