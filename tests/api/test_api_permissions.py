"""Permissions with the Dfns operation names: the matrix over every endpoint (without
the operation 403 ``PermissionDenied`` naming it, with it the request gets through),
the ``/permissions`` endpoints and their assignments, and the org settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from apihelpers import Api, create_service_account, error_of
from fastapi.routing import APIRoute

from shardvault.api.bootstrap import new_credential_key
from shardvault.api.operations import OPERATIONS
from shardvault.api.permissions import RequiredPermission
from shardvault.crypto import hpke


def _b64u(data: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# -- the matrix --------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    method: str
    path: str  # a route path; {placeholders} filled from the fixtures
    operation: str
    body: Any = None
    #: What the request answers when the caller holds the operation.
    ok: tuple[int, ...] = (200,)


#: Routes every authenticated caller may use, and admin-only routes.
OPEN_ROUTES = {("GET", "/health"), ("GET", "/networks")}
ADMIN_ROUTES = {("POST", "/admin/refresh"), ("GET", "/admin/refresh")}
#: The user-action flow itself and revoking one's own token (an admin revokes any).
SELF_ROUTES = {
    ("POST", "/auth/action/init"),
    ("POST", "/auth/action"),
    ("DELETE", "/auth/tokens/{tokenId}"),
}

_MESSAGE = {"kind": "Message", "message": "0x68656c6c6f"}

CASES = [
    Case("GET", "/signers", "Signers:ListSigners"),
    Case("POST", "/keys", "Keys:Create", {"scheme": "EdDSA", "curve": "ed25519"}),
    Case("POST", "/keys/import/context", "Keys:Import", {}),
    # an empty import is refused as input, after the permission check
    Case("POST", "/keys/import", "Keys:Import", {}, ok=(400,)),
    Case("GET", "/keys", "Keys:Read"),
    Case("GET", "/keys/{keyId}", "Keys:Read"),
    Case("PUT", "/keys/{keyId}", "Keys:Update", {"name": "renamed"}),
    Case("DELETE", "/keys/{keyId}", "Keys:Delete", None),
    Case("POST", "/keys/{keyId}/refresh", "Keys:Update", None),
    Case("POST", "/keys/{keyId}/export", "Keys:Export", "export"),
    Case("POST", "/keys/{keyId}/signatures", "Keys:Signatures:Create", _MESSAGE),
    Case("GET", "/keys/{keyId}/signatures", "Keys:Signatures:Read"),
    Case("GET", "/keys/{keyId}/signatures/{signatureId}", "Keys:Signatures:Read"),
    Case("POST", "/wallets", "Wallets:Create", {"network": "Solana"}),
    Case("GET", "/wallets", "Wallets:Read"),
    Case("GET", "/wallets/{walletId}", "Wallets:Read"),
    Case("PUT", "/wallets/{walletId}", "Wallets:Update", {"name": "w"}),
    Case("PUT", "/wallets/{walletId}/tags", "Wallets:Tags:Add", {"tags": ["a"]}),
    Case("DELETE", "/wallets/{walletId}/tags", "Wallets:Tags:Remove", {"tags": ["a"]}),
    Case("POST", "/wallets/{walletId}/signatures", "Keys:Signatures:Create", _MESSAGE),
    Case("GET", "/wallets/{walletId}/signatures", "Keys:Signatures:Read"),
    Case("GET", "/wallets/{walletId}/signatures/{signatureId}", "Keys:Signatures:Read"),
    Case(
        "POST",
        "/permissions",
        "Permissions:Create",
        {"name": "readers", "operations": ["Keys:Read"]},
    ),
    Case("GET", "/permissions", "Permissions:Read"),
    Case("GET", "/permissions/{permissionId}", "Permissions:Read"),
    Case("PUT", "/permissions/{permissionId}", "Permissions:Update", {"name": "renamed"}),
    Case("PUT", "/permissions/{permissionId}/archive", "Permissions:Delete", {"isArchived": False}),
    Case("DELETE", "/permissions/{permissionId}", "Permissions:Delete", None, ok=(204,)),
    Case(
        "POST",
        "/permissions/{permissionId}/assignments",
        "Permissions:Assign",
        {"identityId": "{identityId}"},
    ),
    Case("GET", "/permissions/{permissionId}/assignments", "Permissions:Assignments:Read"),
    Case(
        "DELETE",
        "/permissions/{permissionId}/assignments/{assignmentId}",
        "Permissions:Revoke",
        None,
        ok=(204,),
    ),
    Case("POST", "/v2/policies", "Policies:Create", "policy"),
    Case("GET", "/v2/policies", "Policies:Read"),
    Case("GET", "/v2/policies/{policyId}", "Policies:Read"),
    Case("PUT", "/v2/policies/{policyId}", "Policies:Update", "policy"),
    Case("DELETE", "/v2/policies/{policyId}", "Policies:Archive", None),
    Case("GET", "/v2/policy-approvals", "Policies:Approvals:Read"),
    Case("GET", "/v2/policy-approvals/{approvalId}", "Policies:Approvals:Read"),
    Case(
        "POST",
        "/v2/policy-approvals/{approvalId}/decisions",
        "Policies:Approvals:Approve",
        {"value": "Denied", "reason": "matrix"},
    ),
    Case("GET", "/audit", "Auth:Logs:Read"),
    Case("GET", "/audit/{auditId}", "Auth:Logs:Read"),
    Case("GET", "/auth/credentials", "Auth:Creds:Read"),
    Case("POST", "/auth/credentials", "Auth:Creds:Create", "credential"),
    # an id that is none of the caller's credentials: past the permission, then 404
    Case(
        "PUT",
        "/auth/credentials/activate",
        "Auth:Creds:Update",
        {"credentialUuid": "{credentialId}"},
        ok=(404,),
    ),
    Case(
        "PUT",
        "/auth/credentials/deactivate",
        "Auth:Creds:Update",
        {"credentialUuid": "{credentialId}"},
        ok=(404,),
    ),
    Case("GET", "/auth/service-accounts", "Auth:ServiceAccounts:Read"),
    Case("POST", "/auth/service-accounts", "Auth:ServiceAccounts:Create", "service-account"),
    Case("GET", "/auth/service-accounts/{serviceAccountId}", "Auth:ServiceAccounts:Read"),
    Case(
        "PUT",
        "/auth/service-accounts/{serviceAccountId}",
        "Auth:ServiceAccounts:Update",
        {"name": "renamed"},
    ),
    Case(
        "PUT",
        "/auth/service-accounts/{serviceAccountId}/activate",
        "Auth:ServiceAccounts:Activate",
        None,
    ),
    Case(
        "PUT",
        "/auth/service-accounts/{serviceAccountId}/deactivate",
        "Auth:ServiceAccounts:Deactivate",
        {},
    ),
    Case(
        "DELETE", "/auth/service-accounts/{serviceAccountId}", "Auth:ServiceAccounts:Delete", None
    ),
    Case("GET", "/org/settings", "Orgs:Settings:Read"),
    Case("PUT", "/org/settings", "Orgs:Settings:Update", {"signAfterExport": False}),
]


def _routes(routes: list[Any]) -> list[APIRoute]:
    """The API routes, also inside included routers (FastAPI keeps those as their own
    route objects holding the original router)."""
    out: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            out.append(route)
        elif hasattr(route, "original_router"):
            out.extend(_routes(route.original_router.routes))
        elif hasattr(route, "routes"):
            out.extend(_routes(route.routes))
    return out


def _authenticated_routes(api: Api) -> dict[tuple[str, str], list[str]]:
    """Every route of the app (but the schema's own) with the operations its
    dependencies check."""
    out: dict[tuple[str, str], list[str]] = {}
    for route in _routes(api.app.routes):
        ops = [
            d.call.operation
            for d in route.dependant.dependencies
            if isinstance(d.call, RequiredPermission)
        ]
        for method in route.methods:
            out[(method, route.path)] = ops
    assert len(out) > len(CASES)
    return out


def test_every_route_checks_one_operation_or_is_listed(api: Api) -> None:
    """A route added later without a permission check (or without a case below)
    fails here."""
    routes = _authenticated_routes(api)
    cases = {(c.method, c.path): c.operation for c in CASES}
    for where, ops in routes.items():
        if where in OPEN_ROUTES or where in ADMIN_ROUTES or where in SELF_ROUTES:
            assert ops == [], where
            continue
        assert ops == [cases.get(where)], where
    assert set(cases) <= set(routes)
    assert all(op in OPERATIONS for op in cases.values())


def _fixtures(api: Api) -> dict[str, str]:
    """Resources for the routes' placeholders, made by the admin: each request gets
    its own key, wallet, signature, permission and assignment where it changes them."""
    # A wallet and its key; the signature, asked through the wallet, is the key's too.
    r2 = api.post("/wallets", {"network": "Solana"})
    assert r2.status_code == 200, r2.text
    key = r2.json()["signingKey"]
    r = api.post(f"/wallets/{r2.json()['id']}/signatures", _MESSAGE)
    assert r.status_code == 200, r.text
    r3 = api.post("/permissions", {"name": "p", "operations": ["Keys:Read"]})
    assert r3.status_code == 200, r3.text
    identity, _ = api.account()
    r4 = api.post(f"/permissions/{r3.json()['id']}/assignments", {"identityId": identity})
    assert r4.status_code == 200, r4.text
    other_identity, _ = api.account()
    # A policy, and an approval it opened on a key of its own (anyone may decide).
    held = api.create_key()
    r5 = api.post("/v2/policies", _policy(held["id"]))
    assert r5.status_code == 200, r5.text
    r6 = api.post(f"/keys/{held['id']}/signatures", _MESSAGE)
    assert r6.status_code == 202, r6.text
    audit = api.get("/audit", params={"limit": 1})
    assert audit.status_code == 200, audit.text
    victim, _ = api.account()
    return {
        "serviceAccountId": victim,
        "credentialId": api.app.state.repository.principal(api.token).token_id,
        "auditId": audit.json()["items"][0]["id"],
        "policyId": r5.json()["id"],
        "approvalId": r6.json()["approvalId"],
        "keyId": key["id"],
        "signatureId": r.json()["id"],
        "walletId": r2.json()["id"],
        "permissionId": r3.json()["id"],
        "assignmentId": r4.json()["id"],
        "identityId": other_identity,
    }


def _public_pem() -> str:
    return new_credential_key()[1]


def _policy(key_id: str) -> dict[str, Any]:
    """A signature policy on one key: always asks one approval, from anyone."""
    return {
        "name": "matrix",
        "activityKind": "Wallets:Sign",
        "rule": {"kind": "AlwaysTrigger"},
        "action": {
            "kind": "RequestApproval",
            "approvalGroups": [{"name": "anyone", "quorum": 1, "approvers": {}}],
        },
        "filters": {"keyId": {"in": [key_id]}},
    }


def _fill(value: Any, fixtures: dict[str, str]) -> Any:
    if isinstance(value, str):
        for name, v in fixtures.items():
            value = value.replace("{" + name + "}", v)
        return value
    if isinstance(value, dict):
        return {k: _fill(v, fixtures) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, fixtures) for v in value]
    return value


def _send(
    api: Api, case: Case, headers: dict[str, str], fixtures: dict[str, str]
) -> httpx.Response:
    body = case.body
    if body == "credential":
        body = {"credentialKind": "Key", "credentialName": "c", "publicKey": _public_pem()}
    if body == "service-account":
        body = {"name": "made", "publicKey": _public_pem()}
    if body == "policy":
        body = _policy(fixtures["keyId"])
    if body == "export":
        body = {
            "encryptionKey": _b64u(hpke.HpkeKeyPair.generate().public_key),
            "supportedSchemes": [{"protocol": "FROST", "curve": "ed25519"}],
        }
    return api.client.request(
        case.method, _fill(case.path, fixtures), json=_fill(body, fixtures), headers=headers
    )


def _is_permission_denied(r: httpx.Response, operation: str) -> bool:
    if r.status_code != 403:
        return False
    error = error_of(r)
    assert error["code"] == "PermissionDenied", r.text
    assert error["details"] == {"operation": operation}
    assert operation in error["message"]
    return True


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.method} {c.path}")
def test_permission_matrix(api: Api, case: Case) -> None:
    assert api.put("/org/settings", {"keyExport": True}).status_code == 200
    fixtures = _fixtures(api)
    # every other operation of the matrix, but not this one
    others = sorted({c.operation for c in CASES} - {case.operation})
    _, without = api.account(*others)
    _, nothing = api.account()
    _, holder = api.account(case.operation)
    for headers in (without, nothing):
        r = _send(api, case, headers, fixtures)
        assert _is_permission_denied(r, case.operation), r.text
    r = _send(api, case, holder, fixtures)
    assert r.status_code in case.ok, r.text
    # the admin holds every operation without any permission
    assert not _is_permission_denied(_send(api, case, api.auth, fixtures), case.operation)


def test_admin_routes_stay_admin_only(api: Api) -> None:
    _, everything = api.account(*sorted(OPERATIONS))
    for method, path in sorted(ADMIN_ROUTES):
        r = api.client.request(method, path, headers=everything)
        assert r.status_code == 403 and error_of(r)["code"] == "Forbidden", r.text
    assert api.get("/admin/refresh").status_code == 200


def test_open_routes_need_only_a_token(api: Api) -> None:
    _, nothing = api.account()
    for method, path in sorted(OPEN_ROUTES):
        assert api.client.request(method, path, headers=nothing).status_code == 200


def test_reusing_an_existing_key_for_a_wallet_needs_keys_reuse(api: Api) -> None:
    key = api.create_key()
    body = {"network": "Solana", "signingKey": {"id": key["id"]}}
    _, creator = api.account("Wallets:Create")
    r = api.client.post("/wallets", json=body, headers=creator)
    assert _is_permission_denied(r, "Keys:Reuse")
    _, reuser = api.account("Wallets:Create", "Keys:Reuse")
    r = api.client.post("/wallets", json=body, headers=reuser)
    assert r.status_code == 200, r.text
    assert r.json()["signingKey"]["id"] == key["id"]


def test_permission_is_checked_before_the_body(api: Api) -> None:
    """A caller without the permission learns nothing from validation."""
    _, nothing = api.account()
    r = api.client.post("/keys", json={"scheme": "Nope", "bogus": 1}, headers=nothing)
    assert _is_permission_denied(r, "Keys:Create")


# -- /permissions --------------------------------------------------------------------------
def test_permission_lifecycle_with_dfns_shapes(api: Api) -> None:
    r = api.post("/permissions", {"name": "signers", "operations": ["Keys:Signatures:Create"]})
    assert r.status_code == 200, r.text
    perm = r.json()
    assert set(perm) == {
        "id",
        "name",
        "operations",
        "status",
        "isImmutable",
        "isArchived",
        "dateCreated",
        "dateUpdated",
    }
    assert perm["id"].startswith("pm-")
    assert (perm["name"], perm["operations"], perm["status"]) == (
        "signers",
        ["Keys:Signatures:Create"],
        "Active",
    )
    assert (perm["isImmutable"], perm["isArchived"]) == (False, False)
    assert api.get(f"/permissions/{perm['id']}").json() == perm
    assert [p["id"] for p in api.get("/permissions").json()["items"]] == [perm["id"]]

    r = api.put(
        f"/permissions/{perm['id']}",
        {"operations": ["Keys:Read", "Keys:Read", "Wallets:Read"]},
    )
    assert r.status_code == 200, r.text
    assert r.json()["operations"] == ["Keys:Read", "Wallets:Read"]
    assert r.json()["name"] == "signers"

    account, headers = api.account()
    assert api.client.get("/keys", headers=headers).status_code == 403
    r = api.post(f"/permissions/{perm['id']}/assignments", {"identityId": account})
    assert r.status_code == 200, r.text
    assignment = r.json()
    assert set(assignment) == {
        "id",
        "permissionId",
        "identityId",
        "isImmutable",
        "dateCreated",
        "dateUpdated",
    }
    assert (assignment["permissionId"], assignment["identityId"]) == (perm["id"], account)
    assert api.client.get("/keys", headers=headers).status_code == 200
    assert api.client.get("/wallets", headers=headers).status_code == 200
    assert api.client.get("/signers", headers=headers).status_code == 403
    listed = api.get(f"/permissions/{perm['id']}/assignments").json()["items"]
    assert listed == [assignment]

    # twice is a conflict
    r = api.post(f"/permissions/{perm['id']}/assignments", {"identityId": account})
    assert r.status_code == 409 and error_of(r)["code"] == "AssignmentExists"

    # archived: grants nothing, cannot be assigned or updated; restored: grants again
    r = api.put(f"/permissions/{perm['id']}/archive", {"isArchived": True})
    assert r.status_code == 200 and r.json()["isArchived"] is True
    assert api.client.get("/keys", headers=headers).status_code == 403
    r = api.put(f"/permissions/{perm['id']}", {"name": "x"})
    assert r.status_code == 409 and error_of(r)["code"] == "PermissionArchived"
    other, _ = api.account()
    r = api.post(f"/permissions/{perm['id']}/assignments", {"identityId": other})
    assert r.status_code == 409 and error_of(r)["code"] == "PermissionArchived"
    r = api.put(f"/permissions/{perm['id']}/archive", {"isArchived": False})
    assert r.status_code == 200 and r.json()["isArchived"] is False
    assert api.client.get("/keys", headers=headers).status_code == 200

    # revoke: the assignment is gone, so is the access
    r = api.delete(f"/permissions/{perm['id']}/assignments/{assignment['id']}")
    assert r.status_code == 204 and r.content == b""
    assert api.client.get("/keys", headers=headers).status_code == 403
    assert api.get(f"/permissions/{perm['id']}/assignments").json()["items"] == []
    r = api.delete(f"/permissions/{perm['id']}/assignments/{assignment['id']}")
    assert r.status_code == 404 and error_of(r)["code"] == "AssignmentNotFound"

    # delete: archived (kept for the record)
    assert api.delete(f"/permissions/{perm['id']}").status_code == 204
    assert api.get(f"/permissions/{perm['id']}").json()["isArchived"] is True


def test_legacy_dfns_spellings_grant_the_operation(api: Api) -> None:
    wallet = api.post("/wallets", {"network": "Solana", "tags": ["a"]}).json()
    _, headers = api.account("Wallets:Tags:Delete")
    r = api.client.request(
        "DELETE", f"/wallets/{wallet['id']}/tags", json={"tags": ["a"]}, headers=headers
    )
    assert r.status_code == 200, r.text
    assert r.json()["tags"] == []


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"name": "x", "operations": ["Keys:Sign"]}, 400, "UnknownOperation"),
        ({"name": "x", "operations": ["keys:read"]}, 400, "UnknownOperation"),
        ({"name": "", "operations": []}, 400, None),
        ({"name": "x"}, 400, None),
        ({"name": "x", "operations": "Keys:Read"}, 400, None),
        ({"name": "x", "operations": [], "effect": "Allow"}, 400, None),
    ],
)
def test_bad_permission_bodies(api: Api, body: dict[str, Any], status: int, code: str) -> None:
    r = api.post("/permissions", body)
    assert r.status_code == status, r.text
    if code is not None:
        assert error_of(r)["code"] == code
    assert api.get("/permissions").json()["items"] == []


def test_every_dfns_operation_name_is_accepted(api: Api) -> None:
    ops = ["Webhooks:Read", "Keys:Delegate", "Auth:ServiceAccounts:Create", "Policies:Create"]
    r = api.post("/permissions", {"name": "all", "operations": ops})
    assert r.status_code == 200 and r.json()["operations"] == ops


def test_assignments_are_to_identities_of_the_org(api: Api) -> None:
    perm = api.post("/permissions", {"name": "p", "operations": ["Keys:Read"]}).json()
    other_org, _ = api.other_org()
    outsider, _ = create_service_account(api.database_url, other_org)
    for identity in (outsider, "sa-nope", "us-01jd3k0000000000000000000"):
        r = api.post(f"/permissions/{perm['id']}/assignments", {"identityId": identity})
        assert r.status_code == 404 and error_of(r)["code"] == "IdentityNotFound", r.text


def test_permissions_are_per_org(api: Api) -> None:
    perm = api.post("/permissions", {"name": "p", "operations": ["Keys:Read"]}).json()
    _, other = api.other_org()
    for method, path in [
        ("GET", f"/permissions/{perm['id']}"),
        ("PUT", f"/permissions/{perm['id']}/archive"),
        ("DELETE", f"/permissions/{perm['id']}"),
        ("GET", f"/permissions/{perm['id']}/assignments"),
    ]:
        body = {"isArchived": True} if method == "PUT" else None
        r = api.client.request(method, path, json=body, headers=other)
        assert r.status_code == 404 and error_of(r)["code"] == "PermissionNotFound", path
    assert api.client.get("/permissions", headers=other).json()["items"] == []
    assert api.get(f"/permissions/{perm['id']}").json()["isArchived"] is False


def test_malformed_ids_and_pagination(api: Api) -> None:
    for path in ("/permissions/nope", "/permissions/key-01jd3k0000000000000000000"):
        r = api.get(path)
        assert r.status_code == 404 and error_of(r)["code"] == "PermissionNotFound"
    perm = api.post("/permissions", {"name": "p", "operations": []}).json()
    r = api.delete(f"/permissions/{perm['id']}/assignments/nope")
    assert r.status_code == 404 and error_of(r)["code"] == "AssignmentNotFound"
    ids = [perm["id"]] + [
        api.post("/permissions", {"name": f"p{i}", "operations": []}).json()["id"] for i in range(2)
    ]
    first = api.get("/permissions", params={"limit": 2}).json()
    assert [p["id"] for p in first["items"]] == ids[::-1][:2]
    second = api.get(
        "/permissions", params={"limit": 2, "paginationToken": first["nextPageToken"]}
    ).json()
    assert [p["id"] for p in second["items"]] == ids[:1] and "nextPageToken" not in second
    r = api.get("/permissions", params={"paginationToken": "bogus"})
    assert r.status_code == 400 and error_of(r)["code"] == "InvalidPaginationToken"


# -- org settings ---------------------------------------------------------------------------
def test_org_settings_default_off_and_change_one_at_a_time(api: Api) -> None:
    assert api.get("/org/settings").json() == {
        "orgId": api.org_id,
        "keyExport": False,
        "signAfterExport": False,
    }
    r = api.put("/org/settings", {"keyExport": True})
    assert r.status_code == 200 and r.json()["keyExport"] is True
    r = api.put("/org/settings", {"signAfterExport": True})
    assert r.json() == {"orgId": api.org_id, "keyExport": True, "signAfterExport": True}
    _, other = api.other_org()
    assert api.client.get("/org/settings", headers=other).json()["keyExport"] is False
    for bad in ({}, {"keyExport": "yes"}, {"keyExport": None}, {"exportKeys": True}):
        r = api.put("/org/settings", bad)
        assert r.status_code == 400, (bad, r.text)
    assert api.get("/org/settings").json()["signAfterExport"] is True


def test_spellings_of_one_operation_grant_each_other() -> None:
    from shardvault.api.operations import EQUIVALENT, granted_by

    for group in EQUIVALENT:
        assert group <= OPERATIONS
        for op in group:
            assert granted_by(op) == group
    assert granted_by("Keys:Read") == {"Keys:Read"}
    assert "Policies:Approvals:Approve" in granted_by("Policies:Evaluations:Vote")
    assert "Policies:Evaluations:Vote" in granted_by("Policies:Approvals:Approve")


def test_assignments_page(api: Api) -> None:
    perm = api.post("/permissions", {"name": "p", "operations": ["Keys:Read"]}).json()
    path = f"/permissions/{perm['id']}/assignments"
    made = []
    for _ in range(3):
        identity, _ = api.account()
        made.append(api.post(path, {"identityId": identity}).json()["id"])
    first = api.get(path, params={"limit": 2}).json()
    assert [a["id"] for a in first["items"]] == made[::-1][:2]
    rest = api.get(path, params={"limit": 2, "paginationToken": first["nextPageToken"]}).json()
    assert [a["id"] for a in rest["items"]] == made[:1] and "nextPageToken" not in rest
    r = api.get(path, params={"paginationToken": first["nextPageToken"].upper()})
    assert r.status_code == 400
