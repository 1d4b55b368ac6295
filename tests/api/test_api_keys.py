"""Keys on the FakeVault only: what the fake holds after a key is created, faults it
injects (generation, deletion, an inconsistent record), app settings, request
validation. Behaviour both back ends share: test_api_contract_keys.py."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest
from apihelpers import ISO, KEY_ID, Api, FakeVault, error_of
from fastapi.testclient import TestClient

from shardvault.api import create_app, ensure_admin
from shardvault.coordinator.backend import KeyRecord
from shardvault.errors import SignersUnavailable


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
        "exportable": True,
        "dateCreated": key["dateCreated"],
        "protocol": "FROST",
        "minSigners": 2,
        "signers": ["sgn-test1", "sgn-test2", "sgn-test3"],
    }
    stored = api.vault.keys[key["id"]]
    assert stored.public.group_public_key.encode().hex() == key["publicKey"]


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
@pytest.mark.parametrize("body", [{}, {"name": ""}, {"name": None}, {"name": "x" * 256}])
def test_rename_validation(api: Api, body: dict[str, object]) -> None:
    key = api.create_key()
    r = api.put(f"/keys/{key['id']}", body)
    assert r.status_code == 400
    assert error_of(r)["code"] == "InvalidRequest"


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
@pytest.mark.parametrize(
    "token", ["garbage", "a2V5LW5vcGU", "c2lnLTAxbTg5ejBuZnQyZGFlZ3RlMDNlaGU1ZnBo", "==", ""]
)
def test_bad_pagination_token_is_400(api: Api, token: str) -> None:
    r = api.get("/keys", params={"paginationToken": token})
    assert r.status_code == 400
    assert error_of(r)["code"] == "InvalidPaginationToken"


# -- signers ----------------------------------------------------------------------------
# -- org scoping ------------------------------------------------------------------------
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
