"""``/auth``: the user-action signing flow (Dfns), service accounts, credentials and
token revocation.

* ``POST /auth/action/init`` and ``POST /auth/action``: a challenge for one request,
  and a user-action token for a signed challenge (protocols/user_action.py);
* ``/auth/service-accounts``: list, get, create (with its public key; answers the
  account with its ``accessToken``, shown once), update, activate, deactivate,
  archive (``DELETE``, Dfns's "Archive Service Account");
* ``/auth/credentials``: the caller's credentials: list, create a Key credential,
  activate and deactivate (``PUT /auth/credentials/activate|deactivate``
  ``{credentialUuid}``);
* ``DELETE /auth/tokens/{tokenId}``: revoke an API token of the org (admin, or the
  token's own account).

Service-account management needs an admin token (the permission model of
``/permissions`` refines it).
"""

from __future__ import annotations

from typing import Annotated, Any, cast

from fastapi import APIRouter, Body, Path, Request

from shardvault.api.audit import AuditContext
from shardvault.api.auth import DEFAULT_TOKEN_DAYS
from shardvault.api.auth_schemas import (
    AccessTokenOut,
    ActionChallengeOut,
    ActionInitRequest,
    ActionSignRequest,
    ActionTokenOut,
    AllowCredentialsOut,
    AllowedCredentialOut,
    CreateKeyCredentialRequest,
    CreateServiceAccountRequest,
    CredentialIdRequest,
    CredentialList,
    CredentialOut,
    DeactivateServiceAccountRequest,
    MessageOut,
    ServiceAccountList,
    ServiceAccountOut,
    SupportedCredentialKindOut,
    UpdateServiceAccountRequest,
    UserInfoOut,
)
from shardvault.api.dependencies import AUTHENTICATED, ERROR_RESPONSES, Audit, Caller, Settings
from shardvault.api.encoding import iso_utc
from shardvault.api.errors import ApiError
from shardvault.api.identity import Account, IdentityRepository
from shardvault.api.permission_repository import check_permission_id
from shardvault.api.permissions import Permissions, ensure_permission, require_permission
from shardvault.api.repository import in_thread
from shardvault.api.user_actions import parse_payload, request_payload_sha256
from shardvault.db.models import CredentialRow
from shardvault.errors import Forbidden

__all__ = ["router"]

router = APIRouter(
    prefix="/auth", tags=["auth"], dependencies=AUTHENTICATED, responses=ERROR_RESPONSES
)


def _path(alias: str = "serviceAccountId") -> Any:
    return Path(alias=alias, max_length=64)


def _identity(request: Request) -> IdentityRepository:
    return cast(IdentityRepository, request.app.state.identity)


# -- user actions -----------------------------------------------------------------
@router.post("/action/init", response_model=ActionChallengeOut)
async def init_user_action(
    request: Request, caller: Caller, body: ActionInitRequest
) -> ActionChallengeOut:
    """A challenge committing to one request (method, path, payload) of the caller."""
    try:
        digest = request_payload_sha256(parse_payload(body.user_action_payload))
    except ValueError:  # malformed, non-finite numbers, lone surrogates
        raise ApiError(
            400, "InvalidUserActionPayload", "userActionPayload must be empty or JSON"
        ) from None
    issued = await in_thread(
        _identity(request).init_challenge,
        caller.org_id,
        caller.user_id,
        body.user_action_http_method,
        body.user_action_http_path,
        digest,
    )
    return ActionChallengeOut(
        challenge=issued.challenge,
        challenge_identifier=issued.challenge_identifier,
        supported_credential_kinds=[SupportedCredentialKindOut()],
        allow_credentials=AllowCredentialsOut(
            key=[AllowedCredentialOut(id=i) for i in issued.credential_ids], webauthn=[]
        ),
    )


@router.post("/action", response_model=ActionTokenOut)
async def sign_user_action(
    request: Request, caller: Caller, settings: Settings, body: ActionSignRequest
) -> ActionTokenOut:
    """A user-action token for a challenge signed by one of the caller's credentials."""
    assertion = body.first_factor.credential_assertion
    token = await in_thread(
        _identity(request).sign_challenge,
        caller.org_id,
        caller.user_id,
        body.challenge_identifier,
        assertion.cred_id,
        assertion.client_data,
        assertion.signature,
        settings.allowed_origins,
    )
    return ActionTokenOut(user_action=token)


# -- credentials ------------------------------------------------------------------
def _credential_out(row: CredentialRow) -> CredentialOut:
    return CredentialOut(
        credential_id=row.id,
        credential_uuid=row.id,
        date_created=iso_utc(row.date_created),
        is_active=row.is_active,
        name=row.name,
        public_key=row.public_key,
    )


@router.get(
    "/credentials",
    response_model=CredentialList,
    dependencies=[require_permission("Auth:Creds:Read")],
)
async def list_credentials(request: Request, caller: Caller) -> CredentialList:
    """The caller's credentials."""
    rows = await in_thread(_identity(request).list_credentials, caller.org_id, caller.user_id)
    return CredentialList(items=[_credential_out(r) for r in rows])


@router.post(
    "/credentials",
    response_model=CredentialOut,
    dependencies=[require_permission("Auth:Creds:Create")],
)
async def create_credential(
    request: Request, caller: Caller, body: CreateKeyCredentialRequest, audit: Audit
) -> CredentialOut:
    """A new Key credential of the caller (a signed user action by an existing one)."""
    row = await in_thread(
        _identity(request).create_credential,
        caller.org_id,
        caller.user_id,
        body.public_key,
        body.credential_name,
        audit=audit,
    )
    return _credential_out(row)


async def _set_credential(
    request: Request, caller: Caller, audit: AuditContext, uuid: str, active: bool
) -> MessageOut:
    await in_thread(
        lambda: _identity(request).set_credential_active(
            caller.org_id, caller.user_id, uuid, active, audit=audit
        )
    )
    return MessageOut(message="activated" if active else "deactivated")


@router.put(
    "/credentials/activate",
    response_model=MessageOut,
    dependencies=[require_permission("Auth:Creds:Update")],
)
async def activate_credential(
    request: Request, caller: Caller, body: CredentialIdRequest, audit: Audit
) -> MessageOut:
    return await _set_credential(request, caller, audit, body.credential_uuid, True)


@router.put(
    "/credentials/deactivate",
    response_model=MessageOut,
    dependencies=[require_permission("Auth:Creds:Update")],
)
async def deactivate_credential(
    request: Request, caller: Caller, body: CredentialIdRequest, audit: Audit
) -> MessageOut:
    return await _set_credential(request, caller, audit, body.credential_uuid, False)


# -- service accounts -------------------------------------------------------------
def _account_out(found: Account, token: str | None = None) -> ServiceAccountOut:
    account = found.account
    first = found.credentials[0] if found.credentials else None
    by_id = {c.id: c for c in found.credentials}
    tokens = []
    for tok in found.tokens:
        cred = by_id.get(tok.credential_id or "") or first
        tokens.append(
            AccessTokenOut(
                access_token=token if token is not None and tok is found.tokens[-1] else None,
                date_created=iso_utc(tok.date_created),
                cred_id=cred.id if cred else "",
                is_active=tok.date_revoked is None and account.is_active,
                kind="Pat" if tok.kind == "Pat" else "ServiceAccount",
                linked_user_id=account.id,
                name=tok.name or account.name,
                org_id=account.org_id,
                public_key=cred.public_key if cred else "",
                token_id=tok.id,
            )
        )
    return ServiceAccountOut(
        user_info=UserInfoOut(
            username=account.name,
            name=account.name,
            user_id=account.id,
            credential_uuid=first.id if first else "",
            org_id=account.org_id,
            is_active=account.is_active,
        ),
        access_tokens=tokens,
    )


@router.get(
    "/service-accounts",
    response_model=ServiceAccountList,
    response_model_exclude_none=True,
    dependencies=[require_permission("Auth:ServiceAccounts:Read")],
)
async def list_service_accounts(request: Request, caller: Caller) -> ServiceAccountList:
    found = await in_thread(_identity(request).list_service_accounts, caller.org_id)
    return ServiceAccountList(items=[_account_out(a) for a in found])


@router.post(
    "/service-accounts",
    response_model=ServiceAccountOut,
    response_model_exclude_none=True,
    dependencies=[require_permission("Auth:ServiceAccounts:Create")],
)
async def create_service_account(
    request: Request,
    caller: Caller,
    body: CreateServiceAccountRequest,
    permissions: Permissions,
    audit: Audit,
) -> ServiceAccountOut:
    """A new (non-admin) service account with its Key credential (``publicKey``) and
    an access token, returned once in ``accessTokens[0].accessToken``. With
    ``permissionId`` (Dfns), that permission is assigned to it (which also needs
    ``Permissions:Assign``; the permission is checked before the account is made)."""
    if body.permission_id is not None:
        await ensure_permission(permissions, caller, "Permissions:Assign")
        check_permission_id(body.permission_id)
        await in_thread(permissions.get_permission, caller.org_id, body.permission_id)
    found, token = await in_thread(
        lambda: _identity(request).create_service_account(
            caller.org_id,
            body.name,
            body.public_key,
            external_id=body.external_id,
            days_valid=body.days_valid or DEFAULT_TOKEN_DAYS,
            audit=audit,
        )
    )
    if body.permission_id is not None:
        await in_thread(
            lambda: permissions.assign(
                caller.org_id, body.permission_id or "", found.account.id, audit=audit
            )
        )
    return _account_out(found, token)


@router.get(
    "/service-accounts/{serviceAccountId}",
    response_model=ServiceAccountOut,
    response_model_exclude_none=True,
    dependencies=[require_permission("Auth:ServiceAccounts:Read")],
)
async def get_service_account(
    request: Request, caller: Caller, service_account_id: Annotated[str, _path()]
) -> ServiceAccountOut:
    found = await in_thread(
        _identity(request).get_service_account, caller.org_id, service_account_id
    )
    return _account_out(found)


@router.put(
    "/service-accounts/{serviceAccountId}",
    response_model=ServiceAccountOut,
    response_model_exclude_none=True,
    dependencies=[require_permission("Auth:ServiceAccounts:Update")],
)
async def update_service_account(
    request: Request,
    caller: Caller,
    service_account_id: Annotated[str, _path()],
    body: UpdateServiceAccountRequest,
    audit: Audit,
) -> ServiceAccountOut:
    found = await in_thread(
        lambda: _identity(request).update_service_account(
            caller.org_id, service_account_id, body.name, body.external_id, audit=audit
        )
    )
    return _account_out(found)


async def _set_state(
    request: Request,
    caller: Caller,
    audit: AuditContext,
    account_id: str,
    *,
    active: bool,
    archive: bool = False,
) -> ServiceAccountOut:
    if account_id == caller.service_account_id and not active:
        raise ApiError(
            409, "CannotDeactivateSelf", "a service account cannot deactivate or archive itself"
        )
    found = await in_thread(
        lambda: _identity(request).set_service_account_state(
            caller.org_id, account_id, active=active, archive=archive, audit=audit
        )
    )
    return _account_out(found)


@router.put(
    "/service-accounts/{serviceAccountId}/activate",
    response_model=ServiceAccountOut,
    response_model_exclude_none=True,
    dependencies=[require_permission("Auth:ServiceAccounts:Activate")],
)
async def activate_service_account(
    request: Request, caller: Caller, service_account_id: Annotated[str, _path()], audit: Audit
) -> ServiceAccountOut:
    return await _set_state(request, caller, audit, service_account_id, active=True)


@router.put(
    "/service-accounts/{serviceAccountId}/deactivate",
    response_model=ServiceAccountOut,
    response_model_exclude_none=True,
    dependencies=[require_permission("Auth:ServiceAccounts:Deactivate")],
)
async def deactivate_service_account(
    request: Request,
    caller: Caller,
    audit: Audit,
    service_account_id: Annotated[str, _path()],
    body: Annotated[DeactivateServiceAccountRequest | None, Body()] = None,
) -> ServiceAccountOut:
    return await _set_state(request, caller, audit, service_account_id, active=False)


@router.delete(
    "/service-accounts/{serviceAccountId}",
    response_model=ServiceAccountOut,
    response_model_exclude_none=True,
    dependencies=[require_permission("Auth:ServiceAccounts:Delete")],
)
async def archive_service_account(
    request: Request, caller: Caller, service_account_id: Annotated[str, _path()], audit: Audit
) -> ServiceAccountOut:
    """Archive: inactive for good, every token revoked."""
    return await _set_state(request, caller, audit, service_account_id, active=False, archive=True)


# -- tokens -----------------------------------------------------------------------
@router.delete("/tokens/{tokenId}", response_model=MessageOut)
async def revoke_token(
    request: Request, caller: Caller, token_id: Annotated[str, _path("tokenId")], audit: Audit
) -> MessageOut:
    """Revoke an API token (admin: any of the org; otherwise only one's own)."""
    identity = _identity(request)
    if not caller.is_admin and token_id != caller.token_id:
        raise Forbidden("only an admin token revokes another token")
    await in_thread(lambda: identity.revoke_token(caller.org_id, token_id, audit=audit))
    return MessageOut(message="revoked")
