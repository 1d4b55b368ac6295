"""``/wallets``: a wallet is a key on a network, with its address. Create (with a new
or an existing key), list, read, rename, tag, and sign with the wallet's key on its
network (through the signing service)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic.alias_generators import to_camel

from shardvault.api.dependencies import (
    AUTHENTICATED,
    ERROR_RESPONSES,
    PENDING_APPROVAL,
    Audit,
    Backend,
    Caller,
    Limit,
    PageToken,
    Policies,
    Repository,
    Settings,
    SignatureId,
    Signing,
    WalletId,
)
from shardvault.api.errors import ApiError
from shardvault.api.key_lifecycle import discard_key, generate_key, require_usable
from shardvault.api.paging import one_page, parse_page_token
from shardvault.api.permissions import Permissions, ensure_permission, require_permission
from shardvault.api.policies.definitions import WALLETS_CREATE
from shardvault.api.policies.gate import hold_for_approval
from shardvault.api.repository import (
    check_key_id,
    check_signature_id,
    check_wallet_id,
    in_thread,
)
from shardvault.api.schemas import (
    ChangeRequestOut,
    CreateWalletRequest,
    SignatureList,
    SignatureOut,
    SignatureRequest,
    UpdateWalletRequest,
    WalletList,
    WalletOut,
    WalletTagsRequest,
)
from shardvault.api.signing import Requester
from shardvault.api.unsupported import known_query, refuse_unsupported
from shardvault.api.views import signature_out, wallet_out
from shardvault.chains.networks import address_for, check_scheme, get_network
from shardvault.coordinator.backend import KeyRecord
from shardvault.db.ids import new_id
from shardvault.db.models import SIG_PENDING, WALLET_ACTIVE, KeyRow, WalletRow, utcnow

__all__ = ["router"]

logger = logging.getLogger("shardvault.api")

router = APIRouter(
    prefix="/wallets", tags=["wallets"], dependencies=AUTHENTICATED, responses=ERROR_RESPONSES
)


def _unique_tags(tags: list[str] | None) -> list[str]:
    return list(dict.fromkeys(tags or []))


def _same_wallet_request(body: CreateWalletRequest, wallet: WalletRow, key: KeyRow) -> bool:
    """Whether a repeated externalId asks for what the existing wallet is."""
    network = get_network(body.network)
    spec = body.signing_key
    if spec is None:
        key_ok = (key.scheme, key.curve) == (
            network.default_scheme.scheme,
            network.default_scheme.curve,
        )
    elif spec.id is not None:
        key_ok = spec.id == key.id
    else:
        key_ok = (spec.scheme, spec.curve) == (key.scheme, key.curve)
    return (
        key_ok
        and wallet.network == network.name
        and wallet.name == body.name
        and list(wallet.tags) == _unique_tags(body.tags)
    )


def _existing_wallet(body: CreateWalletRequest, found: tuple[WalletRow, KeyRow]) -> WalletOut:
    wallet, key = found
    if not _same_wallet_request(body, wallet, key):
        raise ApiError(
            409,
            "ExternalIdConflict",
            "externalId was already used for a different wallet",
            details={
                "walletId": wallet.id,
                "duplicate": {"id": wallet.id, "externalId": wallet.external_id},
            },
        )
    return wallet_out(wallet, key)


@router.post(
    "",
    response_model=WalletOut,
    response_model_exclude_none=True,
    dependencies=[require_permission("Wallets:Create")],
    responses={202: {"model": ChangeRequestOut, "description": PENDING_APPROVAL}},
)
async def create_wallet(
    body: CreateWalletRequest,
    caller: Caller,
    repository: Repository,
    backend: Backend,
    settings: Settings,
    permissions: Permissions,
    policies: Policies,
    audit: Audit,
) -> Any:
    """A wallet on ``network``: a new key of the network's default scheme, a new key
    of ``signingKey {scheme, curve}``, or the existing key ``signingKey {id}``.
    Repeating an ``externalId`` returns the wallet it created when the request is
    the same, else 409 ``ExternalIdConflict``. An existing key also needs the
    ``Keys:Reuse`` operation (Dfns)."""
    refuse_unsupported(body.unsupported())
    network = get_network(body.network)
    if body.signing_key is not None and body.signing_key.id is not None:
        await ensure_permission(permissions, caller, "Keys:Reuse")
    if body.external_id is not None:
        found = await in_thread(repository.wallet_by_external_id, caller.org_id, body.external_id)
        if found is not None:
            return _existing_wallet(body, found)
    held = await hold_for_approval(
        policies,
        caller,
        WALLETS_CREATE,
        body.model_dump(by_alias=True, exclude_none=True),
        audit=audit,
    )
    if held is not None:
        return held
    spec = body.signing_key
    record: KeyRecord | None = None
    new_key: KeyRow | None = None
    if spec is not None and spec.id is not None:
        check_key_id(spec.id)
        key = await in_thread(repository.get_key, caller.org_id, spec.id)
        org = await in_thread(repository.org, caller.org_id)
        require_usable(key, sign_after_export=org is not None and org.sign_after_export)
        check_scheme(network, key.scheme, key.curve)
    else:
        scheme, curve = (
            (spec.scheme, spec.curve)
            if spec is not None and spec.scheme is not None and spec.curve is not None
            else (network.default_scheme.scheme, network.default_scheme.curve)
        )
        check_scheme(network, scheme, curve)
        record, new_key = await generate_key(
            backend, caller.org_id, scheme, curve, None, min_signers=settings.default_min_signers
        )
        key = new_key
    try:
        address = address_for(network, key.scheme, key.curve, bytes.fromhex(key.public_key))
        wallet = WalletRow(
            id=new_id("wa"),
            org_id=caller.org_id,
            key_id=key.id,
            network=network.name,
            address=address,
            name=body.name,
            status=WALLET_ACTIVE,
            tags=_unique_tags(body.tags),
            external_id=body.external_id,
            date_created=utcnow(),
        )
        inserted = await in_thread(repository.insert_wallet, wallet, new_key, audit=audit)
    except BaseException:
        if record is not None:
            await discard_key(backend, record)
        raise
    if not inserted:  # a concurrent request took the externalId first
        if record is not None:
            await discard_key(backend, record)
        assert body.external_id is not None
        found = await in_thread(repository.wallet_by_external_id, caller.org_id, body.external_id)
        if found is None:
            raise ApiError(409, "ExternalIdConflict", "externalId is contended; retry")
        return _existing_wallet(body, found)
    logger.info("wallet %s created on %s (key %s)", wallet.id, network.name, key.id)
    return wallet_out(wallet, key)


@router.get(
    "",
    response_model=WalletList,
    response_model_exclude_none=True,
    dependencies=[
        require_permission("Wallets:Read"),
        Depends(known_query("limit", "paginationToken")),
    ],
)
async def list_wallets(
    caller: Caller, repository: Repository, limit: Limit = 50, pagination_token: PageToken = None
) -> WalletList:
    before = parse_page_token(pagination_token, "wa")
    rows = await in_thread(repository.list_wallets, caller.org_id, before, limit + 1)
    page, next_token = one_page(rows, limit, lambda row: row[0].id)
    return WalletList(items=[wallet_out(w, k) for w, k in page], next_page_token=next_token)


@router.get(
    "/{walletId}",
    response_model=WalletOut,
    response_model_exclude_none=True,
    dependencies=[require_permission("Wallets:Read")],
)
async def get_wallet(wallet_id: WalletId, caller: Caller, repository: Repository) -> WalletOut:
    check_wallet_id(wallet_id)
    return wallet_out(*await in_thread(repository.get_wallet, caller.org_id, wallet_id))


@router.put(
    "/{walletId}",
    response_model=WalletOut,
    response_model_exclude_none=True,
    dependencies=[require_permission("Wallets:Update")],
)
async def update_wallet(
    wallet_id: WalletId,
    body: UpdateWalletRequest,
    caller: Caller,
    repository: Repository,
    audit: Audit,
) -> WalletOut:
    """Dfns ``{name?, externalId?}``: a field left out is kept, ``null`` clears it; an
    ``externalId`` another wallet holds is 409 ``ExternalIdConflict``."""
    check_wallet_id(wallet_id)
    fields = {to_camel(f): getattr(body, f) for f in body.model_fields_set}
    found = await in_thread(
        repository.update_wallet, caller.org_id, wallet_id, fields=fields, audit=audit
    )
    return wallet_out(*found)


@router.put(
    "/{walletId}/tags",
    response_model=WalletOut,
    response_model_exclude_none=True,
    dependencies=[require_permission("Wallets:Tags:Add")],
)
async def add_wallet_tags(
    wallet_id: WalletId,
    body: WalletTagsRequest,
    caller: Caller,
    repository: Repository,
    audit: Audit,
) -> WalletOut:
    """Add tags (already present ones are kept once)."""
    check_wallet_id(wallet_id)
    found = await in_thread(
        repository.update_wallet, caller.org_id, wallet_id, add_tags=body.tags, audit=audit
    )
    return wallet_out(*found)


@router.delete(
    "/{walletId}/tags",
    response_model=WalletOut,
    response_model_exclude_none=True,
    dependencies=[require_permission("Wallets:Tags:Remove")],
)
async def remove_wallet_tags(
    wallet_id: WalletId,
    body: WalletTagsRequest,
    caller: Caller,
    repository: Repository,
    audit: Audit,
) -> WalletOut:
    """Remove tags (absent ones are ignored)."""
    check_wallet_id(wallet_id)
    found = await in_thread(
        repository.update_wallet, caller.org_id, wallet_id, remove_tags=body.tags, audit=audit
    )
    return wallet_out(*found)


@router.post(
    "/{walletId}/signatures",
    response_model=SignatureOut,
    response_model_exclude_none=True,
    tags=["signatures"],
    dependencies=[require_permission("Keys:Signatures:Create")],
    responses={202: {"model": SignatureOut, "description": PENDING_APPROVAL}},
)
async def create_wallet_signature(
    wallet_id: WalletId,
    body: SignatureRequest,
    caller: Caller,
    request: Request,
    response: Response,
    signing: Signing,
    audit: Audit,
) -> SignatureOut:
    """Sign with the wallet's key; ``network`` is the wallet's (a different one
    in the body answers 400 ``NetworkMismatch``)."""
    check_wallet_id(wallet_id)
    key_id, network = await signing.wallet_facts(caller.org_id, wallet_id)
    if body.network is not None and body.network != network:
        raise ApiError(
            400,
            "NetworkMismatch",
            f"wallet {wallet_id} is on {network}, not {body.network}",
            details={"field": "network"},
        )
    large = signing.is_large(request.headers.get("content-length"))
    signature = await signing.sign_request(
        caller.org_id,
        key_id,
        body,
        network,
        wallet_id,
        audit=audit,
        large=large,
        requester=Requester.of(caller),
    )
    if signature.status == SIG_PENDING:
        response.status_code = 202  # a policy asks for approval (Dfns: PolicyPendingError)
    return signature_out(signature)


@router.get(
    "/{walletId}/signatures",
    response_model=SignatureList,
    response_model_exclude_none=True,
    tags=["signatures"],
    dependencies=[
        require_permission("Keys:Signatures:Read"),
        Depends(known_query("limit", "paginationToken")),
    ],
)
async def list_wallet_signatures(
    wallet_id: WalletId,
    caller: Caller,
    repository: Repository,
    limit: Limit = 50,
    pagination_token: PageToken = None,
) -> SignatureList:
    """The signatures requested through the wallet, newest first (Dfns's wallet
    signatures list)."""
    check_wallet_id(wallet_id)
    before = parse_page_token(pagination_token, "sig")
    rows = await in_thread(
        repository.list_wallet_signatures, caller.org_id, wallet_id, before, limit + 1
    )
    page, next_token = one_page(rows, limit, lambda sig: sig.id)
    return SignatureList(items=[signature_out(sig) for sig in page], next_page_token=next_token)


@router.get(
    "/{walletId}/signatures/{signatureId}",
    response_model=SignatureOut,
    response_model_exclude_none=True,
    tags=["signatures"],
    dependencies=[require_permission("Keys:Signatures:Read")],
)
async def get_wallet_signature(
    wallet_id: WalletId, signature_id: SignatureId, caller: Caller, repository: Repository
) -> SignatureOut:
    check_wallet_id(wallet_id)
    check_signature_id(signature_id)
    return signature_out(
        await in_thread(repository.get_wallet_signature, caller.org_id, wallet_id, signature_id)
    )
