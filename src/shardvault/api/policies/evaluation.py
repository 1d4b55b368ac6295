"""Evaluating the org's active policies against one activity (pure: no database).

A policy applies when every filter it has matches the activity; an applying policy
is *triggered* when its rule says so (rules fail closed: an amount or a recipient
the vault cannot read triggers). The outcome: blocked (any triggered ``Block``), or
an approval to open (the approval groups of every triggered ``RequestApproval``,
with the shortest ``autoRejectTimeout``), or nothing.

Quorum (:func:`approval_state`): a decision by a user counts for every group the
user belongs to; a group is satisfied when ``quorum`` of its members approved (the
initiator counts only where the group says ``initiatorCanApprove``); the approval
is granted when every group is satisfied, and refused by any one denial.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from shardvault.api.policies.definitions import limit_of
from shardvault.api.policies.transfers import Transfer
from shardvault.db.models import PolicyRow

__all__ = [
    "Activity",
    "Outcome",
    "can_approve",
    "evaluate",
    "groups_satisfied",
    "is_member",
    "participates",
]


@dataclass(frozen=True, slots=True)
class Activity:
    """The facts a policy looks at: the key, the wallets the request comes from (and
    their tags) and what the request moves (signatures), or the policy being changed
    (``Policies:Modify``).

    ``wallets``: ``(walletId, tags)`` of the wallet route's wallet; on the key route,
    of every wallet of the key (it signs the same chain transactions): a ``walletId``
    or ``walletTags`` filter applies when any of them matches."""

    key_id: str | None = None
    wallets: tuple[tuple[str, tuple[str, ...]], ...] = ()
    policy_id: str | None = None
    transfer: Transfer | None = None
    #: The wallet's earlier requests (with the key's key-route ones; key route: all the
    #: key's) still standing (Pending, Executing, Signed) as ``(dateRequested,
    #: transfer)``, for velocity rules; None: not read.
    recent: tuple[tuple[datetime, Transfer], ...] | None = None
    now: datetime | None = None


@dataclass(slots=True)
class Outcome:
    evaluations: list[dict[str, Any]] = field(default_factory=list)
    blocked_by: list[str] = field(default_factory=list)
    #: Approval groups of the triggered RequestApproval policies (with ``policyId``).
    groups: list[dict[str, Any]] = field(default_factory=list)
    timeout_minutes: int | None = None

    @property
    def needs_approval(self) -> bool:
        return not self.blocked_by and bool(self.groups)


def _applies(filters: dict[str, Any] | None, activity: Activity) -> bool:
    for name, condition in (filters or {}).items():
        if name == "keyId" and activity.key_id not in condition["in"]:
            return False
        if name == "walletId" and not any(w in condition["in"] for w, _ in activity.wallets):
            return False
        if name == "policyId" and activity.policy_id not in condition["in"]:
            return False
        if name == "walletTags" and not any(
            _tags_match(condition, set(tags)) for _, tags in activity.wallets
        ):
            return False
    return True


def _tags_match(condition: dict[str, Any], tags: set[str]) -> bool:
    if "hasAll" in condition and not set(condition["hasAll"]) <= tags:
        return False
    return not ("hasAny" in condition and not set(condition["hasAny"]) & tags)


def _amount_rule(config: dict[str, Any], transfer: Transfer | None) -> tuple[bool, str]:
    limit = limit_of(config)
    currency = config["currency"]
    if transfer is None or transfer.amount is None or transfer.currency != currency:
        return True, (f"the amount in {currency} cannot be read from this request (fails closed)")
    amount = f"{transfer.amount.normalize():f} {currency}"
    if transfer.amount > limit:
        return True, f"amount {amount} is above limit {limit:f} {currency}"
    return False, f"amount {amount} is within limit {limit:f} {currency}"


def _whitelist_rule(config: dict[str, Any], transfer: Transfer | None) -> tuple[bool, str]:
    if transfer is None or transfer.recipients is None:
        return True, "the recipients cannot be read from this request (fails closed)"

    def norm(address: str) -> str:
        return address if transfer.case_sensitive else address.lower()

    allowed = {norm(a) for a in config["addresses"]}
    outside = [r for r in transfer.recipients if norm(r) not in allowed]
    if outside:
        return True, f"recipient {outside[0]} is not whitelisted"
    return False, "every recipient is whitelisted"


def _within(activity: Activity, minutes: int) -> list[Transfer] | None:
    if activity.recent is None or activity.now is None:
        return None
    since = activity.now - timedelta(minutes=minutes)
    return [t for when, t in activity.recent if when >= since]


def _count_velocity(config: dict[str, Any], activity: Activity) -> tuple[bool, str]:
    recent = _within(activity, config["timeframe"])
    if recent is None:
        return True, "the recent requests cannot be read (fails closed)"
    count, limit, minutes = len(recent) + 1, config["limit"], config["timeframe"]
    if count > limit:
        return True, f"number of requests ({count}) in {minutes} min is above limit ({limit})"
    return False, f"number of requests ({count}) in {minutes} min is within limit ({limit})"


def _amount_velocity(config: dict[str, Any], activity: Activity) -> tuple[bool, str]:
    recent = _within(activity, config["timeframe"])
    currency, minutes = config["currency"], config["timeframe"]
    if recent is None or activity.transfer is None:
        return True, "the recent requests cannot be read (fails closed)"
    total = Decimal(0)
    for transfer in [*recent, activity.transfer]:
        if transfer.amount is None or transfer.currency != currency:
            return True, (
                f"the amount in {currency} of a request in the last {minutes} min cannot be "
                "read (fails closed)"
            )
        total += transfer.amount
    limit = limit_of(config)
    amount = f"{total.normalize():f} {currency}"
    if total > limit:
        return True, f"cumulative amount {amount} in {minutes} min is above limit {limit:f}"
    return False, f"cumulative amount {amount} in {minutes} min is within limit {limit:f}"


def _rule(rule: dict[str, Any], activity: Activity) -> tuple[bool, str]:
    kind = rule["kind"]
    if kind == "AlwaysTrigger":
        return True, "the rule always triggers"
    if kind == "TransactionAmountLimit":
        return _amount_rule(rule["configuration"], activity.transfer)
    if kind == "TransactionRecipientWhitelist":
        return _whitelist_rule(rule["configuration"], activity.transfer)
    if kind == "TransactionCountVelocity":
        return _count_velocity(rule["configuration"], activity)
    if kind == "TransactionAmountVelocity":
        return _amount_velocity(rule["configuration"], activity)
    return True, f"unknown rule {kind} (fails closed)"  # pragma: no cover - validated


def evaluate(policies: Iterable[PolicyRow], activity: Activity) -> Outcome:
    """Evaluate every applying policy (in id order, for a stable record)."""
    outcome = Outcome()
    for policy in sorted(policies, key=lambda p: p.id):
        if not _applies(policy.filters, activity):
            continue
        triggered, reason = _rule(policy.rule, activity)
        outcome.evaluations.append(
            {"policyId": policy.id, "triggered": triggered, "reason": reason}
        )
        if not triggered:
            continue
        action = policy.action
        if action["kind"] == "Block":
            outcome.blocked_by.append(policy.id)
            continue
        for group in action["approvalGroups"]:
            outcome.groups.append({**group, "policyId": policy.id})
        timeout = action.get("autoRejectTimeout")
        if timeout is not None and (
            outcome.timeout_minutes is None or timeout < outcome.timeout_minutes
        ):
            outcome.timeout_minutes = timeout
    return outcome


def is_member(group: dict[str, Any], user_id: str) -> bool:
    """Whether ``user_id`` is one of the group's approvers (``{}``: anyone)."""
    members = group["approvers"].get("userId")
    return members is None or user_id in members["in"]


def participates(group: dict[str, Any], user_id: str) -> bool:
    """A member who may take part in the group's decisions (approve or deny): not a
    service account (ids ``sa-``) when the group says ``serviceAccountsCanApprove:
    false``."""
    if group.get("serviceAccountsCanApprove") is False and user_id.startswith("sa-"):
        return False
    return is_member(group, user_id)


def can_approve(group: dict[str, Any], user_id: str, initiator_id: str) -> bool:
    """A member may approve, unless they initiated the activity (and the group does
    not say ``initiatorCanApprove``) or they are a service account (ids ``sa-``) and
    the group says ``serviceAccountsCanApprove: false``."""
    return participates(group, user_id) and (
        user_id != initiator_id or bool(group.get("initiatorCanApprove"))
    )


def groups_satisfied(
    groups: Sequence[dict[str, Any]], approvers: Iterable[str], initiator_id: str
) -> bool:
    """Whether every group reached its quorum with these approving users."""
    approving = set(approvers)
    return all(
        sum(1 for user in approving if can_approve(group, user, initiator_id)) >= group["quorum"]
        for group in groups
    )
