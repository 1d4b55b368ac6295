"""``/keys/{keyId}/signatures``: sign with a key (through the signing service), list
and read its signatures."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response

from shardvault.api.dependencies import (
    AUTHENTICATED,
    ERROR_RESPONSES,
    PENDING_APPROVAL,
    Audit,
    Caller,
    KeyId,
    Limit,
    PageToken,
    Policies,
    Repository,
    SignatureId,
    Signing,
)
from shardvault.api.paging import one_page, parse_page_token
from shardvault.api.permissions import require_permission
from shardvault.api.repository import check_key_id, check_signature_id, in_thread
from shardvault.api.schemas import SignatureList, SignatureOut, SignatureRequest
from shardvault.api.signing import Requester
from shardvault.api.unsupported import known_query
from shardvault.api.views import signature_out
from shardvault.db.models import SIG_PENDING

__all__ = ["router"]

router = APIRouter(
    prefix="/keys/{keyId}/signatures",
    tags=["signatures"],
    dependencies=AUTHENTICATED,
    responses=ERROR_RESPONSES,
)


@router.post(
    "",
    response_model=SignatureOut,
    response_model_exclude_none=True,
    dependencies=[require_permission("Keys:Signatures:Create")],
    responses={202: {"model": SignatureOut, "description": PENDING_APPROVAL}},
)
async def create_signature(
    key_id: KeyId,
    body: SignatureRequest,
    caller: Caller,
    request: Request,
    response: Response,
    signing: Signing,
    audit: Audit,
) -> SignatureOut:
    check_key_id(key_id)
    large = signing.is_large(request.headers.get("content-length"))
    signature = await signing.sign_request(
        caller.org_id,
        key_id,
        body,
        body.network,
        None,
        audit=audit,
        large=large,
        requester=Requester.of(caller),
    )
    if signature.status == SIG_PENDING:
        response.status_code = 202  # a policy asks for approval (Dfns: PolicyPendingError)
    return signature_out(signature)


@router.get(
    "",
    response_model=SignatureList,
    response_model_exclude_none=True,
    dependencies=[
        require_permission("Keys:Signatures:Read"),
        Depends(known_query("limit", "paginationToken")),
    ],
)
async def list_signatures(
    key_id: KeyId,
    caller: Caller,
    repository: Repository,
    policies: Policies,
    limit: Limit = 50,
    pagination_token: PageToken = None,
) -> SignatureList:
    check_key_id(key_id)
    before = parse_page_token(pagination_token, "sig")
    await in_thread(policies.expire_due, caller.org_id)  # lazily: approvals timed out
    rows = await in_thread(repository.list_signatures, caller.org_id, key_id, before, limit + 1)
    page, next_token = one_page(rows, limit, lambda sig: sig.id)
    return SignatureList(items=[signature_out(sig) for sig in page], next_page_token=next_token)


@router.get(
    "/{signatureId}",
    response_model=SignatureOut,
    response_model_exclude_none=True,
    dependencies=[require_permission("Keys:Signatures:Read")],
)
async def get_signature(
    key_id: KeyId,
    signature_id: SignatureId,
    caller: Caller,
    repository: Repository,
    policies: Policies,
) -> SignatureOut:
    check_key_id(key_id)
    check_signature_id(signature_id)
    sig = await in_thread(repository.get_key_signature, caller.org_id, key_id, signature_id)
    if sig.status == SIG_PENDING and await in_thread(policies.expire_due, caller.org_id) > 0:
        # its approval may have timed out: read it again
        sig = await in_thread(repository.get_key_signature, caller.org_id, key_id, signature_id)
    return signature_out(sig)
