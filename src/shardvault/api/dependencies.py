"""The FastAPI dependencies the routers declare (FastAPI's "Bigger Applications"
pattern); each reads what :func:`~shardvault.api.app.create_app` put on ``app.state``:

* ``Repository``: the API database (``app.state.repository``; its operations are
  short transactions, run in worker threads);
* ``Caller``: the authenticated principal, whose ``org_id`` scopes every query (set
  by the auth middleware; :data:`AUTHENTICATED` is the routers' own dependency on it,
  so no route of an authenticated router can forget it);
* ``Backend``: the signing back end (``app.state.backend``);
* ``Signing``: the signing flow (``app.state.signing``, a :class:`SigningService`);
* ``Policies``: the approval policies and approvals (``app.state.policies``, a
  :class:`PolicyStore`);
* ``Settings``: the app's :class:`ApiSettings`;
* ``Audit``: the request's :class:`AuditContext` (who asks: user, token, credential
  of a verified user action; the action and target the route names; the request's
  hash), which every state-changing repository operation takes.

Also the path and query parameter types the routes share, and the error responses
every authenticated route documents.
"""

from __future__ import annotations

from typing import Annotated, Any, cast

from fastapi import Depends, Path, Query, Request
from fastapi.params import Depends as DependsParam

from shardvault.api.audit import ACTOR_USER, AuditContext, action_for, request_hash, safe_path
from shardvault.api.auth import Principal, current_principal
from shardvault.api.policies import PolicyStore
from shardvault.api.refresh_epoch import EpochGate
from shardvault.api.repository import ApiRepository
from shardvault.api.schemas import ErrorEnvelope
from shardvault.api.settings import ApiSettings
from shardvault.api.signing import SigningService
from shardvault.coordinator.backend import SigningBackend

__all__ = [
    "AUTHENTICATED",
    "ERROR_RESPONSES",
    "PENDING_APPROVAL",
    "Audit",
    "Backend",
    "Caller",
    "Epochs",
    "KeyId",
    "Limit",
    "PageToken",
    "Policies",
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


async def _policies(request: Request) -> PolicyStore:
    return cast(PolicyStore, request.app.state.policies)


async def _settings(request: Request) -> ApiSettings:
    return cast(ApiSettings, request.app.state.settings)


async def audit_context(
    request: Request, caller: Annotated[Principal, Depends(current_principal)]
) -> AuditContext:
    """The request's audit context (also left on ``request.state.audit`` for the
    audit middleware). The credential is the verified user action's
    (``request.state.user_action``), when one was verified before this runs."""
    body = await request.body()
    route = request.scope.get("route")
    action, _write = action_for(request.method, getattr(route, "path", None))
    params = list(request.path_params.values())
    user_action = getattr(request.state, "user_action", None)
    path = safe_path(request.scope["path"])
    context = AuditContext(
        org_id=caller.org_id,
        actor=ACTOR_USER,
        user_id=caller.user_id,
        token_id=caller.token_id,
        credential_id=getattr(user_action, "credential_id", None),
        action=action,
        target_id=str(params[-1]) if params else None,
        method=request.method,
        path=path,
        request_hash=request_hash(request.method, path, body),
    )
    request.state.audit = context
    return context


Repository = Annotated[ApiRepository, Depends(_repository)]
Audit = Annotated[AuditContext, Depends(audit_context)]
Backend = Annotated[SigningBackend, Depends(_backend)]
Signing = Annotated[SigningService, Depends(_signing)]
Settings = Annotated[ApiSettings, Depends(_settings)]
Epochs = Annotated[EpochGate, Depends(_epochs)]
Policies = Annotated[PolicyStore, Depends(_policies)]
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

#: The 202 answer of a request a policy holds for approval (the TS SDK raises it as
#: ``PolicyPendingError``, its body the object in the state it waits in).
PENDING_APPROVAL = (
    "a policy asks for approval first: the request waits, Pending, with its approvalId"
)
