"""The audit rows of the governance writes (docs/governance-audit.md): permissions
and org settings, policies and their approvals, service accounts, credentials and
tokens. Each is appended in the transaction of its change; a failed audit write
fails the request and keeps nothing; the user-action flow's own bookkeeping is not
recorded; the org's chain still verifies (``shardvault audit verify``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from apihelpers import Api, error_of
from clihelpers import invoke
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy import update
from test_api_audit import audit_rows, steps, verify_org
from test_api_policies import add_user, approval_policy, create_policy, me

import shardvault.api.permission_repository as permission_module
import shardvault.api.policies.store as store_module
from shardvault.db import make_engine
from shardvault.db.engine import write_sessionmaker
from shardvault.db.models import PolicyApprovalRow, utcnow


def _pem(private: ed25519.Ed25519PrivateKey) -> str:
    return (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def cli_verifies(api: Api) -> None:
    """``shardvault audit verify`` on the database, for this org."""
    result = invoke("audit", "verify", "--database-url", api.database_url, "--org", api.org_id)
    assert result.exit_code == 0, result.output
    assert "audit log intact" in result.output


def test_permission_and_org_settings_changes_are_audited(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    robot, _auth = api.account("Keys:Read")  # grant(): the operator's rows
    granted = audit_rows(api)[-2:]
    assert [(r["action"], r["actor"]["kind"]) for r in granted] == [
        ("Permissions:Create", "Operator"),
        ("Permissions:Assign", "Operator"),
    ]
    assert granted[1]["details"]["identityId"] == robot
    start = len(audit_rows(api))
    created = api.post("/permissions", {"name": "ops", "operations": ["Keys:Read"]})
    assert created.status_code == 200, created.text
    pid = created.json()["id"]
    updated = api.put(f"/permissions/{pid}", {"name": "ops2", "operations": ["Keys:Create"]})
    assert updated.status_code == 200, updated.text
    assigned = api.post(f"/permissions/{pid}/assignments", {"identityId": robot})
    assert assigned.status_code == 200, assigned.text
    aid = assigned.json()["id"]
    assert api.delete(f"/permissions/{pid}/assignments/{aid}").status_code == 204
    assert api.put(f"/permissions/{pid}/archive", {"isArchived": True}).status_code == 200
    assert api.put(f"/permissions/{pid}/archive", {"isArchived": False}).status_code == 200
    assert api.delete(f"/permissions/{pid}").status_code == 204
    settings = api.put("/org/settings", {"keyExport": True})
    assert settings.status_code == 200, settings.text
    rows = audit_rows(api)[start:]
    assert steps(rows) == [
        ("Permissions:Create", "Success", pid),
        ("Permissions:Update", "Success", pid),
        ("Permissions:Assign", "Success", pid),
        ("Permissions:Revoke", "Success", pid),
        ("Permissions:Delete", "Success", pid),
        ("Permissions:Delete", "Success", pid),
        ("Permissions:Delete", "Success", pid),
        ("Orgs:Settings:Update", "Success", api.org_id),
    ]
    assert rows[0]["details"] == {"name": "ops", "operations": ["Keys:Read"]}
    assert rows[1]["details"] == {
        "name": "ops2",
        "operations": ["Keys:Create"],
        "previous": {"name": "ops", "operations": ["Keys:Read"]},
    }
    assert rows[2]["details"] == {"assignmentId": aid, "identityId": robot}
    assert rows[3]["details"] == {"assignmentId": aid, "identityId": robot}
    assert rows[4]["details"] == {"isArchived": True, "previous": {"isArchived": False}}
    assert rows[5]["details"] == {"isArchived": False, "previous": {"isArchived": True}}
    assert rows[7]["details"] == {"keyExport": True, "previous": {"keyExport": False}}
    caller = rows[0]["actor"]
    assert caller["kind"] == "User" and caller["credentialId"].startswith("cr-")
    assert all(r["actor"] == caller for r in rows)
    assert (rows[7]["method"], rows[7]["path"], rows[7]["status"]) == ("PUT", "/org/settings", 200)
    verify_org(api)
    cli_verifies(api)


def test_policy_changes_approvals_and_resolutions_are_audited(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = add_user(api, "alice")
    start = len(audit_rows(api))
    policy = create_policy(
        api, approval_policy([alice.id], 1, action_extra={"autoRejectTimeout": 5})
    )
    guard = create_policy(
        api,
        {**approval_policy([alice.id], 1), "name": "guard", "activityKind": "Policies:Modify",
         "filters": {"policyId": {"in": [policy["id"]]}}},
    )  # fmt: skip
    key = api.create_key("EdDSA", "ed25519")
    path = f"/keys/{key['id']}/signatures"
    granted = api.post(path, {"kind": "Message", "message": "0x01"}).json()
    denied = api.post(path, {"kind": "Message", "message": "0x02"}).json()
    expired = api.post(path, {"kind": "Message", "message": "0x03"}).json()
    assert alice.decide(granted["approvalId"], "Approved").json()["status"] == "Approved"
    assert alice.decide(denied["approvalId"], "Denied", "no").json()["status"] == "Denied"
    engine = make_engine(api.database_url)
    try:
        with write_sessionmaker(engine).begin() as s:
            s.execute(
                update(PolicyApprovalRow)
                .where(PolicyApprovalRow.id == expired["approvalId"])
                .values(expiration_date=utcnow() - timedelta(seconds=1))
            )
    finally:
        engine.dispose()
    assert api.app.state.policies.expire_due() == 1  # the sweep
    held = api.put(f"/v2/policies/{policy['id']}", {**policy_body(policy), "name": "renamed"})
    assert held.status_code == 202, held.text
    change = held.json()
    assert alice.decide(change["approvalId"], "Approved").status_code == 200
    r = api.delete(f"/v2/policies/{guard['id']}")  # the guard does not cover itself
    assert r.status_code == 200 and r.json()["status"] == "Archived"

    rows = audit_rows(api)[start:]
    approvals = [x["approvalId"] for x in (granted, denied, expired)]
    assert steps(rows) == [
        ("Policies:Create", "Success", policy["id"]),
        ("Policies:Create", "Success", guard["id"]),
        ("Keys:Create", "Success", key["id"]),
        ("Keys:Signatures:Create", "Pending", granted["id"]),
        ("Policies:Approvals:Create", "Pending", approvals[0]),
        ("Keys:Signatures:Create", "Pending", denied["id"]),
        ("Policies:Approvals:Create", "Pending", approvals[1]),
        ("Keys:Signatures:Create", "Pending", expired["id"]),
        ("Policies:Approvals:Create", "Pending", approvals[2]),
        ("Policies:Approvals:Approve", "Success", approvals[0]),
        ("Policies:Approvals:Resolve", "Success", approvals[0]),
        # signed under the granting decision's request (api/signing/service.py)
        ("Policies:Approvals:Approve", "Success", granted["id"]),
        ("Policies:Approvals:Approve", "Success", approvals[1]),
        ("Policies:Approvals:Resolve", "Refused", approvals[1]),
        ("Policies:Approvals:Resolve", "Refused", approvals[2]),
        ("Policies:Update", "Pending", policy["id"]),
        ("Policies:Approvals:Create", "Pending", change["approvalId"]),
        ("Policies:Approvals:Approve", "Success", change["approvalId"]),
        ("Policies:Update", "Success", policy["id"]),
        ("Policies:Approvals:Resolve", "Success", change["approvalId"]),
        ("Policies:Archive", "Success", guard["id"]),
    ]
    admin = me(api).id
    by_admin, by_alice = rows[0]["actor"], rows[9]["actor"]
    assert by_admin["userId"] == admin and by_alice["userId"] == alice.id
    assert rows[0]["details"]["name"] == "needs approval"
    opened = rows[4]["details"]
    assert opened["activityKind"] == "Wallets:Sign" and opened["entityId"] == granted["id"]
    assert opened["policyIds"] == [policy["id"]] and "expirationDate" in opened
    assert rows[4]["actor"] == by_admin  # opened by the request's caller
    assert rows[9]["details"] == {"value": "Approved", "reason": None}
    assert rows[10]["actor"] == by_alice and rows[10]["details"]["status"] == "Approved"
    assert rows[12]["details"] == {"value": "Denied", "reason": "no"}
    assert rows[13]["errorCode"] == "PolicyDenied"
    assert rows[13]["details"]["signatureStatus"] == "Rejected"
    assert rows[14]["actor"]["kind"] == "System"  # expired by the sweep
    assert rows[14]["errorCode"] == "ApprovalExpired"
    assert rows[15]["details"]["approvalId"] == change["approvalId"]
    assert rows[15]["details"]["changeRequestId"] == change["id"]
    assert rows[18]["details"] == {"name": "renamed", "previous": {"name": "needs approval"}}
    assert rows[18]["actor"] == by_alice  # applied by the decision that granted it
    assert rows[19]["details"]["changeStatus"] == "Applied"
    assert rows[20]["details"] == {"status": "Archived", "previous": {"status": "Active"}}
    verify_org(api)
    cli_verifies(api)


def policy_body(policy: dict[str, Any]) -> dict[str, Any]:
    return {k: policy[k] for k in ("name", "activityKind", "rule", "action")}


def test_identity_changes_are_audited_but_not_the_user_action_flow(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    start = len(audit_rows(api))
    role = api.post("/permissions", {"name": "svc-role", "operations": ["Keys:Read"]}).json()
    r = api.post(
        "/auth/service-accounts",
        {"name": "svc", "publicKey": _pem(ed25519.Ed25519PrivateKey.generate()),
         "permissionId": role["id"]},
    )  # fmt: skip
    assert r.status_code == 200, r.text
    out = r.json()
    sid = out["userInfo"]["userId"]
    cred = out["userInfo"]["credentialUuid"]
    token_id = out["accessTokens"][0]["tokenId"]
    assert api.put(f"/auth/service-accounts/{sid}", {"name": "svc2"}).status_code == 200
    assert api.put(f"/auth/service-accounts/{sid}/deactivate", {}).status_code == 200
    assert api.put(f"/auth/service-accounts/{sid}/activate").status_code == 200
    new = api.post(
        "/auth/credentials",
        {"credentialKind": "Key", "credentialName": "second",
         "publicKey": _pem(ed25519.Ed25519PrivateKey.generate())},
    )  # fmt: skip
    assert new.status_code == 200, new.text
    new_cred = new.json()["credentialId"]
    assert api.put("/auth/credentials/deactivate", {"credentialUuid": new_cred}).is_success
    assert api.put("/auth/credentials/activate", {"credentialUuid": new_cred}).is_success
    assert api.delete(f"/auth/tokens/{token_id}").status_code == 200
    assert api.delete(f"/auth/service-accounts/{sid}").status_code == 200
    rows = audit_rows(api)[start:]
    assert steps(rows) == [
        ("Permissions:Create", "Success", role["id"]),
        ("Auth:ServiceAccounts:Create", "Success", sid),
        ("Auth:Creds:Create", "Success", cred),
        ("Auth:Tokens:Create", "Success", token_id),
        ("Permissions:Assign", "Success", role["id"]),
        ("Auth:ServiceAccounts:Update", "Success", sid),
        ("Auth:ServiceAccounts:Deactivate", "Success", sid),
        ("Auth:ServiceAccounts:Activate", "Success", sid),
        ("Auth:Creds:Create", "Success", new_cred),
        ("Auth:Creds:Update", "Success", new_cred),
        ("Auth:Creds:Update", "Success", new_cred),
        ("Auth:Tokens:Revoke", "Success", token_id),
        ("Auth:ServiceAccounts:Delete", "Success", sid),
    ]
    caller = rows[0]["actor"]
    assert all(r["actor"] == caller for r in rows)
    assert rows[1]["details"] == {"name": "svc", "externalId": None, "isAdmin": False}
    assert rows[4]["details"]["identityId"] == sid
    assert rows[5]["details"] == {"name": "svc2", "previous": {"name": "svc"}}
    assert rows[6]["details"] == {"isActive": False, "previous": {"isActive": True}}
    assert rows[9]["details"]["isActive"] is False and rows[10]["details"]["isActive"] is True
    assert rows[11]["details"] == {"serviceAccountId": sid, "alreadyRevoked": False}
    assert rows[12]["details"]["revokedTokenIds"] == []  # its one token revoked before
    # every write above went through /auth/action/init and /auth/action: no row of them
    assert not any((row.get("path") or "").startswith("/auth/action") for row in audit_rows(api))
    verify_org(api)
    cli_verifies(api)


def test_a_failed_audit_write_keeps_no_permission_and_no_policy(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    permissions_before = api.get("/permissions").json()["items"]
    real_permission_append = permission_module.append
    real_store_append = store_module.append

    def broken(session: Any, context: Any, **kw: Any) -> Any:
        raise RuntimeError("audit storage is full")

    monkeypatch.setattr(permission_module, "append", broken)
    monkeypatch.setattr(store_module, "append", broken)
    r = api.post("/permissions", {"name": "lost", "operations": ["Keys:Read"]})
    assert r.status_code == 500 and error_of(r)["code"] == "InternalError"
    r = api.post("/v2/policies", approval_policy([me(api).id], 1))
    assert r.status_code == 500 and error_of(r)["code"] == "InternalError"
    monkeypatch.setattr(permission_module, "append", real_permission_append)
    monkeypatch.setattr(store_module, "append", real_store_append)
    assert api.get("/permissions").json()["items"] == permissions_before
    assert api.get("/v2/policies").json()["items"] == []
    failures = audit_rows(api, result="Failure")
    assert steps(failures) == [
        ("Permissions:Create", "Failure", None),
        ("Policies:Create", "Failure", None),
    ]
    assert {r["status"] for r in failures} == {500}
    verify_org(api)


def test_a_request_held_by_the_policy_gate_is_audited_until_used(api: Api) -> None:
    alice = add_user(api, "alice")
    create_policy(api, {**approval_policy([alice.id], 1), "activityKind": "Wallets:Create"})
    start = len(audit_rows(api))
    body = {"network": "Ethereum", "name": "treasury"}
    held = api.post("/wallets", body)
    assert held.status_code == 202, held.text
    change = held.json()
    assert api.post("/wallets", body).json()["id"] == change["id"]  # the same: no row
    assert alice.decide(change["approvalId"], "Approved").status_code == 200
    created = api.post("/wallets", body)
    assert created.status_code == 200, created.text
    wallet = created.json()
    rows = audit_rows(api)[start:]
    assert steps(rows) == [
        ("Wallets:Create", "Pending", None),
        ("Policies:Approvals:Create", "Pending", change["approvalId"]),
        ("Policies:Approvals:Approve", "Success", change["approvalId"]),
        ("Policies:Approvals:Resolve", "Success", change["approvalId"]),
        ("Wallets:Create", "Pending", None),
        ("Keys:Create", "Success", wallet["signingKey"]["id"]),
        ("Wallets:Create", "Success", wallet["id"]),
    ]
    assert rows[0]["details"] == {
        "approvalId": change["approvalId"],
        "changeRequestId": change["id"],
    }
    assert rows[1]["details"]["activityKind"] == "Wallets:Create"
    assert rows[3]["details"]["changeStatus"] == "Approved"
    assert rows[4]["details"] == {
        "approvalId": change["approvalId"],
        "changeRequestId": change["id"],
        "changeStatus": "Applied",
    }
    assert rows[4]["actor"] == rows[0]["actor"] != rows[2]["actor"]
    verify_org(api)
    cli_verifies(api)
