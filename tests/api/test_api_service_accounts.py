"""Service accounts, credentials and tokens (``/auth``), in Dfns shapes."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

from apihelpers import ISO, Api, error_of
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from signinghelpers import register, signer_for
from sqlalchemy import update

from shardvault.db import make_engine, write_sessionmaker
from shardvault.db.models import ApiToken


def _pem(private: object) -> str:
    return (
        private.public_key()  # type: ignore[attr-defined]
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def _private_pem(private: object) -> str:
    return private.private_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


#: What the accounts of these tests may do (Dfns: a permission given at creation).
_OPERATIONS = ["Keys:Create", "Keys:Read", "Auth:Creds:Read"]


def _create(api: Api, name: str = "svc") -> tuple[dict[str, object], str, dict[str, str]]:
    key = ec.generate_private_key(ec.SECP256R1())
    role = api.post("/permissions", {"name": f"{name}-role", "operations": _OPERATIONS})
    assert role.status_code == 200, role.text
    r = api.post(
        "/auth/service-accounts",
        {"name": name, "publicKey": _pem(key), "permissionId": role.json()["id"]},
    )
    assert r.status_code == 200, r.text
    out = r.json()
    token = out["accessTokens"][0]["accessToken"]
    register(token, out["accessTokens"][0]["credId"], _private_pem(key))
    return out, token, {"Authorization": f"Bearer {token}"}


def test_create_service_account_in_dfns_shape(api: Api) -> None:
    out, token, _auth = _create(api)
    info = out["userInfo"]
    assert info["userId"].startswith("sa-") and info["orgId"] == api.org_id
    assert info["isActive"] and info["isServiceAccount"] and info["name"] == "svc"
    (tok,) = out["accessTokens"]
    assert tok["kind"] == "ServiceAccount" and tok["linkedUserId"] == info["userId"]
    assert tok["credId"] == info["credentialUuid"] and tok["credId"].startswith("cr-")
    assert tok["publicKey"].startswith("-----BEGIN PUBLIC KEY-----")
    assert ISO.fullmatch(tok["dateCreated"])
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert claims["https://custom/app_metadata"] == {
        "orgId": api.org_id,
        "userId": info["userId"],
        "tokenId": tok["tokenId"],
    }
    # the token is shown once
    got = api.get(f"/auth/service-accounts/{info['userId']}").json()
    assert "accessToken" not in got["accessTokens"][0]
    listed = api.get("/auth/service-accounts").json()["items"]
    assert info["userId"] in {a["userInfo"]["userId"] for a in listed}


def test_service_account_acts_and_cannot_manage_accounts(api: Api) -> None:
    _out, _token, auth = _create(api)
    r = api.client.post("/keys", json={"scheme": "EdDSA", "curve": "ed25519"}, headers=auth)
    assert r.status_code == 200, r.text
    r = api.client.get("/auth/service-accounts", headers=auth)
    assert r.status_code == 403
    assert error_of(r)["details"] == {"operation": "Auth:ServiceAccounts:Read"}
    me = api.client.get("/auth/credentials", headers=auth).json()["items"]
    assert len(me) == 1 and me[0]["isActive"] and me[0]["kind"] == "Key"


def test_update_deactivate_activate_archive(api: Api) -> None:
    out, _token, auth = _create(api)
    sid = out["userInfo"]["userId"]
    r = api.put(f"/auth/service-accounts/{sid}", {"name": "renamed", "externalId": "x1"})
    assert r.status_code == 200 and r.json()["userInfo"]["name"] == "renamed"
    r = api.put(f"/auth/service-accounts/{sid}/deactivate", {})
    assert r.status_code == 200 and r.json()["userInfo"]["isActive"] is False
    assert api.client.get("/keys", headers=auth).status_code == 401
    r = api.put(f"/auth/service-accounts/{sid}/activate")
    assert r.status_code == 200 and r.json()["userInfo"]["isActive"] is True
    assert api.client.get("/keys", headers=auth).status_code == 200
    r = api.delete(f"/auth/service-accounts/{sid}")
    assert r.status_code == 200 and r.json()["userInfo"]["isActive"] is False
    assert api.client.get("/keys", headers=auth).status_code == 401
    r = api.put(f"/auth/service-accounts/{sid}/activate")
    assert r.status_code == 409 and error_of(r)["code"] == "ServiceAccountArchived"


def test_an_admin_cannot_deactivate_itself(api: Api) -> None:
    me = signer_for(api.token)
    uid = api.get("/auth/credentials").json()["items"][0]["credentialId"]
    assert uid == me.credential_id
    accounts = api.get("/auth/service-accounts").json()["items"]
    (admin,) = [a for a in accounts if a["userInfo"]["credentialUuid"] == uid]
    r = api.put(f"/auth/service-accounts/{admin['userInfo']['userId']}/deactivate", {})
    assert r.status_code == 409 and error_of(r)["code"] == "CannotDeactivateSelf"


def test_bad_public_keys_and_unknown_accounts(api: Api) -> None:
    r = api.post("/auth/service-accounts", {"name": "x", "publicKey": "nope"})
    assert r.status_code == 400 and error_of(r)["code"] == "InvalidPublicKey"
    r = api.post("/auth/service-accounts", {"name": "x", "publicKey": "k", "permissionId": "p"})
    assert r.status_code == 404 and error_of(r)["code"] == "PermissionNotFound"
    r = api.get("/auth/service-accounts/sa-" + "0" * 26)
    assert r.status_code == 404 and error_of(r)["code"] == "ServiceAccountNotFound"
    key = ed25519.Ed25519PrivateKey.generate()
    assert api.post("/auth/service-accounts", {"name": "a", "publicKey": _pem(key)}).is_success
    r = api.post("/auth/service-accounts", {"name": "b", "publicKey": _pem(key)})
    assert r.status_code == 409 and error_of(r)["code"] == "DuplicateCredential"


def test_credentials_create_deactivate_activate(api: Api) -> None:
    extra = ed25519.Ed25519PrivateKey.generate()
    r = api.post(
        "/auth/credentials",
        {"credentialKind": "Key", "credentialName": "second", "publicKey": _pem(extra)},
    )
    assert r.status_code == 200, r.text
    new = r.json()
    assert new["credentialId"] == new["credentialUuid"] and new["isActive"]
    items = api.get("/auth/credentials").json()["items"]
    assert new["credentialId"] in {c["credentialId"] for c in items}
    # the admin's original credential deactivated: the new one signs from now on
    original = signer_for(api.token).credential_id
    r = api.put("/auth/credentials/deactivate", {"credentialUuid": original})
    assert r.status_code == 200 and r.json() == {"message": "deactivated"}
    r = api.post("/keys", {"scheme": "EdDSA", "curve": "ed25519"})
    assert r.status_code == 401  # the harness still signs with the deactivated one
    register(api.token, new["credentialId"], _private_pem(extra))
    assert api.post("/keys", {"scheme": "EdDSA", "curve": "ed25519"}).status_code == 200
    r = api.put("/auth/credentials/activate", {"credentialUuid": original})
    assert r.status_code == 200
    r = api.put("/auth/credentials/activate", {"credentialUuid": "cr-" + "0" * 26})
    assert r.status_code == 404 and error_of(r)["code"] == "CredentialNotFound"


def test_token_revocation_and_expiry(api: Api) -> None:
    out, _token, auth = _create(api)
    token_id = out["accessTokens"][0]["tokenId"]
    assert api.client.get("/keys", headers=auth).status_code == 200
    _set_expiry(api, token_id, datetime.now(UTC) - timedelta(seconds=1))
    assert api.client.get("/keys", headers=auth).status_code == 401
    _set_expiry(api, token_id, datetime.now(UTC) + timedelta(days=1))
    assert api.client.get("/keys", headers=auth).status_code == 200
    r = api.delete(f"/auth/tokens/{token_id}")
    assert r.status_code == 200 and r.json() == {"message": "revoked"}
    assert api.client.get("/keys", headers=auth).status_code == 401
    # a tampered JWT (its claims changed) is refused even with a live digest row
    head, body, sig = api.token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=="))
    claims["exp"] += 1
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    r = api.client.get("/keys", headers={"Authorization": f"Bearer {head}.{forged}.{sig}"})
    assert r.status_code == 401


def _set_expiry(api: Api, token_id: str, when: datetime) -> None:
    engine = make_engine(api.database_url)
    with write_sessionmaker(engine).begin() as s:
        s.execute(update(ApiToken).where(ApiToken.id == token_id).values(expires_at=when))
    engine.dispose()


def test_unknown_kids_reload_the_jwt_keys_at_most_every_few_seconds(api: Api) -> None:
    """Review finding 8: tokens with made-up kids do not re-read the keys each time."""
    from shardvault.api import auth as auth_module
    from shardvault.api.auth import TokenKeys

    reads = []
    real = auth_module.server_public_keys

    def counting(session: object) -> object:
        reads.append(1)
        return real(session)  # type: ignore[arg-type]

    now = [100.0]
    keys = TokenKeys(reload_seconds=5.0, clock=lambda: now[0])
    factory = api.app.state.repository._read
    auth_module.server_public_keys = counting  # type: ignore[assignment]
    try:
        with factory() as s:
            assert keys.get(s, "sk-unknown-1") is None
            assert keys.get(s, "sk-unknown-2") is None
            assert keys.get(s, "sk-unknown-3") is None
            assert len(reads) == 1
            now[0] += 5.0
            assert keys.get(s, "sk-unknown-4") is None
            assert len(reads) == 2
    finally:
        auth_module.server_public_keys = real
