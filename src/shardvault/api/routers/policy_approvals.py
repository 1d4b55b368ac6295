"""``/v2/policy-approvals``: the approvals triggered policies opened (list with
filters, read) and the decisions on them (Dfns's paths and shapes). The decision that
completes every group's quorum runs the activity it held back: a signature is signed
here, once (api/policies/store.py), before the approval is answered."""

from __future__ import annotations

import logging
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query

from shardvault.api.dependencies import (
    AUTHENTICATED,
    ERROR_RESPONSES,
    Audit,
    Caller,
    Limit,
    PageToken,
    Policies,
    Signing,
)
from shardvault.api.errors import ApiError
from shardvault.api.paging import one_page, parse_page_token
from shardvault.api.permissions import require_permission
from shardvault.api.policies.store import ApprovalView
from shardvault.api.policies.views import approval_out
from shardvault.api.repository import in_thread
from shardvault.api.schemas import ApprovalDecisionRequest, ApprovalList, ApprovalOut

__all__ = ["router"]

logger = logging.getLogger("shardvault.api")

router = APIRouter(
    prefix="/v2/policy-approvals",
    tags=["policies"],
    dependencies=AUTHENTICATED,
    responses=ERROR_RESPONSES,
)

ApprovalId = Annotated[str, Path(alias="approvalId", max_length=64)]
UserIdQuery = Annotated[str | None, Query(min_length=1, max_length=64)]


@router.get(
    "",
    response_model=ApprovalList,
    response_model_exclude_none=True,
    dependencies=[require_permission("Policies:Approvals:Read")],
)
async def list_approvals(
    caller: Caller,
    policies: Policies,
    limit: Limit = 50,
    pagination_token: PageToken = None,
    status: Annotated[Literal["Pending", "Approved", "Denied", "Expired"] | None, Query()] = None,
    initiator_id: Annotated[str | None, Query(alias="initiatorId", max_length=64)] = None,
    approver_id: Annotated[str | None, Query(alias="approverId", max_length=64)] = None,
) -> Any:
    before = parse_page_token(pagination_token, "ap")
    views = await in_thread(
        policies.list_approvals,
        caller.org_id,
        status=status,
        initiator_id=initiator_id,
        approver_id=approver_id,
        before_id=before,
        limit=limit + 1,
    )
    page, next_token = one_page(views, limit, lambda v: v.approval.id)
    out: dict[str, Any] = {"items": [approval_out(v) for v in page]}
    if next_token is not None:
        out["nextPageToken"] = next_token
    return out


@router.get(
    "/{approvalId}",
    response_model=ApprovalOut,
    response_model_exclude_none=True,
    dependencies=[require_permission("Policies:Approvals:Read")],
)
async def get_approval(approval_id: ApprovalId, caller: Caller, policies: Policies) -> Any:
    return approval_out(await in_thread(policies.get_approval, caller.org_id, approval_id))


@router.post(
    "/{approvalId}/decisions",
    response_model=ApprovalOut,
    response_model_exclude_none=True,
    dependencies=[require_permission("Policies:Approvals:Approve")],
)
async def create_decision(
    approval_id: ApprovalId,
    body: ApprovalDecisionRequest,
    caller: Caller,
    policies: Policies,
    signing: Signing,
    audit: Audit,
) -> Any:
    decided = await in_thread(
        policies.decide,
        caller.org_id,
        approval_id,
        caller.user_id,
        body.value,
        body.reason,
        audit=audit,
    )
    view: ApprovalView = decided.view
    if decided.execute is not None:
        sig, key = decided.execute
        try:
            await signing.execute_approved(sig, key, audit.in_org(key.org_id))
        except ApiError as exc:  # stored on the signature (Failed); the decision stands
            logger.warning("approved signature %s failed: %s", sig.id, exc.code)
        view = await in_thread(policies.get_approval, caller.org_id, approval_id)
    return approval_out(view)
