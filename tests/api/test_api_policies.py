"""Approval policies (``/v2/policies``, ``/v2/policy-approvals``) and their effect on
signature requests: Block (403), RequestApproval (202 Pending, signed once the
quorum of every group approved), denial, timeout, who may decide, amount limits read
from the EVM transaction itself, recipient whitelists and filters."""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import anyio
import rlp
from apihelpers import Api, b64u, error_of, signed_token
from eth_account import Account
from eth_utils import to_bytes, to_checksum_address
from sqlalchemy import update
from wallethelpers import create_wallet

from shardvault.api import set_key_export
from shardvault.crypto import hpke
from shardvault.db import make_engine
from shardvault.db.engine import write_sessionmaker
from shardvault.db.ids import new_id
from shardvault.db.models import PolicyApprovalRow, ServiceAccount, utcnow

TO = to_checksum_address("0x" + "5a" * 20)
OTHER = to_checksum_address("0x" + "6b" * 20)


class User:
    """A service account of the test's org, acting with its own token."""

    def __init__(self, api: Api, user_id: str, token: str) -> None:
        self.api = api
        self.id = user_id
        self.auth = {"Authorization": f"Bearer {token}"}

    def post(self, path: str, body: Any) -> Any:
        return self.api.client.post(path, json=body, headers=self.auth)

    def decide(self, approval_id: str, value: str, reason: str | None = None) -> Any:
        body: dict[str, Any] = {"value": value}
        if reason is not None:
            body["reason"] = reason
        return self.post(f"/v2/policy-approvals/{approval_id}/decisions", body)


def add_user(api: Api, name: str = "approver") -> User:
    engine = make_engine(api.database_url)
    try:
        with write_sessionmaker(engine).begin() as s:
            account_id = new_id("sa")
            s.add(
                ServiceAccount(
                    id=account_id,
                    org_id=api.org_id,
                    name=name,
                    is_admin=True,
                    is_active=True,
                    date_created=utcnow(),
                )
            )
            s.flush()
            token = signed_token(s, api.org_id, account_id)
    finally:
        engine.dispose()
    return User(api, account_id, token)


def me(api: Api) -> User:
    principal = api.app.state.repository.principal(api.token)
    return User(api, principal.service_account_id, api.token)


def approval_policy(
    approvers: list[str], quorum: int, *, rule: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    return {
        "name": "needs approval",
        "activityKind": "Wallets:Sign",
        "rule": rule or {"kind": "AlwaysTrigger"},
        "action": {
            "kind": "RequestApproval",
            "approvalGroups": [
                {"name": "Admins", "quorum": quorum, "approvers": {"userId": {"in": approvers}}}
            ],
            **extra.pop("action_extra", {}),
        },
        **extra,
    }


def create_policy(api: Api, body: dict[str, Any]) -> Any:
    r = api.post("/v2/policies", body)
    assert r.status_code == 200, r.text
    return r.json()


#: The most :func:`evm_tx` pays for gas (21000 gas at 20 gwei): counted in its amount.
FEE = 21000 * 20 * 10**9


def evm_tx(value: int, to: str = TO, chain_id: int = 1, data: bytes = b"") -> str:
    raw = rlp.encode([0, 20 * 10**9, 21000, to_bytes(hexstr=to), value, data, chain_id, 0, 0])
    return "0x" + raw.hex()


def eth_wallet(api: Api) -> Any:
    return create_wallet(api, "Ethereum")


def sign_tx(api: Api, wallet: Any, value: int, to: str = TO, **body: Any) -> Any:
    return api.post(
        f"/wallets/{wallet['id']}/signatures",
        {"kind": "Transaction", "transaction": evm_tx(value, to), **body},
    )


# -- policy CRUD and validation ------------------------------------------------------------
def test_create_get_list_update_archive(api: Api) -> None:
    body = approval_policy(
        ["sa-x"], 1, filters={"keyId": {"in": ["key-1"]}}, action_extra={"autoRejectTimeout": 30}
    )
    created = create_policy(api, body)
    assert created["id"].startswith("plc-") and created["status"] == "Active"
    assert created["rule"] == {"kind": "AlwaysTrigger", "configuration": {}}
    assert created["action"]["autoRejectTimeout"] == 30
    assert created["filters"] == {"keyId": {"in": ["key-1"]}}
    assert api.get(f"/v2/policies/{created['id']}").json() == created
    second = create_policy(api, {**body, "name": "second"})
    page = api.get("/v2/policies?limit=1").json()
    assert [p["id"] for p in page["items"]] == [second["id"]]
    rest = api.get(f"/v2/policies?limit=1&paginationToken={page['nextPageToken']}").json()
    assert [p["id"] for p in rest["items"]] == [created["id"]] and "nextPageToken" not in rest
    updated = api.put(f"/v2/policies/{created['id']}", {**body, "name": "renamed"})
    assert updated.status_code == 200 and updated.json()["name"] == "renamed"
    archived = api.delete(f"/v2/policies/{created['id']}")
    assert archived.status_code == 200 and archived.json()["status"] == "Archived"
    active = api.get("/v2/policies?status=Active").json()["items"]
    assert [p["id"] for p in active] == [second["id"]]
    again = api.put(f"/v2/policies/{created['id']}", body)
    assert again.status_code == 409 and error_of(again)["code"] == "PolicyArchived"
    _other_org, other_auth = api.other_org()
    r = api.client.get(f"/v2/policies/{second['id']}", headers=other_auth)
    assert r.status_code == 404 and error_of(r)["code"] == "PolicyNotFound"


def test_invalid_policies_are_typed_400s(api: Api) -> None:
    base = approval_policy(["sa-x"], 1)
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({**base, "activityKind": "Wallets:Teleport"}, "UnsupportedActivityKind", "activityKind"),
        ({**base, "rule": {"kind": "ChainalysisTransactionPrescreening"}},
         "UnsupportedPolicyRule",
         "rule.kind"),
        (
            {**base, "rule": {"kind": "TransactionAmountLimit",
                              "configuration": {"limit": 100, "currency": "USD"}}},
            "UnsupportedCurrency",
            "rule.configuration.currency",
        ),
        (
            {**base, "rule": {"kind": "TransactionAmountLimit",
                              "configuration": {"limit": -1, "currency": "ETH"}}},
            "InvalidPolicy",
            "rule.configuration.limit",
        ),
        (approval_policy(["sa-x"], 2), "InvalidPolicy", "action.approvalGroups[0].quorum"),
        (approval_policy([], 1), "InvalidPolicy", "action.approvalGroups[0].approvers.userId.in"),
        ({**base, "action": {"kind": "NoAction"}}, "UnsupportedPolicyAction", "action.kind"),
        ({**base, "action": {"kind": "RequestApproval", "approvalGroups": []}},
         "InvalidPolicy", "action.approvalGroups"),
        (approval_policy(["sa-x"], 1, action_extra={"autoRejectTimeout": 0}),
         "InvalidPolicy", "action.autoRejectTimeout"),
        ({**base, "filters": {"policyId": {"in": ["plc-1"]}}}, "UnsupportedPolicyFilter",
         "filters.policyId"),
        ({**base, "filters": {"keyId": {"in": []}}}, "InvalidPolicy", "filters.keyId.in"),
        ({**base, "activityKind": "Policies:Modify", "action": {"kind": "Block"}},
         "UnsupportedPolicyAction", "action.kind"),
        ({**base, "activityKind": "Policies:Modify",
          "rule": {"kind": "TransactionRecipientWhitelist", "configuration": {"addresses": []}}},
         "UnsupportedPolicyRule", "rule.kind"),
    ]  # fmt: skip
    for body, code, field in cases:
        r = api.post("/v2/policies", body)
        assert r.status_code == 400, (body, r.text)
        err = error_of(r)
        assert (err["code"], err["details"]["field"]) == (code, field), err
    velocity = {"kind": "TransactionCountVelocity", "configuration": {"limit": 2}}
    r = api.post("/v2/policies", {**base, "rule": velocity})
    assert error_of(r)["details"]["field"] == "rule.configuration.timeframe"
    r = api.post("/v2/policies", {**base, "extra": 1})
    assert r.status_code == 400
    assert api.get("/v2/policies").json()["items"] == []


# -- Block -----------------------------------------------------------------------------------
def test_block_refuses_and_stores_nothing(api: Api) -> None:
    key = api.create_key("EdDSA", "ed25519")
    policy = create_policy(
        api,
        {"name": "freeze", "activityKind": "Keys:Signatures", "rule": {"kind": "AlwaysTrigger"},
         "action": {"kind": "Block"}},
    )  # fmt: skip
    r = api.post(f"/keys/{key['id']}/signatures", {"kind": "Message", "message": "0x01"})
    assert r.status_code == 403
    err = error_of(r)
    assert err["code"] == "PolicyBlocked" and err["details"]["policyIds"] == [policy["id"]]
    assert api.get(f"/keys/{key['id']}/signatures").json()["items"] == []
    assert api.delete(f"/v2/policies/{policy['id']}").status_code == 200
    r = api.post(f"/keys/{key['id']}/signatures", {"kind": "Message", "message": "0x01"})
    assert r.status_code == 200 and r.json()["status"] == "Signed"


# -- RequestApproval: quorum 2 of 3 ----------------------------------------------------------
def test_quorum_two_of_three_signs_after_the_second_approval(api: Api) -> None:
    alice, bob, carol = add_user(api, "alice"), add_user(api, "bob"), add_user(api, "carol")
    initiator = me(api)
    create_policy(api, approval_policy([alice.id, bob.id, carol.id], 2))
    wallet = eth_wallet(api)
    before = api.vault.calls.get("sign", 0)
    r = sign_tx(api, wallet, 10**15, externalId="pay-1")
    assert r.status_code == 202, r.text
    pending = r.json()
    assert pending["status"] == "Pending" and pending["approvalId"].startswith("ap-")
    assert "signature" not in pending and "signedData" not in pending
    approval_id = pending["approvalId"]
    # the same request again answers the same pending signature (idempotent)
    again = sign_tx(api, wallet, 10**15, externalId="pay-1")
    assert again.status_code == 202 and again.json()["id"] == pending["id"]

    approval = api.get(f"/v2/policy-approvals/{approval_id}").json()
    assert approval["status"] == "Pending" and approval["initiatorId"] == initiator.id
    assert approval["activity"]["kind"] == "Wallets:Sign"
    assert approval["activity"]["signatureRequest"]["id"] == pending["id"]
    assert approval["policyEvaluations"][0]["triggered"] is True
    assert approval["decisions"] == []

    first = alice.decide(approval_id, "Approved", "looks right")
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "Pending"
    assert first.json()["decisions"][0]["userId"] == alice.id
    assert first.json()["decisions"][0]["reason"] == "looks right"
    sig = api.get(f"/keys/{wallet['signingKey']['id']}/signatures/{pending['id']}").json()
    assert sig["status"] == "Pending" and api.vault.calls.get("sign", 0) == before

    second = bob.decide(approval_id, "Approved")
    assert second.status_code == 200, second.text
    done = second.json()
    assert done["status"] == "Approved" and "dateResolved" in done
    signed = done["activity"]["signatureRequest"]
    assert signed["status"] == "Signed" and signed["id"] == pending["id"]
    assert signed["datePolicyResolved"] <= signed["dateSigned"]
    assert api.vault.calls.get("sign", 0) == before + 1
    # verified independently: eth-account recovers the wallet's address
    raw_signed = bytes.fromhex(signed["signedData"][2:])
    assert Account.recover_transaction(raw_signed) == wallet["address"]

    late = carol.decide(approval_id, "Approved")
    assert late.status_code == 409 and error_of(late)["code"] == "ApprovalResolved"
    repeat = sign_tx(api, wallet, 10**15, externalId="pay-1")
    assert repeat.status_code == 200 and repeat.json()["status"] == "Signed"
    assert api.vault.calls.get("sign", 0) == before + 1


def test_who_may_decide(api: Api) -> None:
    alice, bob, outsider = add_user(api, "alice"), add_user(api, "bob"), add_user(api, "x")
    initiator = me(api)
    create_policy(api, approval_policy([alice.id, bob.id, initiator.id], 2))
    key = api.create_key("EdDSA", "ed25519")
    r = api.post(f"/keys/{key['id']}/signatures", {"kind": "Message", "message": "0x02"})
    assert r.status_code == 202
    approval_id = r.json()["approvalId"]
    own = initiator.decide(approval_id, "Approved")
    assert own.status_code == 403 and error_of(own)["code"] == "InitiatorCannotApprove"
    stranger = outsider.decide(approval_id, "Approved")
    assert stranger.status_code == 403 and error_of(stranger)["code"] == "NotAnApprover"
    assert alice.decide(approval_id, "Approved").status_code == 200
    twice = alice.decide(approval_id, "Approved")
    assert twice.status_code == 409 and error_of(twice)["code"] == "AlreadyDecided"
    bad = alice.post(f"/v2/policy-approvals/{approval_id}/decisions", {"value": "Maybe"})
    assert bad.status_code == 400
    missing = alice.decide("ap-" + "0" * 26, "Approved")
    assert missing.status_code == 404 and error_of(missing)["code"] == "ApprovalNotFound"
    # still Pending: one approval of the two needed
    assert api.get(f"/v2/policy-approvals/{approval_id}").json()["status"] == "Pending"
    # listing: by approver, initiator, status
    mine = api.get(f"/v2/policy-approvals?approverId={bob.id}").json()["items"]
    assert [a["id"] for a in mine] == [approval_id]
    assert api.get(f"/v2/policy-approvals?approverId={outsider.id}").json()["items"] == []
    assert api.get(f"/v2/policy-approvals?approverId={initiator.id}").json()["items"] == []
    by = api.get(f"/v2/policy-approvals?initiatorId={initiator.id}&status=Pending").json()
    assert [a["id"] for a in by["items"]] == [approval_id]
    assert api.get("/v2/policy-approvals?status=Approved").json()["items"] == []


def test_a_denial_rejects_and_the_initiator_may_cancel(api: Api) -> None:
    alice, bob = add_user(api, "alice"), add_user(api, "bob")
    create_policy(api, approval_policy([alice.id, bob.id], 2))
    key = api.create_key("EdDSA", "ed25519")
    before = api.vault.calls.get("sign", 0)
    body = {"kind": "Message", "message": "0x03", "externalId": "deny-me"}
    first = api.post(f"/keys/{key['id']}/signatures", body).json()
    assert alice.decide(first["approvalId"], "Approved").status_code == 200
    denied = bob.decide(first["approvalId"], "Denied", "not today")
    assert denied.status_code == 200 and denied.json()["status"] == "Denied"
    sig = denied.json()["activity"]["signatureRequest"]
    assert sig["status"] == "Rejected" and "datePolicyResolved" in sig
    assert "not today" in sig["reason"]
    assert api.vault.calls.get("sign", 0) == before
    # the externalId is free again: a new request asks for a new approval
    second = api.post(f"/keys/{key['id']}/signatures", body)
    assert second.status_code == 202 and second.json()["approvalId"] != first["approvalId"]
    cancelled = me(api).decide(second.json()["approvalId"], "Denied")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "Denied"


def test_timeout_expires_lazily_and_in_the_sweep(api: Api) -> None:
    alice = add_user(api, "alice")
    create_policy(api, approval_policy([alice.id], 1, action_extra={"autoRejectTimeout": 5}))
    key = api.create_key("EdDSA", "ed25519")
    first = api.post(f"/keys/{key['id']}/signatures", {"kind": "Message", "message": "0x04"})
    second = api.post(f"/keys/{key['id']}/signatures", {"kind": "Message", "message": "0x05"})
    a1, a2 = first.json()["approvalId"], second.json()["approvalId"]
    got = api.get(f"/v2/policy-approvals/{a1}").json()
    assert got["status"] == "Pending" and "expirationDate" in got
    engine = make_engine(api.database_url)
    try:
        with write_sessionmaker(engine).begin() as s:
            s.execute(
                update(PolicyApprovalRow)
                .where(PolicyApprovalRow.id.in_([a1, a2]))
                .values(expiration_date=utcnow() - timedelta(seconds=1))
            )
    finally:
        engine.dispose()
    # the sweep (what the app runs in the background) expires both
    assert api.app.state.policies.expire_due() >= 2
    expired = api.get(f"/v2/policy-approvals/{a1}").json()
    assert expired["status"] == "Expired" and "dateResolved" in expired
    assert expired["activity"]["signatureRequest"]["status"] == "Rejected"
    late = alice.decide(a2, "Approved")
    assert late.status_code == 409 and error_of(late)["code"] == "ApprovalResolved"


def test_lazy_expiry_on_decision(api: Api) -> None:
    alice = add_user(api, "alice")
    create_policy(api, approval_policy([alice.id], 1, action_extra={"autoRejectTimeout": 1}))
    key = api.create_key("EdDSA", "ed25519")
    a = api.post(f"/keys/{key['id']}/signatures", {"kind": "Message", "message": "0x06"})
    approval_id = a.json()["approvalId"]
    engine = make_engine(api.database_url)
    try:
        with write_sessionmaker(engine).begin() as s:
            s.execute(
                update(PolicyApprovalRow)
                .where(PolicyApprovalRow.id == approval_id)
                .values(expiration_date=utcnow() - timedelta(seconds=1))
            )
    finally:
        engine.dispose()
    r = alice.decide(approval_id, "Approved")
    assert r.status_code == 409 and error_of(r)["details"]["status"] == "Expired"
    # reading the signature applies a due timeout as well
    b = api.post(f"/keys/{key['id']}/signatures", {"kind": "Message", "message": "0x0a"})
    engine = make_engine(api.database_url)
    try:
        with write_sessionmaker(engine).begin() as s:
            s.execute(
                update(PolicyApprovalRow)
                .where(PolicyApprovalRow.id == b.json()["approvalId"])
                .values(expiration_date=utcnow() - timedelta(seconds=1))
            )
    finally:
        engine.dispose()
    sig = api.get(f"/keys/{key['id']}/signatures/{b.json()['id']}").json()
    assert sig["status"] == "Rejected" and sig["reason"].startswith("ApprovalExpired")


# -- rules read from the transaction ---------------------------------------------------------
def test_amount_limit_below_and_above_on_an_evm_transaction(api: Api) -> None:
    alice = add_user(api, "alice")
    rule = {"kind": "TransactionAmountLimit", "configuration": {"limit": 0.5, "currency": "ETH"}}
    create_policy(api, approval_policy([alice.id], 1, rule=rule))
    wallet = eth_wallet(api)
    below = sign_tx(api, wallet, 4 * 10**17)  # 0.4 ETH
    assert below.status_code == 200 and below.json()["status"] == "Signed"
    exact = sign_tx(api, wallet, 5 * 10**17 - FEE)  # 0.5 ETH with gas: not above the limit
    assert exact.status_code == 200
    above = sign_tx(api, wallet, 5 * 10**17 - FEE + 1)
    assert above.status_code == 202
    approval = api.get(f"/v2/policy-approvals/{above.json()['approvalId']}").json()
    assert (
        "0.500000000000000001 ETH is above limit 0.5 ETH"
        in (approval["policyEvaluations"][0]["reason"])
    )
    # a contract call may move tokens: its amount cannot be read (fails closed)
    call = api.post(
        f"/wallets/{wallet['id']}/signatures",
        {"kind": "Transaction", "transaction": evm_tx(0, data=b"\xa9\x05\x9c\xbb" + bytes(64))},
    )
    assert call.status_code == 202
    # a hash says nothing about amounts: fails closed too
    r = api.post(
        f"/keys/{wallet['signingKey']['id']}/signatures", {"kind": "Hash", "hash": "0x" + "11" * 32}
    )
    assert r.status_code == 202
    # an ETH limit does not read a Polygon (POL) transaction: fails closed
    polygon = create_wallet(api, "Polygon", signingKey={"id": wallet["signingKey"]["id"]})
    r = api.post(
        f"/wallets/{polygon['id']}/signatures",
        {"kind": "Transaction", "transaction": evm_tx(1, chain_id=137)},
    )
    assert r.status_code == 202


def test_recipient_whitelist(api: Api) -> None:
    create_policy(
        api,
        {"name": "whitelist", "activityKind": "Wallets:Sign",
         "rule": {"kind": "TransactionRecipientWhitelist",
                  "configuration": {"addresses": [TO.lower()]}},
         "action": {"kind": "Block"}},
    )  # fmt: skip
    wallet = eth_wallet(api)
    ok = sign_tx(api, wallet, 10**18, to=TO)  # checksummed vs lowercase: same address
    assert ok.status_code == 200 and ok.json()["status"] == "Signed"
    blocked = sign_tx(api, wallet, 1, to=OTHER)
    assert blocked.status_code == 403 and error_of(blocked)["code"] == "PolicyBlocked"


def test_filters_by_key_id_and_wallet(api: Api) -> None:
    governed = api.create_key("EdDSA", "ed25519")
    free = api.create_key("EdDSA", "ed25519")
    create_policy(
        api,
        {"name": "one key", "activityKind": "Wallets:Sign", "rule": {"kind": "AlwaysTrigger"},
         "action": {"kind": "Block"}, "filters": {"keyId": {"in": [governed["id"]]}}},
    )  # fmt: skip
    body = {"kind": "Message", "message": "0x07"}
    assert api.post(f"/keys/{governed['id']}/signatures", body).status_code == 403
    assert api.post(f"/keys/{free['id']}/signatures", body).status_code == 200
    tagged = create_wallet(api, "Ethereum", tags=["treasury"])
    plain = create_wallet(api, "Ethereum")
    create_policy(
        api,
        {"name": "treasury", "activityKind": "Wallets:Sign", "rule": {"kind": "AlwaysTrigger"},
         "action": {"kind": "Block"}, "filters": {"walletTags": {"hasAny": ["treasury"]}}},
    )  # fmt: skip
    assert sign_tx(api, tagged, 1).status_code == 403
    assert sign_tx(api, plain, 1).status_code == 200
    # the key route signs for every wallet of its key: a wallet filter applies when any
    # of them matches
    hashed = {"kind": "Hash", "hash": "0x" + "22" * 32}
    assert api.post(f"/keys/{tagged['signingKey']['id']}/signatures", hashed).status_code == 403
    assert api.post(f"/keys/{plain['signingKey']['id']}/signatures", hashed).status_code == 200
    assert api.post(f"/keys/{free['id']}/signatures", hashed).status_code == 200  # no wallet


# -- Policies:Modify -------------------------------------------------------------------------
def test_policy_changes_under_approval(api: Api) -> None:
    alice = add_user(api, "alice")
    target = create_policy(
        api,
        {"name": "freeze", "activityKind": "Wallets:Sign", "rule": {"kind": "AlwaysTrigger"},
         "action": {"kind": "Block"}},
    )  # fmt: skip
    guard = create_policy(
        api,
        {**approval_policy([alice.id], 1), "name": "guard", "activityKind": "Policies:Modify",
         "filters": {"policyId": {"in": [target["id"]]}}},
    )  # fmt: skip
    r = api.delete(f"/v2/policies/{target['id']}")
    assert r.status_code == 202, r.text
    change = r.json()
    assert change["kind"] == "Policy" and change["operationKind"] == "Delete"
    assert change["status"] == "Pending" and change["entityId"] == target["id"]
    shown = api.get(f"/v2/policies/{target['id']}").json()
    assert shown["status"] == "Active" and shown["pendingChangeRequest"]["id"] == change["id"]
    approved = alice.decide(change["approvalId"], "Approved")
    assert approved.status_code == 200, approved.text
    assert approved.json()["activity"]["changeRequest"]["status"] == "Applied"
    assert api.get(f"/v2/policies/{target['id']}").json()["status"] == "Archived"
    # the guard does not cover itself (filtered to the target): changed at once
    r = api.put(f"/v2/policies/{guard['id']}", {**approval_policy([alice.id], 1), "name": "g2"})
    assert r.status_code == 200 and r.json()["name"] == "g2"


# -- exactly once ------------------------------------------------------------------------
def test_concurrent_decisions_sign_once(api: Api) -> None:
    users = [add_user(api, f"u{i}") for i in range(4)]
    create_policy(api, approval_policy([u.id for u in users], 2))
    key = api.create_key("EdDSA", "ed25519")
    r = api.post(f"/keys/{key['id']}/signatures", {"kind": "Message", "message": "0x08"})
    approval_id = r.json()["approvalId"]
    before = api.vault.calls.get("sign", 0)
    with ThreadPoolExecutor(len(users)) as pool:
        answers = list(pool.map(lambda u: u.decide(approval_id, "Approved"), users))
    codes = sorted(a.status_code for a in answers)
    assert codes.count(200) >= 2 and set(codes) <= {200, 409}, [a.text for a in answers]
    assert api.vault.calls.get("sign", 0) == before + 1
    final = api.get(f"/v2/policy-approvals/{approval_id}").json()
    assert final["status"] == "Approved"
    assert final["activity"]["signatureRequest"]["status"] == "Signed"


# -- Keys:Export, Keys:Import, Wallets:Create: held, then repeated ---------------------------
def test_export_under_approval_then_repeated_once(api: Api) -> None:
    alice = add_user(api, "alice")
    key = api.create_key()
    other_key = api.create_key()
    set_key_export(api.database_url, True, org_id=api.org_id)
    create_policy(
        api,
        {**approval_policy([alice.id], 1), "activityKind": "Keys:Export",
         "filters": {"keyId": {"in": [key["id"]]}}},
    )  # fmt: skip
    body = {
        "encryptionKey": b64u(hpke.HpkeKeyPair.generate().public_key),
        "supportedSchemes": [{"protocol": "FROST", "curve": "ed25519"}],
    }
    held = api.post(f"/keys/{key['id']}/export", body)
    assert held.status_code == 202, held.text
    change = held.json()
    assert (change["kind"], change["operationKind"], change["status"]) == (
        "Keys:Export", "Export", "Pending"
    )  # fmt: skip
    assert change["entityId"] == key["id"] and change["body"]["keyId"] == key["id"]
    assert api.vault.calls.get("export_key", 0) == 0
    assert api.get(f"/keys/{key['id']}").json()["exported"] is False
    # asking again before the decision answers the same pending request
    assert api.post(f"/keys/{key['id']}/export", body).json()["id"] == change["id"]
    granted = alice.decide(change["approvalId"], "Approved")
    assert granted.status_code == 200 and granted.json()["status"] == "Approved"
    assert granted.json()["activity"]["changeRequest"]["status"] == "Approved"
    # another recipient key is another request: not covered by this approval
    other = {**body, "encryptionKey": b64u(hpke.HpkeKeyPair.generate().public_key)}
    assert api.post(f"/keys/{key['id']}/export", other).status_code == 202
    done = api.post(f"/keys/{key['id']}/export", body)
    assert done.status_code == 200, done.text
    assert done.json()["encryptedKeyShares"] and api.vault.calls.get("export_key", 0) == 1
    used = api.get(f"/v2/policy-approvals/{change['approvalId']}").json()
    assert used["activity"]["changeRequest"]["status"] == "Applied"
    # the filter leaves other keys alone
    assert api.post(f"/keys/{other_key['id']}/export", body).status_code == 200


def test_wallet_creation_held_and_import_blocked(api: Api) -> None:
    alice = add_user(api, "alice")
    create_policy(api, {**approval_policy([alice.id], 1), "activityKind": "Wallets:Create"})
    body = {"network": "Ethereum", "name": "treasury"}
    held = api.post("/wallets", body)
    assert held.status_code == 202 and held.json()["operationKind"] == "Create"
    assert api.get("/wallets").json()["items"] == []
    assert alice.decide(held.json()["approvalId"], "Approved").status_code == 200
    created = api.post("/wallets", body)
    assert created.status_code == 200 and created.json()["name"] == "treasury"
    assert api.post("/wallets", body).status_code == 202  # used up: asks again
    create_policy(
        api,
        {"name": "no imports", "activityKind": "Keys:Import", "rule": {"kind": "AlwaysTrigger"},
         "action": {"kind": "Block"}},
    )  # fmt: skip
    shares = [
        {"signerId": s["signerId"], "encryptedKeyShare": b64u(os.urandom(48))}
        for s in api.get("/signers").json()["clusters"][0]["signers"]
    ]
    r = api.post(
        "/keys/import",
        api.with_context(
            {"protocol": "FROST", "curve": "ed25519", "minSigners": 2,
             "encryptedKeyShares": shares}
        ),
    )  # fmt: skip
    assert r.status_code == 403 and error_of(r)["code"] == "PolicyBlocked"
    assert api.vault.calls.get("import_key", 0) == 0


def test_status_history_pending_executing_signed(api: Api) -> None:
    alice = add_user(api, "alice")
    create_policy(api, approval_policy([alice.id], 1))
    key = api.create_key("EdDSA", "ed25519")
    r = api.post(f"/keys/{key['id']}/signatures", {"kind": "Message", "message": "0x09"})
    sig_path = f"/keys/{key['id']}/signatures/{r.json()['id']}"
    seen = [api.get(sig_path).json()["status"]]
    honest = api.vault.sign
    release = threading.Event()

    async def slow_sign(*args: Any, **kw: Any) -> Any:
        while not release.is_set():
            await anyio.sleep(0.01)
        return await honest(*args, **kw)

    api.vault.sign = slow_sign  # type: ignore[method-assign]
    try:
        with ThreadPoolExecutor(1) as pool:
            decision = pool.submit(alice.decide, r.json()["approvalId"], "Approved")
            for _ in range(500):
                status = api.get(sig_path).json()["status"]
                if status == "Executing":
                    seen.append(status)
                    break
                time.sleep(0.01)
            release.set()
            assert decision.result().status_code == 200
    finally:
        api.vault.sign = honest  # type: ignore[method-assign]
    final = api.get(sig_path).json()
    seen.append(final["status"])
    assert seen == ["Pending", "Executing", "Signed"]
    assert final["dateRequested"] <= final["datePolicyResolved"] <= final["dateSigned"]


def test_policy_change_denied_and_a_guard_covering_itself(api: Api) -> None:
    alice = add_user(api, "alice")
    guard = create_policy(
        api, {**approval_policy([alice.id], 1), "name": "guard", "activityKind": "Policies:Modify"}
    )
    # no policyId filter: the guard covers changes to itself too
    renamed = {**approval_policy([alice.id], 1), "name": "weaker", "activityKind": "Wallets:Sign"}
    r = api.put(f"/v2/policies/{guard['id']}", renamed)
    assert r.status_code == 202 and r.json()["operationKind"] == "Update"
    assert r.json()["body"]["name"] == "weaker"
    denied = alice.decide(r.json()["approvalId"], "Denied", "no")
    assert denied.json()["activity"]["changeRequest"]["status"] == "Rejected"
    unchanged = api.get(f"/v2/policies/{guard['id']}").json()
    assert unchanged["name"] == "guard" and unchanged["activityKind"] == "Policies:Modify"
    assert "pendingChangeRequest" not in unchanged


def test_initiator_can_approve_when_the_group_allows_it(api: Api) -> None:
    initiator = me(api)
    body = approval_policy([initiator.id], 1)
    body["action"]["approvalGroups"][0]["initiatorCanApprove"] = True
    create_policy(api, body)
    key = api.create_key("EdDSA", "ed25519")
    r = api.post(f"/keys/{key['id']}/signatures", {"kind": "Message", "message": "0x0b"})
    assert r.status_code == 202
    ok = initiator.decide(r.json()["approvalId"], "Approved")
    assert ok.status_code == 200
    assert ok.json()["activity"]["signatureRequest"]["status"] == "Signed"


def test_service_accounts_may_be_kept_out_of_a_group(api: Api) -> None:
    alice = add_user(api, "alice")
    body = approval_policy([alice.id], 1)
    body["action"]["approvalGroups"][0]["serviceAccountsCanApprove"] = False
    created = create_policy(api, body)
    assert created["action"]["approvalGroups"][0]["serviceAccountsCanApprove"] is False
    key = api.create_key("EdDSA", "ed25519")
    r = api.post(f"/keys/{key['id']}/signatures", {"kind": "Message", "message": "0x0c"})
    refused = alice.decide(r.json()["approvalId"], "Approved")
    assert refused.status_code == 403 and error_of(refused)["code"] == "NotAnApprover"
    refused = alice.decide(r.json()["approvalId"], "Denied")
    assert refused.status_code == 403 and error_of(refused)["code"] == "NotAnApprover"
    assert me(api).decide(r.json()["approvalId"], "Denied").status_code == 200  # cancel


def test_velocity_rules_count_the_wallets_recent_requests(api: Api) -> None:
    wallet = eth_wallet(api)
    other = eth_wallet(api)
    create_policy(
        api,
        {"name": "at most 2 an hour", "activityKind": "Wallets:Sign",
         "rule": {"kind": "TransactionCountVelocity",
                  "configuration": {"limit": 2, "timeframe": 60}},
         "action": {"kind": "Block"}, "filters": {"walletId": {"in": [wallet["id"]]}}},
    )  # fmt: skip
    assert sign_tx(api, wallet, 1).status_code == 200
    assert sign_tx(api, wallet, 2).status_code == 200
    third = sign_tx(api, wallet, 3)
    assert third.status_code == 403
    reason = error_of(third)["details"]["evaluations"][0]["reason"]
    assert reason == "number of requests (3) in 60 min is above limit (2)"
    create_policy(
        api,
        {"name": "1 ETH an hour", "activityKind": "Wallets:Sign",
         "rule": {"kind": "TransactionAmountVelocity",
                  "configuration": {"limit": 1, "currency": "ETH", "timeframe": 60}},
         "action": {"kind": "Block"}, "filters": {"walletId": {"in": [other["id"]]}}},
    )  # fmt: skip
    assert sign_tx(api, other, 6 * 10**17 - FEE).status_code == 200
    assert sign_tx(api, other, 4 * 10**17 - FEE).status_code == 200  # 1 ETH in all, with gas
    over = sign_tx(api, other, 1)
    assert over.status_code == 403
    assert (
        "cumulative amount 1.000420000000000001 ETH in 60 min is above limit 1"
        in (error_of(over)["details"]["evaluations"][0]["reason"])
    )
