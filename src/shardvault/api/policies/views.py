"""The policy engine's answers, in Dfns's shapes: policies, approvals (with the
activity they hold back: ``{kind: "Wallets:Sign", signatureRequest}`` or ``{kind:
"Policies:Modify", changeRequest}``) and change requests."""

from __future__ import annotations

from typing import Any

from shardvault.api.encoding import iso_utc
from shardvault.api.policies.definitions import WALLETS_SIGN
from shardvault.api.policies.store import ApprovalView
from shardvault.api.views import signature_out
from shardvault.db.models import PolicyApprovalRow, PolicyRow

__all__ = ["approval_out", "change_request_out", "policy_out"]


def policy_out(policy: PolicyRow, pending: PolicyApprovalRow | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": policy.id,
        "name": policy.name,
        "activityKind": policy.activity_kind,
        "status": policy.status,
        "rule": policy.rule,
        "action": policy.action,
        "dateCreated": iso_utc(policy.date_created),
        "dateUpdated": iso_utc(policy.date_updated),
    }
    if policy.filters is not None:
        out["filters"] = policy.filters
    if pending is not None and pending.change is not None:
        out["pendingChangeRequest"] = change_request_out(pending)
    return out


def change_request_out(approval: PolicyApprovalRow) -> dict[str, Any]:
    return dict(approval.change or {})


def approval_out(view: ApprovalView) -> dict[str, Any]:
    approval = view.approval
    activity: dict[str, Any]
    if approval.activity_kind != WALLETS_SIGN:
        activity = {"kind": approval.activity_kind, "changeRequest": change_request_out(approval)}
    else:
        activity = {"kind": WALLETS_SIGN}
        if view.signature is not None:
            activity["signatureRequest"] = signature_out(view.signature).model_dump(
                by_alias=True, exclude_none=True
            )
    out: dict[str, Any] = {
        "id": approval.id,
        "initiatorId": approval.initiator_id,
        "activity": activity,
        "status": approval.status,
        "dateCreated": iso_utc(approval.date_created),
        "dateUpdated": iso_utc(approval.date_updated),
        "policyEvaluations": list(approval.policy_evaluations),
        "decisions": [
            {
                "userId": d.user_id,
                "date": iso_utc(d.date),
                "reason": d.reason,
                "value": d.value,
            }
            for d in view.decisions
        ],
    }
    if approval.expiration_date is not None:
        out["expirationDate"] = iso_utc(approval.expiration_date)
    if approval.date_resolved is not None:
        out["dateResolved"] = iso_utc(approval.date_resolved)
    return out
