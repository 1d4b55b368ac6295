"""``/keys/{keyId}/signatures``: sign with a key (through the signing service), list
and read its signatures."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from shardvault.api.dependencies import (
    AUTHENTICATED,
    ERROR_RESPONSES,
    Caller,
    KeyId,
    Limit,
    PageToken,
    Repository,
    SignatureId,
    Signing,
)
from shardvault.api.paging import one_page, parse_page_token
from shardvault.api.repository import check_key_id, check_signature_id, in_thread
from shardvault.api.schemas import SignatureList, SignatureOut, SignatureRequest
from shardvault.api.signing import Requester
from shardvault.api.unsupported import known_query
from shardvault.api.views import signature_out

__all__ = ["router"]

router = APIRouter(
    prefix="/keys/{keyId}/signatures",
    tags=["signatures"],
    dependencies=AUTHENTICATED,
    responses=ERROR_RESPONSES,
)


@router.post("", response_model=SignatureOut, response_model_exclude_none=True)
async def create_signature(
    key_id: KeyId, body: SignatureRequest, caller: Caller, request: Request, signing: Signing
) -> SignatureOut:
    check_key_id(key_id)
    large = signing.is_large(request.headers.get("content-length"))
    signature = await signing.sign_request(
        caller.org_id, key_id, body, body.network, None, large=large, requester=Requester.of(caller)
    )
    return signature_out(signature)


@router.get(
    "",
    response_model=SignatureList,
    response_model_exclude_none=True,
    dependencies=[Depends(known_query("limit", "paginationToken"))],
)
async def list_signatures(
    key_id: KeyId,
    caller: Caller,
    repository: Repository,
    limit: Limit = 50,
    pagination_token: PageToken = None,
) -> SignatureList:
    check_key_id(key_id)
    before = parse_page_token(pagination_token, "sig")
    rows = await in_thread(repository.list_signatures, caller.org_id, key_id, before, limit + 1)
    page, next_token = one_page(rows, limit, lambda sig: sig.id)
    return SignatureList(items=[signature_out(sig) for sig in page], next_page_token=next_token)


@router.get("/{signatureId}", response_model=SignatureOut, response_model_exclude_none=True)
async def get_signature(
    key_id: KeyId, signature_id: SignatureId, caller: Caller, repository: Repository
) -> SignatureOut:
    check_key_id(key_id)
    check_signature_id(signature_id)
    return signature_out(
        await in_thread(repository.get_key_signature, caller.org_id, key_id, signature_id)
    )
