"""The published Dfns Python SDK (``dfns-sdk`` from PyPI, pinned in the dev extra)
against a live vault, configured only with the base URL and what ``shardvault up``
wrote to credentials.json (token, credential id, PKCS#8 private key). Writes go
through the SDK's own user-action flow (``/auth/action/init`` -> signed clientData ->
``/auth/action`` -> ``X-DFNS-USERACTION``). Every signature is checked by an
independent library (PyNaCl, coincurve, eth-account)."""

from __future__ import annotations

import hashlib
import os
from typing import Any

import httpx
import pytest
from dfns_sdk import DfnsClient, DfnsError
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils import keccak
from evmhelpers import EVM_CHAIN_IDS, eip1559_unsigned
from interophelpers import (
    Credentials,
    check_ed25519,
    check_secp256k1,
    dfns_client,
    new_ed25519_pem,
    unhex,
    wait_for,
)

#: Fields of a Dfns key object every client may rely on.
KEY_FIELDS = {"id", "scheme", "curve", "publicKey", "status", "custodial", "dateCreated"}


def _check_key(key: dict[str, Any], scheme: str, curve: str) -> None:
    assert KEY_FIELDS <= set(key), key
    assert (key["scheme"], key["curve"], key["status"]) == (scheme, curve, "Active")
    assert key["id"].startswith("key-")


def _check_same(got: dict[str, Any], key: dict[str, Any]) -> None:
    """``GET /keys/{id}`` answers the key as created or listed (it may add fields,
    e.g. its ``wallets``)."""
    assert {name: got.get(name) for name in key} == key


def _sign_hash(client: DfnsClient, key_id: str, digest: bytes) -> dict[str, Any]:
    body = {"kind": "Hash", "hash": "0x" + digest.hex()}
    sig: dict[str, Any] = dict(client.keys.generate_signature(key_id, body))
    assert sig["status"] == "Signed", sig
    assert sig["keyId"] == key_id and sig["requestBody"] == body
    return sig


def test_unsigned_write_is_refused(creds: Credentials) -> None:
    """A write with the bearer token but no ``X-DFNS-USERACTION`` is refused."""
    r = httpx.post(
        creds.base_url + "/keys",
        json={"scheme": "EdDSA", "curve": "ed25519"},
        headers={"Authorization": f"Bearer {creds.token}"},
    )
    assert r.status_code in (401, 403), r.text
    assert set(r.json()["error"]) >= {"code", "message"}


def test_eddsa_key_signs_a_hash(admin: DfnsClient) -> None:
    key = dict(admin.keys.create_key({"scheme": "EdDSA", "curve": "ed25519"}))
    _check_key(key, "EdDSA", "ed25519")
    digest = hashlib.sha256(os.urandom(16)).digest()
    sig = _sign_hash(admin, key["id"], digest)
    check_ed25519(key["publicKey"], digest, sig["signature"])
    assert admin.keys.get_signature(key["id"], sig["id"]) == sig
    assert sig["id"] in [s["id"] for s in admin.keys.list_signatures(key["id"])["items"]]
    _check_same(admin.keys.get_key(key["id"]), key)


def test_ecdsa_key_signs_a_hash(admin: DfnsClient) -> None:
    key = dict(admin.keys.create_key({"scheme": "ECDSA", "curve": "secp256k1"}))
    _check_key(key, "ECDSA", "secp256k1")
    digest = os.urandom(32)
    sig = _sign_hash(admin, key["id"], digest)
    check_secp256k1(key["publicKey"], digest, sig["signature"])
    assert admin.keys.get_signature(key["id"], sig["id"]) == sig


def test_evm_wallet_signs_a_transaction_and_an_eip191_message(admin: DfnsClient) -> None:
    """A wallet on EthereumSepolia (its default key: ECDSA secp256k1), then its key
    signs an EIP-1559 transaction and an EIP-191 message; eth-account recovers the
    wallet's address from both."""
    wallet = dict(admin.wallets.create_wallet({"network": "EthereumSepolia", "name": "interop"}))
    assert wallet["network"] == "EthereumSepolia" and wallet["status"] == "Active"
    signing_key = wallet["signingKey"]
    assert (signing_key["scheme"], signing_key["curve"]) == ("ECDSA", "secp256k1")
    assert admin.wallets.get_wallet(wallet["id"])["address"] == wallet["address"]
    key_id = signing_key["id"]

    raw, _ = eip1559_unsigned(EVM_CHAIN_IDS["EthereumSepolia"])
    body = {"kind": "Transaction", "network": "EthereumSepolia", "transaction": "0x" + raw.hex()}
    sig = dict(admin.keys.generate_signature(key_id, body))
    assert sig["status"] == "Signed", sig
    assert Account.recover_transaction(unhex(sig["signedData"])) == wallet["address"]
    check_secp256k1(signing_key["publicKey"], keccak(raw), sig["signature"])

    message = b"shardvault interop " + os.urandom(8).hex().encode()
    body = {"kind": "Eip191", "network": "EthereumSepolia", "message": "0x" + message.hex()}
    sig = dict(admin.keys.generate_signature(key_id, body))
    assert sig["status"] == "Signed", sig
    value = sig["signature"]
    vrs = (27 + value["recid"], int(value["r"], 16), int(value["s"], 16))
    assert Account.recover_message(encode_defunct(message), vrs=vrs) == wallet["address"]


def _new_approver(admin: DfnsClient, creds: Credentials) -> tuple[str, DfnsClient]:
    """A second service account (its own Ed25519 credential) allowed to read and
    decide approvals: returns (its userId, a Dfns SDK client acting as it)."""
    private_pem, public_pem = new_ed25519_pem()
    created = admin.auth.create_service_account(
        {"name": f"approver-{os.urandom(3).hex()}", "publicKey": public_pem}
    )
    user_id = created["userInfo"]["userId"]
    token_info = created["accessTokens"][0]
    assert user_id != creds.user_id
    permission = admin.permissions.create_permission(
        {
            "name": f"approver-{os.urandom(3).hex()}",
            "operations": ["Policies:Approvals:Read", "Policies:Approvals:Approve"],
        }
    )
    admin.permissions.assign_permission(permission["id"], {"identityId": user_id})
    client = dfns_client(
        creds.base_url, token_info["accessToken"], token_info["credId"], private_pem
    )
    return user_id, client


def test_policy_approval_by_a_second_service_account(admin: DfnsClient, creds: Credentials) -> None:
    """A ``RequestApproval`` policy (quorum 1, the approver named) on one key: the
    signature request answers ``Pending`` with an ``approvalId``; the initiator cannot
    approve it; the second service account approves through the SDK; the signature
    becomes ``Signed`` and verifies."""
    key = dict(admin.keys.create_key({"scheme": "EdDSA", "curve": "ed25519"}))
    approver_id, approver = _new_approver(admin, creds)
    policy = admin.policies.create_policy(
        {
            "name": f"interop-approval-{os.urandom(3).hex()}",
            "activityKind": "Keys:Signatures",
            "rule": {"kind": "AlwaysTrigger"},
            "action": {
                "kind": "RequestApproval",
                "approvalGroups": [
                    {
                        "name": "approvers",
                        "quorum": 1,
                        "approvers": {"userId": {"in": [approver_id]}},
                    }
                ],
            },
            "filters": {"keyId": {"in": [key["id"]]}},
        }
    )
    try:
        assert admin.policies.get_policy(policy["id"])["id"] == policy["id"]
        digest = os.urandom(32)
        body = {"kind": "Hash", "hash": "0x" + digest.hex()}
        pending = dict(admin.keys.generate_signature(key["id"], body))
        assert pending["status"] == "Pending" and "signature" not in pending, pending
        approval_id = pending["approvalId"]

        approval = approver.policies.get_approval(approval_id)
        assert approval["status"] == "Pending" and approval["initiatorId"] == creds.user_id
        listed = approver.policies.list_approvals({"status": "Pending"})["items"]
        assert approval_id in [a["id"] for a in listed]

        with pytest.raises(DfnsError) as own:
            admin.policies.create_approval_decision(approval_id, {"value": "Approved"})
        assert own.value.status_code in (400, 403, 409), own.value
        assert approver.policies.get_approval(approval_id)["status"] == "Pending"

        decided = approver.policies.create_approval_decision(
            approval_id, {"value": "Approved", "reason": "interop test"}
        )
        assert decided["id"] == approval_id
        assert [d["userId"] for d in decided["decisions"]] == [approver_id]
        signed = wait_for(
            lambda: admin.keys.get_signature(key["id"], pending["id"]),
            lambda s: s["status"] in ("Signed", "Failed", "Rejected"),
        )
        assert signed["status"] == "Signed", signed
        check_ed25519(key["publicKey"], digest, signed["signature"])
        assert approver.policies.get_approval(approval_id)["status"] == "Approved"
    finally:
        admin.policies.delete_policy(policy["id"])


def test_reads_list_keys_and_wallets(reader: DfnsClient) -> None:
    """Bearer-only reads (no user action): ``GET /keys`` and ``GET /wallets`` as the
    SDK calls them, with their query parameters, and each listed key by id."""
    listed = reader.keys.list_keys()
    assert isinstance(listed["items"], list)
    for key in listed["items"]:
        assert KEY_FIELDS <= set(key)
        _check_same(reader.keys.get_key(key["id"]), key)
    page = reader.keys.list_keys({"limit": "1"})
    assert len(page["items"]) <= 1
    if page.get("nextPageToken"):
        rest = reader.keys.list_keys({"limit": "50", "paginationToken": page["nextPageToken"]})
        # the suite makes far fewer than 50 keys: two pages hold the whole list
        seen = [k["id"] for k in page["items"] + rest["items"]]
        assert seen == [k["id"] for k in listed["items"]]
    assert isinstance(reader.wallets.list_wallets({"limit": "5"})["items"], list)
    with pytest.raises(DfnsError) as missing:
        reader.keys.get_key("key-01m99eka3vxpxd0w21x630fs23")
    assert missing.value.status_code == 404 and missing.value.error_code
    with pytest.raises(DfnsError) as unsigned:
        reader.keys.create_key({"scheme": "EdDSA", "curve": "ed25519"})
    assert unsigned.value.error_code == "SIGNER_REQUIRED"  # the SDK's own refusal
