"""``/v2/policies``: create, list, read, update and archive approval policies (Dfns's
paths and shapes). An update or archive that a ``Policies:Modify`` policy holds for
approval answers 202 with the policy change request (``approvalId``); it is applied
when the approval is granted."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Response

from shardvault.api.audit import AuditContext
from shardvault.api.dependencies import (
    AUTHENTICATED,
    ERROR_RESPONSES,
    Audit,
    Caller,
    Limit,
    PageToken,
    Policies,
)
from shardvault.api.paging import one_page, parse_page_token
from shardvault.api.permissions import require_permission
from shardvault.api.policies.definitions import POLICIES_MODIFY, validate_policy
from shardvault.api.policies.evaluation import Activity, evaluate
from shardvault.api.policies.store import PolicyStore, new_approval
from shardvault.api.policies.views import change_request_out, policy_out
from shardvault.api.repository import in_thread
from shardvault.api.schemas import ChangeRequestOut, PolicyList, PolicyOut, PolicyRequest

__all__ = ["router"]

router = APIRouter(
    prefix="/v2/policies", tags=["policies"], dependencies=AUTHENTICATED, responses=ERROR_RESPONSES
)

PolicyId = Annotated[str, Path(alias="policyId", max_length=64)]
_PENDING: dict[int | str, dict[str, Any]] = {
    202: {
        "model": ChangeRequestOut,
        "description": "a Policies:Modify policy asks for approval: the change request",
    }
}


def _definition(body: PolicyRequest) -> Any:
    return validate_policy(body.name, body.activity_kind, body.rule, body.action, body.filters)


@router.post(
    "",
    response_model=PolicyOut,
    response_model_exclude_none=True,
    dependencies=[require_permission("Policies:Create")],
)
async def create_policy(
    body: PolicyRequest, caller: Caller, policies: Policies, audit: Audit
) -> Any:
    definition = _definition(body)
    return policy_out(
        await in_thread(policies.create_policy, caller.org_id, definition, audit=audit)
    )


@router.get(
    "",
    response_model=PolicyList,
    response_model_exclude_none=True,
    dependencies=[require_permission("Policies:Read")],
)
async def list_policies(
    caller: Caller,
    policies: Policies,
    limit: Limit = 50,
    pagination_token: PageToken = None,
    status: Annotated[Literal["Active", "Archived"] | None, Query()] = None,
) -> Any:
    before = parse_page_token(pagination_token, "plc")
    rows = await in_thread(policies.list_policies, caller.org_id, status, before, limit + 1)
    page, next_token = one_page(rows, limit, lambda p: p.id)
    out: dict[str, Any] = {"items": [policy_out(p) for p in page]}
    if next_token is not None:
        out["nextPageToken"] = next_token
    return out


@router.get(
    "/{policyId}",
    response_model=PolicyOut,
    response_model_exclude_none=True,
    dependencies=[require_permission("Policies:Read")],
)
async def get_policy(
    policy_id: PolicyId,
    caller: Caller,
    policies: Policies,
) -> Any:
    policy, pending = await in_thread(policies.get_policy, caller.org_id, policy_id)
    return policy_out(policy, pending)


async def _change(
    policies: PolicyStore,
    caller: Caller,
    response: Response,
    policy_id: str,
    operation: str,
    body: dict[str, Any] | None,
    audit: AuditContext,
) -> Any:
    """Apply the change now, or hold it for a triggered Policies:Modify policy (202)."""
    await in_thread(policies.get_policy, caller.org_id, policy_id)  # 404 first
    active = await in_thread(policies.active_policies, caller.org_id, [POLICIES_MODIFY])
    outcome = evaluate(active, Activity(policy_id=policy_id))
    approval = (
        new_approval(caller.org_id, caller.user_id, POLICIES_MODIFY, outcome)
        if outcome.needs_approval
        else None
    )
    requester = {"userId": caller.user_id, "tokenId": caller.token_id}
    policy, held = await in_thread(
        policies.change_policy,
        caller.org_id,
        policy_id,
        operation,
        body,
        approval,
        requester,
        audit=audit,
    )
    if held is not None:
        response.status_code = 202
        return change_request_out(held)
    return policy_out(policy)


@router.put(
    "/{policyId}",
    response_model=PolicyOut | ChangeRequestOut,
    response_model_exclude_none=True,
    responses=_PENDING,
    dependencies=[require_permission("Policies:Update")],
)
async def update_policy(
    policy_id: PolicyId,
    body: PolicyRequest,
    caller: Caller,
    response: Response,
    policies: Policies,
    audit: Audit,
) -> Any:
    definition = _definition(body)
    new_body: dict[str, Any] = {
        "name": definition.name,
        "activityKind": definition.activity_kind,
        "rule": definition.rule,
        "action": definition.action,
    }
    if definition.filters is not None:
        new_body["filters"] = definition.filters
    return await _change(policies, caller, response, policy_id, "Update", new_body, audit)


@router.delete(
    "/{policyId}",
    response_model=PolicyOut | ChangeRequestOut,
    response_model_exclude_none=True,
    responses=_PENDING,
    dependencies=[require_permission("Policies:Archive")],
)
async def archive_policy(
    policy_id: PolicyId,
    caller: Caller,
    response: Response,
    policies: Policies,
    audit: Audit,
) -> Any:
    return await _change(policies, caller, response, policy_id, "Delete", None, audit)
