"""Policies on ``Keys:Export``, ``Keys:Import`` and ``Wallets:Create``: a triggered
Block answers 403 ``PolicyBlocked``; a triggered RequestApproval answers **202** with
a change request (``{id, kind, operationKind, status: "Pending", requester,
entityId?, approvalId, dateCreated, body}``) and runs nothing. Once the approval is
granted, the initiator repeats the same request: it goes through, once (the
approval is then used up; a later repeat asks again).

"The same request" is a SHA-256 over the activity kind and what the approvers were
shown (``body`` of the change request), in the canonical JSON of user actions
(protocols/user_action.py): for an export the key, the recipient's
``encryptionKey`` and ``supportedSchemes``; for an import the protocol, curve, name
and exportability (not the one-time ``importId`` nor the sealed shares, which a
retry after a long approval must renew); for a wallet the whole request.
"""

from __future__ import annotations

import hashlib
from typing import Any

from fastapi.responses import JSONResponse

from shardvault.api.audit import AuditContext
from shardvault.api.auth import Principal
from shardvault.api.errors import ApiError
from shardvault.api.policies.evaluation import Activity, evaluate
from shardvault.api.policies.store import PolicyStore, new_approval
from shardvault.api.policies.views import change_request_out
from shardvault.api.repository import in_thread
from shardvault.protocols.user_action import canonical_json

__all__ = ["hold_for_approval"]

_OPERATIONS = {"Keys:Export": "Export", "Keys:Import": "Import", "Wallets:Create": "Create"}


async def hold_for_approval(
    policies: PolicyStore,
    caller: Principal,
    kind: str,
    body: dict[str, Any],
    *,
    key_id: str | None = None,
    audit: AuditContext,
) -> JSONResponse | None:
    """None: go ahead (no policy triggered, or a granted approval for this very
    request is used now). Else the 202 answer; 403 ``PolicyBlocked`` for a Block."""
    active = await in_thread(policies.active_policies, caller.org_id, [kind])
    if not active:
        return None
    outcome = evaluate(active, Activity(key_id=key_id))
    if outcome.blocked_by:
        raise ApiError(
            403,
            "PolicyBlocked",
            f"policy {outcome.blocked_by[0]} blocks this request ({kind})",
            details={"policyIds": outcome.blocked_by, "evaluations": outcome.evaluations},
        )
    if not outcome.needs_approval:
        return None
    fingerprint = hashlib.sha256(canonical_json([kind, body])).hexdigest()[:40]
    change: dict[str, Any] = {
        "kind": kind,
        "operationKind": _OPERATIONS[kind],
        "requester": {"userId": caller.user_id, "tokenId": caller.token_id},
        "body": body,
    }
    if key_id is not None:
        change["entityId"] = key_id
    approval = new_approval(caller.org_id, caller.user_id, kind, outcome)
    held = await in_thread(
        policies.hold_request, caller.org_id, approval, fingerprint, change, audit=audit
    )
    if held is None:
        return None
    return JSONResponse(status_code=202, content=change_request_out(held))
