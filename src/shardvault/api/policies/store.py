"""The policy engine's database operations (:class:`PolicyStore`): policies, approvals
and decisions, over the API repository's engine (short transactions, run in worker
threads by the routes).

Exactly once: a decision locks its approval row (``SELECT ... FOR UPDATE`` on
PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite) and a user's decision is UNIQUE per
approval; the decision that grants the approval moves its signature from Pending to
Executing with a conditional ``UPDATE ... WHERE status = 'Pending'`` (leased to this
process, as any claim), so however many decisions race, one process signs once. A
policy change is applied inside the granting transaction itself.

Expiry: an approval past its ``expirationDate`` is Expired (and its signature
Rejected) by :meth:`PolicyStore.expire_due`, run before every approval read and
decision (lazily) and by the app's background sweep.

Audit (docs/governance-audit.md): every change here appends its rows in its own
transaction, after the transaction's row locks: policies created, updated and
archived, a change held for approval (Pending) with the approval opened, each
decision, and the resolution (granted, denied, or expired by the vault).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shardvault.api.approval_audit import append_opened, append_resolved
from shardvault.api.audit import FAILURE, PENDING, AuditContext, append
from shardvault.api.encoding import iso_utc
from shardvault.api.errors import ApiError
from shardvault.api.paging import newest_first
from shardvault.api.policies.definitions import (
    POLICIES_MODIFY,
    RETRIED_KINDS,
    WALLETS_SIGN,
    PolicyDefinition,
)
from shardvault.api.policies.evaluation import (
    Outcome,
    can_approve,
    groups_satisfied,
    participates,
)
from shardvault.api.repository import ApiRepository, check_signable
from shardvault.db.ids import is_id, new_id
from shardvault.db.models import (
    APPROVAL_APPROVED,
    APPROVAL_DENIED,
    APPROVAL_EXPIRED,
    APPROVAL_PENDING,
    POLICY_ACTIVE,
    POLICY_ARCHIVED,
    SIG_EXECUTING,
    SIG_FAILED,
    SIG_PENDING,
    SIG_REJECTED,
    SIG_SIGNED,
    DecisionRow,
    KeyRow,
    PolicyApprovalRow,
    PolicyRow,
    SignatureRow,
    utcnow,
)

__all__ = [
    "ApprovalView",
    "Decided",
    "PolicyStore",
    "approval_not_found",
    "policy_not_found",
]


def policy_not_found(policy_id: str) -> ApiError:
    return ApiError(404, "PolicyNotFound", f"policy {policy_id} not found")


def approval_not_found(approval_id: str) -> ApiError:
    return ApiError(404, "ApprovalNotFound", f"approval {approval_id} not found")


@dataclass(frozen=True, slots=True)
class ApprovalView:
    """An approval with what its answer shows: its decisions and the signature it
    holds back (``Wallets:Sign``)."""

    approval: PolicyApprovalRow
    decisions: list[DecisionRow]
    signature: SignatureRow | None


@dataclass(frozen=True, slots=True)
class Decided:
    """After a decision: the approval, and the signature this process must now sign
    (the approval was granted and this decision moved it to Executing)."""

    view: ApprovalView
    execute: tuple[SignatureRow, KeyRow] | None


def new_approval(
    org_id: str, initiator_id: str, activity_kind: str, outcome: Outcome
) -> PolicyApprovalRow:
    """A Pending approval for the outcome's groups (``entity_id`` set by the caller)."""
    now = utcnow()
    return PolicyApprovalRow(
        id=new_id("ap"),
        org_id=org_id,
        initiator_id=initiator_id,
        activity_kind=activity_kind,
        status=APPROVAL_PENDING,
        entity_id="",
        change=None,
        groups=outcome.groups,
        policy_evaluations=outcome.evaluations,
        expiration_date=(
            now + timedelta(minutes=outcome.timeout_minutes)
            if outcome.timeout_minutes is not None
            else None
        ),
        date_created=now,
        date_updated=now,
        date_resolved=None,
    )


class PolicyStore:
    """Policies and approvals over the API repository's engine; signatures granted
    here are leased to that repository's process (``owner``)."""

    def __init__(self, repository: ApiRepository) -> None:
        self._repository = repository
        self._read = repository.read_sessions
        self._write = repository.write_sessions

    # -- policies ----------------------------------------------------------------
    @staticmethod
    def _policy(s: Session, org_id: str, policy_id: str, *, lock: bool = False) -> PolicyRow:
        if not is_id(policy_id, "plc"):
            raise policy_not_found(policy_id)
        stmt = select(PolicyRow).where(PolicyRow.id == policy_id, PolicyRow.org_id == org_id)
        if lock:
            stmt = stmt.with_for_update()
        policy = s.scalars(stmt).one_or_none()
        if policy is None:
            raise policy_not_found(policy_id)
        return policy

    def create_policy(
        self, org_id: str, definition: PolicyDefinition, *, audit: AuditContext
    ) -> PolicyRow:
        """A new Active policy, audited ``Policies:Create``."""
        now = utcnow()
        policy = PolicyRow(
            id=new_id("plc"),
            org_id=org_id,
            name=definition.name,
            activity_kind=definition.activity_kind,
            status=POLICY_ACTIVE,
            rule=definition.rule,
            action=definition.action,
            filters=definition.filters,
            date_created=now,
            date_updated=now,
        )
        with self._write.begin() as s:
            s.add(policy)
            s.flush()
            append(
                s,
                audit,
                action="Policies:Create",
                target_id=policy.id,
                details=_definition_details(policy),
            )
        return policy

    def get_policy(self, org_id: str, policy_id: str) -> tuple[PolicyRow, PolicyApprovalRow | None]:
        """The policy and the approval of a change to it that is still pending."""
        self.expire_due(org_id)
        with self._read() as s:
            policy = self._policy(s, org_id, policy_id)
            pending = s.scalars(
                select(PolicyApprovalRow).where(
                    PolicyApprovalRow.entity_id == policy_id,
                    PolicyApprovalRow.activity_kind == POLICIES_MODIFY,
                    PolicyApprovalRow.status == APPROVAL_PENDING,
                )
            ).first()
            return policy, pending

    def list_policies(
        self, org_id: str, status: str | None, before_id: str | None, limit: int
    ) -> list[PolicyRow]:
        stmt = select(PolicyRow).where(PolicyRow.org_id == org_id)
        if status is not None:
            stmt = stmt.where(PolicyRow.status == status)
        with self._read() as s:
            return list(s.scalars(newest_first(stmt, PolicyRow.id, before_id, limit)))

    def active_policies(self, org_id: str, kinds: Iterable[str]) -> list[PolicyRow]:
        with self._read() as s:
            return list(
                s.scalars(
                    select(PolicyRow).where(
                        PolicyRow.org_id == org_id,
                        PolicyRow.activity_kind.in_(list(kinds)),
                        PolicyRow.status == POLICY_ACTIVE,
                    )
                )
            )

    def recent_signatures(
        self, key_id: str, wallet_id: str | None, since: datetime
    ) -> list[SignatureRow]:
        """The wallet's requests and the key's through the key route (which signs for
        every wallet of the key), or without a wallet all the key's requests, since
        ``since`` that still stand (Pending, Executing, Signed), for velocity rules."""
        stmt = select(SignatureRow).where(
            SignatureRow.key_id == key_id,
            SignatureRow.date_requested >= since,
            SignatureRow.status.in_([SIG_PENDING, SIG_EXECUTING, SIG_SIGNED]),
        )
        if wallet_id is not None:
            stmt = stmt.where(
                or_(SignatureRow.wallet_id == wallet_id, SignatureRow.wallet_id.is_(None))
            )
        with self._read() as s:
            return list(s.scalars(stmt))

    @staticmethod
    def _apply(policy: PolicyRow, operation: str, body: dict[str, Any] | None) -> None:
        if policy.status != POLICY_ACTIVE:
            raise ApiError(
                409, "PolicyArchived", f"policy {policy.id} is archived and cannot change"
            )
        if operation == "Delete":
            policy.status = POLICY_ARCHIVED
        else:
            assert body is not None
            policy.name = body["name"]
            policy.activity_kind = body["activityKind"]
            policy.rule = body["rule"]
            policy.action = body["action"]
            policy.filters = body.get("filters")
        policy.date_updated = utcnow()

    def change_policy(
        self,
        org_id: str,
        policy_id: str,
        operation: str,
        body: dict[str, Any] | None,
        approval: PolicyApprovalRow | None,
        requester: dict[str, str],
        *,
        audit: AuditContext,
    ) -> tuple[PolicyRow, PolicyApprovalRow | None]:
        """Update (``body``: the new definition, camelCase) or archive (``Delete``) the
        policy now, audited ``Policies:Update`` / ``Policies:Archive``; or, with an
        ``approval``, store the change request it holds back, audited as that action,
        Pending, with the approval opened."""
        with self._write.begin() as s:
            policy = self._policy(s, org_id, policy_id, lock=True)
            if approval is None:
                previous = _definition_details(policy)
                self._apply(policy, operation, body)
                s.flush()
                _append_applied(s, audit, policy, operation, previous)
                return policy, None
            if policy.status != POLICY_ACTIVE:
                raise ApiError(
                    409, "PolicyArchived", f"policy {policy.id} is archived and cannot change"
                )
            approval.entity_id = policy_id
            approval.change = {
                "id": new_id("cr"),
                "kind": "Policy",
                "operationKind": operation,
                "status": "Pending",
                "requester": requester,
                "entityId": policy_id,
                "approvalId": approval.id,
                "dateCreated": iso_utc(approval.date_created),
                "body": body if body is not None else {},
            }
            s.add(approval)
            s.flush()
            append(
                s,
                audit,
                action=_POLICY_ACTIONS[operation],
                target_id=policy_id,
                result=PENDING,
                details={
                    "approvalId": approval.id,
                    "changeRequestId": approval.change["id"],
                    "operationKind": operation,
                    **({} if body is None else {"body": body}),
                },
            )
            append_opened(s, audit, approval)
            return policy, approval

    def hold_request(
        self,
        org_id: str,
        approval: PolicyApprovalRow,
        fingerprint: str,
        change: dict[str, Any],
        *,
        audit: AuditContext,
    ) -> PolicyApprovalRow | None:
        """For a request a policy holds (``Keys:Export``, ``Keys:Import``,
        ``Wallets:Create``): None when an approval granted to this initiator for this
        very request (``fingerprint``) is unused (it is used now: the request goes
        through, once); else the Pending approval already open for it, or ``approval``,
        stored now with ``change`` (what is asked), audited as the request's action,
        Pending, with the approval opened. Using a granted approval is audited as the
        request's action, Pending (``changeStatus`` Applied): the request's own rows
        follow."""
        with self._write.begin() as s:
            rows = s.scalars(
                select(PolicyApprovalRow)
                .where(
                    PolicyApprovalRow.org_id == org_id,
                    PolicyApprovalRow.activity_kind == approval.activity_kind,
                    PolicyApprovalRow.initiator_id == approval.initiator_id,
                    PolicyApprovalRow.entity_id == fingerprint,
                    PolicyApprovalRow.status.in_([APPROVAL_PENDING, APPROVAL_APPROVED]),
                )
                .order_by(PolicyApprovalRow.id)
                .with_for_update()
            ).all()
            for row in rows:
                if row.status == APPROVAL_APPROVED and (row.change or {}).get("status") == (
                    "Approved"
                ):
                    used = dict(row.change or {})
                    used["status"] = "Applied"
                    used["dateResolved"] = iso_utc(utcnow())
                    row.change = used
                    row.date_updated = utcnow()
                    s.flush()
                    append(
                        s,
                        audit,
                        action=row.activity_kind,
                        target_id=used.get("entityId"),
                        result=PENDING,
                        details={
                            "approvalId": row.id,
                            "changeRequestId": used.get("id"),
                            "changeStatus": "Applied",
                        },
                    )
                    return None
            for row in rows:
                if row.status == APPROVAL_PENDING:
                    return row
            approval.entity_id = fingerprint
            approval.change = {
                "id": new_id("cr"),
                **change,
                "status": "Pending",
                "approvalId": approval.id,
                "dateCreated": iso_utc(approval.date_created),
            }
            s.add(approval)
            s.flush()
            append(
                s,
                audit,
                action=approval.activity_kind,
                target_id=change.get("entityId"),
                result=PENDING,
                details={"approvalId": approval.id, "changeRequestId": approval.change["id"]},
            )
            append_opened(s, audit, approval)
            return approval

    # -- approvals ---------------------------------------------------------------
    def _view(self, s: Session, approval: PolicyApprovalRow) -> ApprovalView:
        decisions = list(
            s.scalars(
                select(DecisionRow)
                .where(DecisionRow.approval_id == approval.id)
                .order_by(DecisionRow.id)
            )
        )
        signature = (
            s.get(SignatureRow, approval.entity_id)
            if approval.activity_kind == WALLETS_SIGN
            else None
        )
        return ApprovalView(approval, decisions, signature)

    @staticmethod
    def _approval(
        s: Session, org_id: str, approval_id: str, *, lock: bool = False
    ) -> PolicyApprovalRow:
        if not is_id(approval_id, "ap"):
            raise approval_not_found(approval_id)
        stmt = select(PolicyApprovalRow).where(
            PolicyApprovalRow.id == approval_id, PolicyApprovalRow.org_id == org_id
        )
        if lock:
            stmt = stmt.with_for_update()
        approval = s.scalars(stmt).one_or_none()
        if approval is None:
            raise approval_not_found(approval_id)
        return approval

    def get_approval(self, org_id: str, approval_id: str) -> ApprovalView:
        self.expire_due(org_id)
        with self._read() as s:
            return self._view(s, self._approval(s, org_id, approval_id))

    def list_approvals(
        self,
        org_id: str,
        *,
        status: str | None,
        initiator_id: str | None,
        approver_id: str | None,
        before_id: str | None,
        limit: int,
    ) -> list[ApprovalView]:
        """Newest first; ``approver_id``: approvals that user may decide on (a member
        of one of its groups who is not the initiator, or who may approve their own)."""
        self.expire_due(org_id)
        stmt = select(PolicyApprovalRow).where(PolicyApprovalRow.org_id == org_id)
        if status is not None:
            stmt = stmt.where(PolicyApprovalRow.status == status)
        if initiator_id is not None:
            stmt = stmt.where(PolicyApprovalRow.initiator_id == initiator_id)
        found: list[ApprovalView] = []
        with self._read() as s:
            while len(found) < limit:
                rows = list(s.scalars(newest_first(stmt, PolicyApprovalRow.id, before_id, 200)))
                for row in rows:
                    if approver_id is None or any(
                        can_approve(g, approver_id, row.initiator_id) for g in row.groups
                    ):
                        found.append(self._view(s, row))
                        if len(found) == limit:
                            break
                if len(rows) < 200:
                    break
                before_id = rows[-1].id
        return found

    def decide(
        self,
        org_id: str,
        approval_id: str,
        user_id: str,
        value: str,
        reason: str | None,
        *,
        audit: AuditContext,
    ) -> Decided:
        """Record ``user_id``'s decision; 404 ``ApprovalNotFound``, 409
        ``ApprovalResolved`` (no longer Pending), 409 ``AlreadyDecided``, 403
        ``InitiatorCannotApprove``, 403 ``NotAnApprover``. A denial rejects the
        activity at once; the approval that completes every group's quorum grants it.
        Audited ``Policies:Approvals:Approve`` (``value``: Approved or Denied), then
        the resolution it brings (and a policy change it applies)."""
        self.expire_due(org_id)
        try:
            return self._decide(org_id, approval_id, user_id, value, reason, audit)
        except IntegrityError:  # a concurrent decision by the same user won
            raise _already_decided(approval_id) from None

    def _decide(
        self,
        org_id: str,
        approval_id: str,
        user_id: str,
        value: str,
        reason: str | None,
        audit: AuditContext,
    ) -> Decided:
        with self._write.begin() as s:
            approval = self._approval(s, org_id, approval_id, lock=True)
            if approval.status != APPROVAL_PENDING:
                raise ApiError(
                    409,
                    "ApprovalResolved",
                    f"approval {approval_id} is {approval.status}: it takes no more decisions",
                    details={"status": approval.status},
                )
            decisions = list(
                s.scalars(select(DecisionRow).where(DecisionRow.approval_id == approval.id))
            )
            if any(d.user_id == user_id for d in decisions):
                raise _already_decided(approval_id)
            groups = approval.groups
            initiator = approval.initiator_id
            if value == APPROVAL_APPROVED:
                if user_id == initiator and not any(
                    can_approve(g, user_id, initiator) for g in groups
                ):
                    raise ApiError(
                        403,
                        "InitiatorCannotApprove",
                        "the initiator of an activity cannot approve it (they may deny it)",
                        details={"approvalId": approval_id},
                    )
                if not any(can_approve(g, user_id, initiator) for g in groups):
                    raise _not_an_approver(approval_id)
            elif user_id != initiator and not any(participates(g, user_id) for g in groups):
                raise _not_an_approver(approval_id)
            now = utcnow()
            s.add(
                DecisionRow(
                    approval_id=approval.id,
                    user_id=user_id,
                    value=value,
                    reason=reason,
                    date=now,
                )
            )
            s.flush()
            approval.date_updated = now
            execute: tuple[SignatureRow, KeyRow] | None = None
            # Appended last, after every row lock this transaction takes.
            rows: list[Callable[[], object]] = [
                lambda: append(
                    s,
                    audit,
                    action="Policies:Approvals:Approve",
                    target_id=approval_id,
                    details={"value": value, "reason": reason},
                )
            ]
            if value == APPROVAL_DENIED:
                extra = self._resolve(
                    s, approval, APPROVAL_DENIED, "PolicyDenied", reason or "denied"
                )
                rows.append(lambda: append_resolved(s, audit, approval, **extra))
            elif groups_satisfied(
                groups,
                [d.user_id for d in decisions if d.value == APPROVAL_APPROVED] + [user_id],
                initiator,
            ):
                execute = self._grant(s, approval, audit, rows)
            s.flush()
            for row in rows:
                row()
            return Decided(self._view(s, approval), execute)

    def _grant(
        self,
        s: Session,
        approval: PolicyApprovalRow,
        audit: AuditContext,
        rows: list[Callable[[], object]],
    ) -> tuple[SignatureRow, KeyRow] | None:
        """Grant the approval; adds its audit rows (the resolution, a policy change it
        applies) to ``rows``."""
        now = utcnow()
        approval.status = APPROVAL_APPROVED
        approval.date_resolved = now
        if approval.activity_kind in RETRIED_KINDS:
            # Granted: the initiator's repeat of the same request goes through, once.
            change = dict(approval.change or {})
            change["status"] = "Approved"
            approval.change = change
            rows.append(lambda: append_resolved(s, audit, approval))
            return None
        if approval.activity_kind == POLICIES_MODIFY:
            change = dict(approval.change or {})
            operation = change["operationKind"]
            try:
                policy = self._policy(s, approval.org_id, approval.entity_id, lock=True)
                previous = _definition_details(policy)
                self._apply(policy, operation, change.get("body") or None)
                change["status"] = "Applied"
                rows.append(lambda: _append_applied(s, audit, policy, operation, previous))
            except ApiError as exc:
                change["status"] = "Failed"
                failure = exc
                rows.append(
                    lambda: append(
                        s,
                        audit.in_org(approval.org_id),
                        action=_POLICY_ACTIONS[operation],
                        target_id=approval.entity_id,
                        result=FAILURE,
                        status=failure.status,
                        error_code=failure.code,
                        details={"approvalId": approval.id},
                    )
                )
            change["dateResolved"] = iso_utc(now)
            approval.change = change
            rows.append(lambda: append_resolved(s, audit, approval))
            return None
        repository = self._repository
        claimed = s.execute(
            update(SignatureRow)
            .where(SignatureRow.id == approval.entity_id, SignatureRow.status == SIG_PENDING)
            .values(
                status=SIG_EXECUTING,
                lease_owner=repository.owner,
                lease_expires=now + timedelta(seconds=repository.lease_seconds),
                date_policy_resolved=now,
            )
        )
        if getattr(claimed, "rowcount", 0) != 1:
            return None  # pragma: no cover - the approval row lock makes this unreachable
        sig = s.get_one(SignatureRow, approval.entity_id, populate_existing=True)
        key = s.get_one(KeyRow, sig.key_id)
        try:
            check_signable(s, key)
        except ApiError as exc:
            sig.status = SIG_FAILED
            sig.external_id = None
            sig.error_code, sig.error_message = exc.code, exc.message
            sig.lease_owner = sig.lease_expires = None
            failed = {"signatureStatus": SIG_FAILED, "signatureErrorCode": exc.code}
            rows.append(lambda: append_resolved(s, audit, approval, **failed))
            return None
        rows.append(lambda: append_resolved(s, audit, approval, signatureStatus=SIG_EXECUTING))
        return sig, key

    @staticmethod
    def _resolve(
        s: Session, approval: PolicyApprovalRow, status: str, code: str, reason: str
    ) -> dict[str, Any]:
        """Deny or expire: the activity is rejected, nothing runs. Returns what the
        resolution's audit row adds (the signature's new status)."""
        now = utcnow()
        approval.status = status
        approval.date_resolved = now
        approval.date_updated = now
        if approval.activity_kind != WALLETS_SIGN:
            change = dict(approval.change or {})
            change["status"] = "Rejected"
            change["dateResolved"] = iso_utc(now)
            approval.change = change
            return {}
        sig = s.get(SignatureRow, approval.entity_id, with_for_update=True)
        if sig is not None and sig.status == SIG_PENDING:
            sig.status = SIG_REJECTED
            sig.external_id = None  # a new request may reuse it (and ask again)
            sig.error_code = code
            sig.error_message = reason[:1024]
            sig.date_policy_resolved = now
            return {"signatureStatus": SIG_REJECTED}
        return {}

    def expire_due(self, org_id: str | None = None) -> int:
        """Expire every Pending approval (of ``org_id``, or all) past its expiration
        date; their activities are Rejected, each audited ``Policies:Approvals:Resolve``
        by the vault (:meth:`AuditContext.system`), whoever's request ran it. Returns
        how many."""
        now = utcnow()
        stmt = select(PolicyApprovalRow.id).where(
            PolicyApprovalRow.status == APPROVAL_PENDING,
            PolicyApprovalRow.expiration_date.is_not(None),
            PolicyApprovalRow.expiration_date <= now,
        )
        if org_id is not None:
            stmt = stmt.where(PolicyApprovalRow.org_id == org_id)
        with self._read() as s:
            due = list(s.scalars(stmt))
        if not due:
            return 0
        expired: list[tuple[PolicyApprovalRow, dict[str, Any]]] = []
        with self._write.begin() as s:
            for approval_id in due:
                approval = s.get(PolicyApprovalRow, approval_id, with_for_update=True)
                if approval is None or approval.status != APPROVAL_PENDING:
                    continue
                extra = self._resolve(
                    s, approval, APPROVAL_EXPIRED, "ApprovalExpired", "the approval timed out"
                )
                expired.append((approval, extra))
            s.flush()
            # Appended last, after every row lock (chains in a stable order).
            for approval, extra in sorted(expired, key=lambda e: (e[0].org_id, e[0].id)):
                append_resolved(s, AuditContext.system(approval.org_id), approval, **extra)
        return len(expired)


#: The action of each policy change (``operationKind``).
_POLICY_ACTIONS = {"Update": "Policies:Update", "Delete": "Policies:Archive"}


def _definition_details(policy: PolicyRow) -> dict[str, Any]:
    return {
        "name": policy.name,
        "activityKind": policy.activity_kind,
        "status": policy.status,
        "rule": policy.rule,
        "action": policy.action,
        "filters": policy.filters,
    }


def _append_applied(
    s: Session,
    audit: AuditContext,
    policy: PolicyRow,
    operation: str,
    previous: dict[str, Any],
) -> None:
    """The row of a policy change applied: the fields changed, and their previous
    values."""
    now = _definition_details(policy)
    changed = {name: value for name, value in now.items() if value != previous[name]}
    append(
        s,
        audit.in_org(policy.org_id),
        action=_POLICY_ACTIONS[operation],
        target_id=policy.id,
        details={**changed, "previous": {name: previous[name] for name in changed}},
    )


def _already_decided(approval_id: str) -> ApiError:
    return ApiError(
        409,
        "AlreadyDecided",
        "this user already decided on this approval (a user decides once)",
        details={"approvalId": approval_id},
    )


def _not_an_approver(approval_id: str) -> ApiError:
    return ApiError(
        403,
        "NotAnApprover",
        "this user is not an approver of any of the approval's groups",
        details={"approvalId": approval_id},
    )
