"""What a policy may say (``POST /v2/policies``, ``PUT /v2/policies/{policyId}``), in
Dfns's shapes, checked field by field: every refusal is a 400 naming the field.

* ``activityKind``: ``Wallets:Sign`` (Dfns's name) or its shardvault alias
  ``Keys:Signatures`` (both gate ``POST /keys/{keyId}/signatures`` and ``POST
  /wallets/{walletId}/signatures``), ``Policies:Modify`` (updating or archiving a
  policy), and shardvault's ``Keys:Export``, ``Keys:Import`` and ``Wallets:Create``
  (held for approval, then repeated by their initiator: api/policies/gate.py).
* ``rule``: ``AlwaysTrigger``; for signatures also ``TransactionAmountLimit {limit,
  currency}`` (currency: the network's native asset, ``ETH``, ``BTC`` or ``SOL``;
  there is no price feed, so no fiat), ``TransactionRecipientWhitelist
  {addresses}``, ``TransactionAmountVelocity {limit, currency, timeframe}`` and
  ``TransactionCountVelocity {limit, timeframe}`` (minutes, 1 to 43200).
* ``action``: ``Block`` (not for ``Policies:Modify``, as in Dfns) or ``RequestApproval
  {approvalGroups: [{name?, quorum, approvers: {} | {userId: {in: [...]}},
  initiatorCanApprove?, serviceAccountsCanApprove?}], autoRejectTimeout?}`` (minutes;
  ``serviceAccountsCanApprove`` defaults to true here: approvers are service accounts
  until users exist).
* ``filters``: signatures ``keyId {in}``, ``walletId {in}``, ``walletTags {hasAny?,
  hasAll?}``; ``Policies:Modify`` ``policyId {in}``; ``Keys:Export`` ``keyId {in}``.
  Every filter given must match for the policy to apply.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from shardvault.api.errors import ApiError

__all__ = [
    "ACTIVITY_KINDS",
    "CURRENCY_DECIMALS",
    "KEYS_EXPORT",
    "KEYS_IMPORT",
    "POLICIES_MODIFY",
    "RETRIED_KINDS",
    "SIGNING_KINDS",
    "VELOCITY_RULES",
    "WALLETS_CREATE",
    "WALLETS_SIGN",
    "PolicyDefinition",
    "limit_of",
    "validate_policy",
]

WALLETS_SIGN = "Wallets:Sign"
KEYS_SIGNATURES = "Keys:Signatures"
POLICIES_MODIFY = "Policies:Modify"
KEYS_EXPORT = "Keys:Export"
KEYS_IMPORT = "Keys:Import"
WALLETS_CREATE = "Wallets:Create"
#: Both names gate the two signature routes.
SIGNING_KINDS = frozenset({WALLETS_SIGN, KEYS_SIGNATURES})
#: Requests held for approval and then repeated by their initiator (api/policies/gate.py).
RETRIED_KINDS = frozenset({KEYS_EXPORT, KEYS_IMPORT, WALLETS_CREATE})
ACTIVITY_KINDS = SIGNING_KINDS | RETRIED_KINDS | {POLICIES_MODIFY}

#: Native assets an amount limit may be written in, with their decimals.
CURRENCY_DECIMALS = {"ETH": 18, "BTC": 8, "SOL": 9}

_FILTERS: dict[str, frozenset[str]] = {
    WALLETS_SIGN: frozenset({"keyId", "walletId", "walletTags"}),
    KEYS_SIGNATURES: frozenset({"keyId", "walletId", "walletTags"}),
    POLICIES_MODIFY: frozenset({"policyId"}),
    KEYS_EXPORT: frozenset({"keyId"}),
    KEYS_IMPORT: frozenset(),
    WALLETS_CREATE: frozenset(),
}
_MAX_GROUPS = 10
_MAX_LIST = 100
_MAX_ADDRESSES = 1000
#: Rules that read the transaction (signatures only).
_TRANSACTION_RULES = (
    "TransactionAmountLimit",
    "TransactionRecipientWhitelist",
    "TransactionAmountVelocity",
    "TransactionCountVelocity",
)
#: Rules that look at the wallet's (or key's) recent requests too.
VELOCITY_RULES = frozenset({"TransactionAmountVelocity", "TransactionCountVelocity"})
#: Dfns bounds autoRejectTimeout (and velocity timeframes) to 30 days.
_MAX_TIMEOUT_MINUTES = 43_200


@dataclass(frozen=True, slots=True)
class PolicyDefinition:
    """A validated policy body, normalized (what is stored and answered)."""

    name: str
    activity_kind: str
    rule: dict[str, Any]
    action: dict[str, Any]
    filters: dict[str, Any] | None


def _bad(code: str, message: str, field: str) -> ApiError:
    return ApiError(400, code, message, details={"field": field})


def _object(value: Any, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _bad("InvalidPolicy", f"{field} must be an object", field)
    return value


def _only(value: dict[str, Any], allowed: set[str], field: str) -> None:
    for name in value:
        if name not in allowed:
            raise _bad(
                "InvalidPolicy",
                f"{field}.{name} is not a field of {field}",
                f"{field}.{name}",
            )


def _string_list(value: Any, field: str, *, max_items: int, allow_empty: bool) -> list[str]:
    if not isinstance(value, list) or not all(
        isinstance(v, str) and 0 < len(v) <= 128 for v in value
    ):
        raise _bad("InvalidPolicy", f"{field} must be a list of non-empty strings", field)
    if not allow_empty and not value:
        raise _bad("InvalidPolicy", f"{field} must not be empty", field)
    if len(value) > max_items:
        raise _bad("InvalidPolicy", f"{field} has more than {max_items} items", field)
    if len(set(value)) != len(value):
        raise _bad("InvalidPolicy", f"{field} has duplicates", field)
    return list(value)


def _positive_int(value: Any, field: str, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise _bad("InvalidPolicy", f"{field} must be an integer from 1 to {maximum}", field)
    return value


def limit_of(configuration: dict[str, Any]) -> Decimal:
    """The amount limit of a (validated) ``TransactionAmountLimit`` rule."""
    return Decimal(str(configuration["limit"]))


def _amount_limit(config: dict[str, Any]) -> dict[str, Any]:
    limit = config.get("limit")
    currency = config.get("currency")
    if currency not in CURRENCY_DECIMALS:
        raise ApiError(
            400,
            "UnsupportedCurrency",
            "currency must be a network's native asset (ETH, BTC or SOL): shardvault "
            "has no price feed, so fiat limits are not supported",
            details={
                "field": "rule.configuration.currency",
                "supported": list(CURRENCY_DECIMALS),
            },
        )
    try:
        amount = Decimal(str(limit))
    except InvalidOperation:
        amount = Decimal(-1)
    if (
        isinstance(limit, bool)
        or not isinstance(limit, int | float | str)
        or not amount.is_finite()
        or amount <= 0
        or amount.as_tuple().exponent < -CURRENCY_DECIMALS[currency]  # type: ignore[operator]
    ):
        raise _bad(
            "InvalidPolicy",
            f"limit must be a positive number of {currency} (at most "
            f"{CURRENCY_DECIMALS[currency]} decimals)",
            "rule.configuration.limit",
        )
    return {"limit": limit, "currency": currency}


def _rule(rule: dict[str, Any], kind: str) -> dict[str, Any]:
    _only(rule, {"kind", "configuration"}, "rule")
    rule_kind = rule.get("kind")
    configuration = rule.get("configuration")
    if rule_kind == "AlwaysTrigger":
        if configuration not in (None, {}):
            raise _bad(
                "InvalidPolicy", "AlwaysTrigger takes no configuration", "rule.configuration"
            )
        return {"kind": "AlwaysTrigger", "configuration": {}}
    if rule_kind in _TRANSACTION_RULES:
        if kind not in SIGNING_KINDS:
            raise _bad(
                "UnsupportedPolicyRule",
                f"rule {rule_kind} only applies to signatures (Wallets:Sign)",
                "rule.kind",
            )
        config = _object(configuration, "rule.configuration")
        if rule_kind == "TransactionRecipientWhitelist":
            _only(config, {"addresses"}, "rule.configuration")
            addresses = _string_list(
                config.get("addresses"),
                "rule.configuration.addresses",
                max_items=_MAX_ADDRESSES,
                allow_empty=True,
            )
            return {"kind": rule_kind, "configuration": {"addresses": addresses}}
        out: dict[str, Any] = {}
        if rule_kind == "TransactionCountVelocity":
            _only(config, {"limit", "timeframe"}, "rule.configuration")
            out["limit"] = _positive_int(config.get("limit"), "rule.configuration.limit", 10**9)
        else:
            allowed = {"limit", "currency"}
            if rule_kind == "TransactionAmountVelocity":
                allowed.add("timeframe")
            _only(config, allowed, "rule.configuration")
            out.update(_amount_limit(config))
        if rule_kind != "TransactionAmountLimit":
            out["timeframe"] = _positive_int(
                config.get("timeframe"), "rule.configuration.timeframe", _MAX_TIMEOUT_MINUTES
            )
        return {"kind": rule_kind, "configuration": out}
    raise _bad(
        "UnsupportedPolicyRule",
        f"rule kind {rule_kind!r} is not supported (AlwaysTrigger, "
        f"{', '.join(_TRANSACTION_RULES)})",
        "rule.kind",
    )


def _group(group: Any, index: int) -> dict[str, Any]:
    field = f"action.approvalGroups[{index}]"
    group = _object(group, field)
    _only(
        group,
        {"name", "quorum", "approvers", "initiatorCanApprove", "serviceAccountsCanApprove"},
        field,
    )
    out: dict[str, Any] = {}
    name = group.get("name")
    if name is not None:
        if not isinstance(name, str) or not 0 < len(name) <= 255:
            raise _bad("InvalidPolicy", f"{field}.name must be a string", f"{field}.name")
        out["name"] = name
    quorum = _positive_int(group.get("quorum"), f"{field}.quorum", 100)
    out["quorum"] = quorum
    approvers = _object(group.get("approvers"), f"{field}.approvers")
    _only(approvers, {"userId"}, f"{field}.approvers")
    if "userId" in approvers:
        user_ids = _object(approvers["userId"], f"{field}.approvers.userId")
        _only(user_ids, {"in"}, f"{field}.approvers.userId")
        members = _string_list(
            user_ids.get("in"),
            f"{field}.approvers.userId.in",
            max_items=_MAX_LIST,
            allow_empty=False,
        )
        if quorum > len(members):
            raise _bad(
                "InvalidPolicy",
                f"quorum {quorum} is more than the group's {len(members)} approvers",
                f"{field}.quorum",
            )
        out["approvers"] = {"userId": {"in": members}}
    else:
        out["approvers"] = {}  # anyone in the org
    for flag in ("initiatorCanApprove", "serviceAccountsCanApprove"):
        value = group.get(flag)
        if value is not None:
            if not isinstance(value, bool):
                raise _bad("InvalidPolicy", f"{flag} must be a boolean", f"{field}.{flag}")
            out[flag] = value
    return out


def _action(action: dict[str, Any], kind: str) -> dict[str, Any]:
    action_kind = action.get("kind")
    if action_kind == "Block":
        _only(action, {"kind"}, "action")
        if kind == POLICIES_MODIFY:
            raise _bad(
                "UnsupportedPolicyAction",
                "a Policies:Modify policy can only request approval (as in Dfns)",
                "action.kind",
            )
        return {"kind": "Block"}
    if action_kind == "RequestApproval":
        _only(action, {"kind", "approvalGroups", "autoRejectTimeout"}, "action")
        groups = action.get("approvalGroups")
        if not isinstance(groups, list) or not 0 < len(groups) <= _MAX_GROUPS:
            raise _bad(
                "InvalidPolicy",
                f"approvalGroups must be a list of 1 to {_MAX_GROUPS} groups",
                "action.approvalGroups",
            )
        out: dict[str, Any] = {
            "kind": "RequestApproval",
            "approvalGroups": [_group(g, i) for i, g in enumerate(groups)],
        }
        timeout = action.get("autoRejectTimeout")
        if timeout is not None:
            out["autoRejectTimeout"] = _positive_int(
                timeout, "action.autoRejectTimeout", _MAX_TIMEOUT_MINUTES
            )
        return out
    raise _bad(
        "UnsupportedPolicyAction",
        f"action kind {action_kind!r} is not supported (Block, RequestApproval)",
        "action.kind",
    )


def _filters(filters: dict[str, Any], kind: str) -> dict[str, Any] | None:
    allowed = _FILTERS[kind]
    out: dict[str, Any] = {}
    for name, value in filters.items():
        field = f"filters.{name}"
        if name not in allowed:
            raise _bad(
                "UnsupportedPolicyFilter",
                f"filter {name!r} does not apply to {kind} (allowed: {', '.join(sorted(allowed))})",
                field,
            )
        value = _object(value, field)
        if name == "walletTags":
            _only(value, {"hasAny", "hasAll"}, field)
            if not value:
                raise _bad("InvalidPolicy", "walletTags needs hasAny or hasAll", field)
            out[name] = {
                op: _string_list(tags, f"{field}.{op}", max_items=_MAX_LIST, allow_empty=False)
                for op, tags in value.items()
            }
        else:
            _only(value, {"in"}, field)
            out[name] = {
                "in": _string_list(
                    value.get("in"), f"{field}.in", max_items=_MAX_LIST, allow_empty=False
                )
            }
    return out or None


def validate_policy(
    name: str,
    activity_kind: str,
    rule: dict[str, Any],
    action: dict[str, Any],
    filters: dict[str, Any] | None,
) -> PolicyDefinition:
    """The normalized policy, or a 400 naming the first field that is wrong."""
    if activity_kind not in ACTIVITY_KINDS:
        raise _bad(
            "UnsupportedActivityKind",
            f"activityKind {activity_kind!r} is not supported "
            f"({', '.join(sorted(ACTIVITY_KINDS))})",
            "activityKind",
        )
    return PolicyDefinition(
        name=name,
        activity_kind=activity_kind,
        rule=_rule(rule, activity_kind),
        action=_action(action, activity_kind),
        filters=_filters(filters, activity_kind) if filters is not None else None,
    )
