"""The audit rows of policy approvals (docs/governance-audit.md): an approval opened
(``Policies:Approvals:Create``, Pending: it finishes in its resolution row) and
resolved (``Policies:Approvals:Resolve``: granted, denied or expired). Each is
appended in the transaction that stores the approval's change, by the policy store
and by the signature claim that holds a request back."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from shardvault.api.audit import PENDING, REFUSED, SUCCESS, AuditContext, append
from shardvault.api.encoding import iso_utc
from shardvault.db.models import APPROVAL_APPROVED, APPROVAL_DENIED, PolicyApprovalRow

__all__ = ["APPROVAL_OPENED", "APPROVAL_RESOLVED", "append_opened", "append_resolved"]

APPROVAL_OPENED = "Policies:Approvals:Create"
APPROVAL_RESOLVED = "Policies:Approvals:Resolve"

#: Error code of a resolution that rejects what the approval held back.
_REFUSAL_CODES = {APPROVAL_DENIED: "PolicyDenied"}
_EXPIRED_CODE = "ApprovalExpired"


def append_opened(s: Session, audit: AuditContext, approval: PolicyApprovalRow) -> str:
    """The row of a Pending approval just stored (``approval.entity_id`` set): what it
    holds back, the policies that triggered it and when it expires."""
    details: dict[str, Any] = {
        "activityKind": approval.activity_kind,
        "entityId": approval.entity_id,
        "initiatorId": approval.initiator_id,
        "policyIds": [e["policyId"] for e in approval.policy_evaluations if e.get("triggered")],
    }
    if approval.expiration_date is not None:
        details["expirationDate"] = iso_utc(approval.expiration_date)
    change = approval.change or {}
    if "id" in change:
        details["changeRequestId"] = change["id"]
    return append(
        s,
        audit.in_org(approval.org_id),
        action=APPROVAL_OPENED,
        target_id=approval.id,
        result=PENDING,
        details=details,
    )


def append_resolved(
    s: Session, audit: AuditContext, approval: PolicyApprovalRow, **extra: Any
) -> str:
    """The row of an approval just resolved (its ``status`` Approved, Denied or
    Expired): ``Success`` for a grant, ``Refused`` (``PolicyDenied`` /
    ``ApprovalExpired``, no HTTP status: the held activity is refused, not the
    request that resolved it) otherwise; ``extra`` adds details (the change's or the
    signature's new status)."""
    granted = approval.status == APPROVAL_APPROVED
    details: dict[str, Any] = {
        "status": approval.status,
        "activityKind": approval.activity_kind,
        "entityId": approval.entity_id,
        **extra,
    }
    change = approval.change or {}
    if "status" in change:
        details["changeStatus"] = change["status"]
    return append(
        s,
        audit.in_org(approval.org_id),
        action=APPROVAL_RESOLVED,
        target_id=approval.id,
        result=SUCCESS if granted else REFUSED,
        error_code=None if granted else _REFUSAL_CODES.get(approval.status, _EXPIRED_CODE),
        details=details,
    )
