"""Keys: create, read, list (pagination), rename, delete; signers; org scoping."""

from __future__ import annotations

import base64
import dataclasses
import json
import re
from pathlib import Path

import pytest
from apihelpers import Api, FakeVault, error_of
from fastapi.testclient import TestClient
from nacl.signing import VerifyKey

from shardvault.api import create_app, ensure_admin
from shardvault.coordinator.backend import KeyRecord
from shardvault.errors import SignersUnavailable
from shardvault.transport.identity import encryption_key_statement

KEY_ID = re.compile(r"key-[0-7][0-9a-hjkmnp-tv-z]{25}")
ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def b64url_strict(value: str) -> bytes:
    assert "=" not in value and "+" not in value and "/" not in value
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


# -- create -----------------------------------------------------------------------------
def test_create_eddsa_key(api: Api) -> None:
    key = api.create_key("EdDSA", "ed25519", name="treasury")
    assert KEY_ID.fullmatch(key["id"])
    assert ISO.fullmatch(key["dateCreated"])
    assert re.fullmatch(r"[0-9a-f]{64}", key["publicKey"])
    assert key == {
        "id": key["id"],
        "scheme": "EdDSA",
        "curve": "ed25519",
        "publicKey": key["publicKey"],
        "name": "treasury",
        "status": "Active",
        "custodial": True,
        "imported": False,
        "exported": False,
        "dateCreated": key["dateCreated"],
        "protocol": "FROST",
        "minSigners": 2,
        "signers": ["sgn-test1", "sgn-test2", "sgn-test3"],
    }
    stored = api.vault.keys[key["id"]]
    assert stored.public.group_public_key.encode().hex() == key["publicKey"]


def test_create_schnorr_key(api: Api) -> None:
    key = api.create_key("Schnorr", "secp256k1")
    assert key["protocol"] == "FROST_BITCOIN"
    assert re.fullmatch(r"0[23][0-9a-f]{64}", key["publicKey"])
    assert "name" not in key  # absent, not null


@pytest.mark.parametrize(
    ("scheme", "curve", "code"),
    [
        ("ECDSA", "ed25519", "UnsupportedScheme"),
        ("EdDSA", "secp256k1", "UnsupportedScheme"),
        ("Schnorr", "ed25519", "UnsupportedScheme"),
        ("RSA", "ed25519", "UnsupportedScheme"),
        ("EdDSA", "ED25519", "UnsupportedScheme"),
    ],
)
def test_unsupported_scheme_curve(api: Api, scheme: str, curve: str, code: str) -> None:
    r = api.post("/keys", {"scheme": scheme, "curve": curve})
    assert r.status_code == 400
    assert error_of(r)["code"] == code
    assert api.vault.calls.get("generate_key", 0) == 0


def test_generation_failure_stores_nothing(api: Api) -> None:
    api.vault.fail["generate_key"] = SignersUnavailable(
        "need 2 signers", signers=("sgn-test2", "sgn-test3")
    )
    r = api.post("/keys", {"scheme": "EdDSA", "curve": "ed25519"})
    assert r.status_code == 503
    assert error_of(r)["details"]["signers"] == ["sgn-test2", "sgn-test3"]
    assert api.get("/keys").json() == {"items": []}


def test_default_min_signers_is_configurable(
    vault: FakeVault, database_url: str, tmp_path: Path
) -> None:
    creds = ensure_admin(database_url, tmp_path / "data", "http://testserver")
    token = json.loads(creds.read_text())["token"]
    app = create_app(vault, database_url, default_min_signers=3)
    with TestClient(app) as client:
        r = client.post(
            "/keys",
            json={"scheme": "EdDSA", "curve": "ed25519"},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert r.json()["minSigners"] == 3


def test_create_app_rejects_bad_settings(vault: FakeVault, database_url: str) -> None:
    with pytest.raises(ValueError):
        create_app(vault, database_url, max_body_bytes=0)
    with pytest.raises(ValueError):
        create_app(vault, database_url, default_min_signers=0)
    with pytest.raises(ValueError):
        create_app(vault, database_url, large_request_bytes=-1)
    app = create_app(vault, database_url, large_request_bytes=10_000)
    assert app.state.signing.large_request_bytes == 10_000
    assert app.state.signing.is_large("10001") and not app.state.signing.is_large("10000")
    assert app.state.signing.is_large(None) and app.state.signing.is_large("-1")


# -- read, rename, delete ---------------------------------------------------------------
def test_get_key(api: Api) -> None:
    key = api.create_key()
    assert api.get(f"/keys/{key['id']}").json() == key


@pytest.mark.parametrize(
    "key_id", ["key-01m89z0nex9nwt7vng6hqqgcp5", "key-nope", "sig-01m89z0nex9nwt7vng6hqqgcp5"]
)
def test_unknown_key_is_404(api: Api, key_id: str) -> None:
    for r in (
        api.get(f"/keys/{key_id}"),
        api.put(f"/keys/{key_id}", {"name": "x"}),
        api.delete(f"/keys/{key_id}"),
        api.get(f"/keys/{key_id}/signatures"),
        api.post(f"/keys/{key_id}/signatures", {"kind": "Message", "message": "0x00"}),
    ):
        assert r.status_code == 404
        assert error_of(r)["code"] == "KeyNotFound"


def test_rename_key(api: Api) -> None:
    key = api.create_key(name="old")
    r = api.put(f"/keys/{key['id']}", {"name": "new"})
    assert r.status_code == 200
    assert r.json() == {**key, "name": "new"}
    assert api.get(f"/keys/{key['id']}").json()["name"] == "new"


@pytest.mark.parametrize("body", [{}, {"name": ""}, {"name": None}, {"name": "x" * 256}])
def test_rename_validation(api: Api, body: dict[str, object]) -> None:
    key = api.create_key()
    r = api.put(f"/keys/{key['id']}", body)
    assert r.status_code == 400
    assert error_of(r)["code"] == "InvalidRequest"


def test_delete_archives_and_erases(api: Api) -> None:
    key = api.create_key()
    r = api.delete(f"/keys/{key['id']}")
    assert r.status_code == 200
    assert r.json()["status"] == "Archived"
    assert key["id"] not in api.vault.keys
    assert api.get(f"/keys/{key['id']}").json()["status"] == "Archived"
    # idempotent: the signers are not asked again
    r = api.delete(f"/keys/{key['id']}")
    assert r.status_code == 200 and r.json()["status"] == "Archived"
    assert api.vault.calls["delete_key"] == 1
    # and it refuses to sign
    r = api.post(f"/keys/{key['id']}/signatures", {"kind": "Message", "message": "0x00"})
    assert r.status_code == 409
    assert error_of(r)["code"] == "KeyArchived"
    assert api.vault.calls.get("sign", 0) == 0


def test_delete_failure_keeps_key_archived_and_retries(api: Api) -> None:
    key = api.create_key()
    api.vault.fail["delete_key"] = SignersUnavailable("signer down", signers=("sgn-test3",))
    r = api.delete(f"/keys/{key['id']}")
    assert r.status_code == 503
    # fail closed: archived, no signing
    assert api.get(f"/keys/{key['id']}").json()["status"] == "Archived"
    r = api.post(f"/keys/{key['id']}/signatures", {"kind": "Message", "message": "0x00"})
    assert error_of(r)["code"] == "KeyArchived"
    del api.vault.fail["delete_key"]
    assert api.delete(f"/keys/{key['id']}").status_code == 200
    assert api.vault.calls["delete_key"] == 2
    assert key["id"] not in api.vault.keys


# -- list and pagination ----------------------------------------------------------------
def test_list_pagination_is_stable_and_newest_first(api: Api) -> None:
    created = [api.create_key(name=f"k{i}")["id"] for i in range(7)]
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"limit": 3}
        if token:
            params["paginationToken"] = token
        body = api.get("/keys", params=params).json()
        pages += 1
        seen += [k["id"] for k in body["items"]]
        token = body.get("nextPageToken")
        if token is None:
            break
        assert set(body) == {"items", "nextPageToken"}
    assert pages == 3
    assert seen == sorted(created, reverse=True)
    assert sorted(seen) == sorted(created)
    assert api.get("/keys").json()["items"][0]["id"] == seen[0]


def test_list_exact_page_has_no_next_token(api: Api) -> None:
    for _ in range(2):
        api.create_key()
    body = api.get("/keys", params={"limit": 2}).json()
    assert len(body["items"]) == 2 and "nextPageToken" not in body


@pytest.mark.parametrize(
    "token", ["garbage", "a2V5LW5vcGU", "c2lnLTAxbTg5ejBuZnQyZGFlZ3RlMDNlaGU1ZnBo", "==", ""]
)
def test_bad_pagination_token_is_400(api: Api, token: str) -> None:
    r = api.get("/keys", params={"paginationToken": token})
    assert r.status_code == 400
    assert error_of(r)["code"] == "InvalidPaginationToken"


# -- signers ----------------------------------------------------------------------------
def test_signers_json_and_encodings(api: Api) -> None:
    body = api.get("/signers").json()
    assert list(body) == ["clusters"]
    (cluster,) = body["clusters"]
    assert cluster["clusterId"] == "cl-test"
    assert [s["signerId"] for s in cluster["signers"]] == ["sgn-test1", "sgn-test2", "sgn-test3"]
    for s in cluster["signers"]:
        assert set(s) == {"signerId", "encryptionKey", "identityKey", "encryptionKeySignature"}
        enc = b64url_strict(s["encryptionKey"])
        ident = b64url_strict(s["identityKey"])
        sig = b64url_strict(s["encryptionKeySignature"])
        assert len(enc) == 32 and len(ident) == 32 and len(sig) == 64
        VerifyKey(ident).verify(encryption_key_statement(s["signerId"], enc), sig)


# -- org scoping ------------------------------------------------------------------------
def test_other_orgs_cannot_see_or_touch_keys(api: Api) -> None:
    key = api.create_key()
    sig = api.post(f"/keys/{key['id']}/signatures", {"kind": "Message", "message": "0x01"}).json()
    _other_id, other = api.other_org()
    kid = key["id"]
    assert api.client.get("/keys", headers=other).json() == {"items": []}
    for r in (
        api.client.get(f"/keys/{kid}", headers=other),
        api.client.put(f"/keys/{kid}", json={"name": "mine"}, headers=other),
        api.client.delete(f"/keys/{kid}", headers=other),
        api.client.get(f"/keys/{kid}/signatures", headers=other),
        api.client.get(f"/keys/{kid}/signatures/{sig['id']}", headers=other),
        api.client.post(
            f"/keys/{kid}/signatures", json={"kind": "Message", "message": "0x02"}, headers=other
        ),
    ):
        assert r.status_code == 404
        assert error_of(r)["code"] == "KeyNotFound"
    assert api.get(f"/keys/{kid}").json() == key
    assert api.vault.calls["sign"] == 1
    # and the other org's own keys are its own
    mine = api.client.post(
        "/keys", json={"scheme": "EdDSA", "curve": "ed25519"}, headers=other
    ).json()
    assert [k["id"] for k in api.get("/keys").json()["items"]] == [kid]
    assert api.get(f"/keys/{mine['id']}").status_code == 404


def test_inconsistent_backend_record_is_500_and_discarded(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = api.vault.generate_key

    async def wrong_threshold(key_id: str, protocol: str, curve: str, t: int) -> KeyRecord:
        record = await real(key_id, protocol, curve, t)
        return dataclasses.replace(record, min_signers=3)

    monkeypatch.setattr(api.vault, "generate_key", wrong_threshold)
    r = api.post("/keys", {"scheme": "EdDSA", "curve": "ed25519"})
    assert r.status_code == 500
    assert error_of(r)["code"] == "InternalError"
    assert api.vault.calls["delete_key"] == 1 and api.vault.keys == {}
    assert api.get("/keys").json() == {"items": []}
