"""``/keys``: generate (DKG), import, list, read, rename, delete (archive and erase
the shares), refresh (a group epoch) and export keys. Signatures of a key are
``signatures.py``'s."""

from __future__ import annotations

import logging
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Body, Depends

from shardvault.api.audit import SUCCESS
from shardvault.api.dependencies import (
    AUTHENTICATED,
    ERROR_RESPONSES,
    PENDING_APPROVAL,
    Audit,
    Backend,
    Caller,
    Epochs,
    KeyId,
    Limit,
    PageToken,
    Policies,
    Repository,
    Settings,
)
from shardvault.api.encoding import b64url_decode, b64url_encode, iso_utc
from shardvault.api.errors import ApiError, api_error_from
from shardvault.api.key_lifecycle import (
    discard_key,
    erase_shares,
    generate_key,
    key_record,
    require_usable,
    row_from_record,
    supported_pairs,
)
from shardvault.api.paging import one_page, parse_page_token
from shardvault.api.permissions import require_permission
from shardvault.api.policies.definitions import KEYS_EXPORT, KEYS_IMPORT
from shardvault.api.policies.gate import hold_for_approval
from shardvault.api.refresh_epoch import REFRESHED_PROTOCOLS
from shardvault.api.repository import check_key_id, in_thread, key_not_exportable
from shardvault.api.schemas import (
    ChangeRequestOut,
    CreateKeyRequest,
    EncryptedKeyShareOut,
    ExportKeyRequest,
    ExportKeyResponse,
    ImportContextOut,
    ImportKeyRequest,
    KeyDetailOut,
    KeyList,
    KeyOut,
    RefreshKeyRequest,
    UpdateKeyRequest,
)
from shardvault.api.unsupported import known_query, refuse_unsupported
from shardvault.api.views import key_detail_out, key_out
from shardvault.crypto import hpke
from shardvault.db.ids import new_id
from shardvault.db.models import KEY_ACTIVE, KEY_ARCHIVED
from shardvault.errors import InvalidEncoding, InvalidImport, ShardvaultError
from shardvault.protocols.key_import import IMPORT_ID_SIZE
from shardvault.protocols.key_transfer import min_signers_problem
from shardvault.protocols.registry import PROTOCOLS, canonical_protocol

__all__ = ["router"]

logger = logging.getLogger("shardvault.api")

_X25519_KEY_SIZE = 32

router = APIRouter(
    prefix="/keys", tags=["keys"], dependencies=AUTHENTICATED, responses=ERROR_RESPONSES
)


@router.post(
    "",
    response_model=KeyOut,
    response_model_exclude_none=True,
    dependencies=[require_permission("Keys:Create")],
)
async def create_key(
    body: CreateKeyRequest,
    caller: Caller,
    repository: Repository,
    backend: Backend,
    settings: Settings,
    audit: Audit,
) -> KeyOut:
    refuse_unsupported(body.unsupported())
    record, row = await generate_key(
        backend,
        caller.org_id,
        body.scheme,
        body.curve,
        body.name,
        min_signers=settings.default_min_signers,
    )
    row.exportable = body.exportable
    try:
        await in_thread(repository.insert_key, row, audit=audit)
    except BaseException:
        await discard_key(backend, record)
        raise
    return key_out(row)


#: Signer refusals of an import that are conflicts with earlier state, not bad input.
_CONFLICT_IMPORT_CODES = frozenset({"ImportContextUsed", "DuplicateKey"})


@router.post(
    "/import/context",
    response_model=ImportContextOut,
    dependencies=[require_permission("Keys:Import")],
)
async def create_import_context(
    caller: Caller, repository: Repository, audit: Audit
) -> ImportContextOut:
    """A one-time import context: seal the import's shares under it (it is bound into
    every share's AAD) and send its ``importId`` with ``POST /keys/import``, from this
    org, before ``expiresAt``. Ours, not Dfns'."""
    context, row = await in_thread(repository.issue_import_context, caller.org_id, audit=audit)
    return ImportContextOut(
        import_id=b64url_encode(context.import_id),
        issued_at=iso_utc(row.issued_at),
        expires_at=iso_utc(row.expires_at),
    )


@router.post(
    "/import",
    response_model=KeyOut,
    response_model_exclude_none=True,
    dependencies=[require_permission("Keys:Import")],
    responses={202: {"model": ChangeRequestOut, "description": PENDING_APPROVAL}},
)
async def import_key(
    body: ImportKeyRequest,
    caller: Caller,
    repository: Repository,
    backend: Backend,
    policies: Policies,
    audit: Audit,
) -> Any:
    refuse_unsupported(body.unsupported())
    protocol = canonical_protocol(body.protocol)
    scheme = PROTOCOLS.get((protocol, body.curve))
    if scheme is None:
        raise ApiError(
            400,
            "UnsupportedProtocol",
            f"unsupported protocol/curve combination {body.protocol}/{body.curve}",
            details={"supported": supported_pairs()},
        )
    shares: dict[str, bytes] = {}
    for i, item in enumerate(body.encrypted_key_shares):
        if item.signer_id in shares:
            raise ApiError(
                400,
                "DuplicateSigner",
                f"signer {item.signer_id} appears more than once",
                details={"signers": [item.signer_id]},
            )
        shares[item.signer_id] = b64url_decode(
            item.encrypted_key_share, f"encryptedKeyShares.{i}.encryptedKeyShare"
        )
    problem = min_signers_problem(body.min_signers, len(shares))
    if problem is not None:
        raise ApiError(400, "InvalidMinSigners", problem, details={"field": "minSigners"})
    import_id = b64url_decode(body.import_id, "importId", size=IMPORT_ID_SIZE)
    held = await hold_for_approval(
        policies,
        caller,
        KEYS_IMPORT,
        body.model_dump(
            by_alias=True,
            exclude_none=True,
            include={"name", "curve", "protocol", "min_signers", "exportable"},
        ),
        audit=audit,
    )
    if held is not None:
        return held
    context = await in_thread(repository.take_import_context, caller.org_id, import_id, audit=audit)
    key_id = new_id("key")
    expected = (key_id, protocol, body.curve, body.min_signers)
    try:
        record = await backend.import_key(
            key_id, protocol, body.curve, body.min_signers, shares, context
        )
    except InvalidImport as exc:
        if exc.code in _CONFLICT_IMPORT_CODES:
            raise ApiError(
                409, exc.code, exc.message, details={"signers": list(exc.signers)}
            ) from exc
        raise
    try:
        row = row_from_record(
            record,
            expected=expected,
            org_id=caller.org_id,
            scheme=scheme,
            name=body.name,
            imported=True,
            exportable=body.exportable,
        )
        await in_thread(repository.insert_imported_key, row, audit=audit)
    except BaseException:
        await discard_key(backend, record)
        raise
    logger.info("key %s imported (%s/%s)", key_id, protocol, body.curve)
    return key_out(row)


@router.get(
    "",
    response_model=KeyList,
    response_model_exclude_none=True,
    dependencies=[
        require_permission("Keys:Read"),
        Depends(known_query("limit", "paginationToken")),
    ],
)
async def list_keys(
    caller: Caller, repository: Repository, limit: Limit = 50, pagination_token: PageToken = None
) -> KeyList:
    before = parse_page_token(pagination_token, "key")
    rows = await in_thread(repository.list_keys, caller.org_id, before, limit + 1)
    page, next_token = one_page(rows, limit, lambda k: k.id)
    return KeyList(items=[key_out(k) for k in page], next_page_token=next_token)


@router.get(
    "/{keyId}",
    response_model=KeyDetailOut,
    response_model_exclude_none=True,
    dependencies=[require_permission("Keys:Read")],
)
async def get_key(key_id: KeyId, caller: Caller, repository: Repository) -> KeyDetailOut:
    """The key and its wallets (``wallets: [{id, network}]``, as Dfns answers)."""
    check_key_id(key_id)
    key = await in_thread(repository.get_key, caller.org_id, key_id)
    return key_detail_out(key, await in_thread(repository.key_wallets, caller.org_id, key_id))


@router.put(
    "/{keyId}",
    response_model=KeyOut,
    response_model_exclude_none=True,
    dependencies=[require_permission("Keys:Update")],
)
async def update_key(
    key_id: KeyId, body: UpdateKeyRequest, caller: Caller, repository: Repository, audit: Audit
) -> KeyOut:
    """Rename the key (Dfns) and/or switch its ``exportable`` flag off (ours; 409
    ``KeyNotExportable`` to switch it back on)."""
    check_key_id(key_id)
    key = await in_thread(
        repository.update_key,
        caller.org_id,
        key_id,
        name=body.name,
        exportable=body.exportable,
        audit=audit,
    )
    return key_out(key)


@router.delete(
    "/{keyId}",
    response_model=KeyOut,
    response_model_exclude_none=True,
    dependencies=[require_permission("Keys:Delete")],
)
async def delete_key(
    key_id: KeyId, caller: Caller, repository: Repository, backend: Backend, audit: Audit
) -> KeyOut:
    check_key_id(key_id)
    key = await in_thread(repository.get_key, caller.org_id, key_id)
    if key.status == KEY_ARCHIVED and key.shares_erased:
        return key_out(key)
    # Archive first (signing is refused from now on), then erase the shares; if the
    # signers fail, the key stays Archived and a repeated DELETE retries.
    key = await in_thread(repository.archive_key, caller.org_id, key_id, audit=audit)
    key = await erase_shares(backend, repository, key, audit)
    logger.info("key %s archived, shares erased", key_id)
    return key_out(key)


@router.post(
    "/{keyId}/refresh",
    response_model=KeyOut,
    response_model_exclude_none=True,
    dependencies=[require_permission("Keys:Update")],
)
async def refresh_key(
    key_id: KeyId,
    caller: Caller,
    repository: Repository,
    backend: Backend,
    epochs: Epochs,
    settings: Settings,
    audit: Audit,
    _body: Annotated[RefreshKeyRequest | None, Body()] = None,
) -> KeyOut:
    """Proactive refresh: runs a refresh EPOCH of the whole signer group (new
    Paillier primes and ring-Pedersen parameters on every signer, new shares of EVERY
    key, old material erased; docs/security.md item 28), since a share-only refresh
    leaves the signers' aux info, and so the key, to an attacker across time. Answers
    with this key (same public key, new verifying shares). Needs every signer.

    The epoch is cluster-wide, so: a request while an epoch runs joins it (waits for
    its result) instead of starting another; and a non-admin caller within
    ``key_refresh_min_interval_seconds`` (default 10 min) of the last epoch starts
    none: the answer (200) is the key as that last epoch refreshed it. Admins (and
    ``POST /admin/refresh``) always start one."""
    check_key_id(key_id)
    key = await in_thread(repository.get_key, caller.org_id, key_id)
    if key.protocol not in REFRESHED_PROTOCOLS:
        raise ApiError(
            400,
            "RefreshNotSupported",
            f"only ECDSA (CGGMP24) keys can be refreshed; key {key_id} is "
            f"{key.scheme} ({key.protocol})",
            details={"scheme": key.scheme, "protocol": key.protocol},
        )
    require_usable(key)
    if key.min_signers < 2:
        raise ApiError(
            400,
            "RefreshNotSupported",
            f"key {key_id} is 1-of-n: every share is the key, a re-deal cannot help",
        )
    result = await epochs.join_or_run(
        backend,
        repository,
        min_interval=settings.key_refresh_min_interval_seconds,
        admin=caller.is_admin,
        audit=audit,
    )
    key = await in_thread(repository.get_key, caller.org_id, key_id)
    if result is None:
        logger.info("key %s: refreshed by the last epoch, less than the interval ago", key_id)
    else:
        logger.info("key %s refreshed by group epoch %d", key_id, result.epoch)
    return key_out(key)


@router.post(
    "/{keyId}/export",
    response_model=ExportKeyResponse,
    response_model_exclude_none=True,
    dependencies=[require_permission("Keys:Export")],
    responses={202: {"model": ChangeRequestOut, "description": PENDING_APPROVAL}},
)
async def export_key(
    key_id: KeyId,
    body: ExportKeyRequest,
    caller: Caller,
    repository: Repository,
    backend: Backend,
    policies: Policies,
    audit: Audit,
) -> Any:
    """Export the key's shares, sealed to ``encryptionKey``. Four gates, in order:
    the ``Keys:Export`` permission (403 ``PermissionDenied``), the org setting
    ``keyExport`` (403 ``KeyExportDisabled``), the key's ``exportable`` flag (403
    ``KeyNotExportable``), then any approval policy on ``Keys:Export`` (202). The key
    stops signing unless the org setting ``signAfterExport`` is on."""
    org = await in_thread(repository.org, caller.org_id)
    if org is None or not org.key_export_enabled:
        raise ApiError(
            403,
            "KeyExportDisabled",
            "key export is disabled for this org (PUT /org/settings {keyExport: true}, "
            "or shardvault admin enable-export)",
        )
    check_key_id(key_id)
    key = await in_thread(repository.get_key, caller.org_id, key_id)
    if key.status != KEY_ACTIVE:
        raise ApiError(409, "KeyArchived", f"key {key_id} is archived")
    if not key.exportable:
        raise key_not_exportable(key_id)
    if not any(
        canonical_protocol(s.protocol) == key.protocol and s.curve == key.curve
        for s in body.supported_schemes
    ):
        raise ApiError(
            400,
            "UnsupportedScheme",
            f"the key is {key.protocol}/{key.curve}, not among supportedSchemes",
            details={"protocol": key.protocol, "curve": key.curve},
        )
    encryption_key = b64url_decode(body.encryption_key, "encryptionKey", size=_X25519_KEY_SIZE)
    try:
        hpke.validate_public_key(encryption_key)
    except InvalidEncoding as exc:
        raise ApiError(
            400,
            "InvalidEncoding",
            f"encryptionKey: {exc.message}",
            details={"field": "encryptionKey"},
        ) from None
    held = await hold_for_approval(
        policies,
        caller,
        KEYS_EXPORT,
        {"keyId": key_id, **body.model_dump(by_alias=True, exclude_none=True)},
        key_id=key_id,
        audit=audit,
    )
    if held is not None:
        return held
    key, already_exported = await in_thread(
        repository.begin_export, caller.org_id, key_id, audit=audit
    )
    try:
        shares = await backend.export_key(key_record(key), encryption_key)
    except BaseException as exc:
        if not already_exported:
            error = api_error_from(exc) if isinstance(exc, ShardvaultError) else None
            with anyio.CancelScope(shield=True):
                await in_thread(
                    repository.undo_export,
                    caller.org_id,
                    key_id,
                    audit=audit,
                    error_code=error.code if error is not None else "InternalError",
                    status=error.status if error is not None else 500,
                )
        raise
    # The shares leave only once their delivery is in the log.
    await in_thread(
        repository.record,
        audit,
        target_id=key_id,
        result=SUCCESS,
        details={"signers": [s.signer_id for s in shares]},
    )
    logger.info("key %s exported (%d shares)", key_id, len(shares))
    return ExportKeyResponse(
        public_key=key.public_key,
        protocol=key.protocol,
        curve=key.curve,
        min_signers=key.min_signers,
        encrypted_key_shares=[
            EncryptedKeyShareOut(
                signer_id=s.signer_id, encrypted_key_share=b64url_encode(s.encrypted_key_share)
            )
            for s in shares
        ],
    )
