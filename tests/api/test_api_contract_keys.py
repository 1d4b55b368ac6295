"""Contract suite, keys: create, read, list (pagination), rename, delete, the signers
list, org scoping, refusals before the back end, over the FakeVault and the real
embedded vault alike (see apibackends.py). CGGMP24 keys: test_api_contract_ecdsa.py."""

from __future__ import annotations

import hashlib
import re

import pytest
from apibackends import ContractApi
from apihelpers import ISO, KEY_ID, b64url_strict, error_of
from nacl.signing import VerifyKey

from shardvault.transport.identity import encryption_key_statement


# -- create -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("scheme", "curve", "protocol", "public_key"),
    [
        ("EdDSA", "ed25519", "FROST", r"[0-9a-f]{64}"),
        ("Schnorr", "secp256k1", "FROST_BITCOIN", r"0[23][0-9a-f]{64}"),
    ],
)
def test_create_key_of_each_frost_scheme(
    any_api: ContractApi, scheme: str, curve: str, protocol: str, public_key: str
) -> None:
    key = any_api.create_key(scheme, curve, name="treasury")
    assert KEY_ID.fullmatch(key["id"])
    assert ISO.fullmatch(key["dateCreated"])
    assert re.fullmatch(public_key, key["publicKey"])
    assert key == {
        "id": key["id"],
        "scheme": scheme,
        "curve": curve,
        "publicKey": key["publicKey"],
        "name": "treasury",
        "status": "Active",
        "custodial": True,
        "imported": False,
        "exported": False,
        "exportable": True,
        "dateCreated": key["dateCreated"],
        "protocol": protocol,
        "minSigners": 2,
        "signers": list(any_api.backend.signer_ids),
    }
    assert any_api.backend.holders(key["id"]) == set(any_api.backend.signer_ids)
    assert any_api.backend.calls["generate_key"] == 1
    assert any_api.get(f"/keys/{key['id']}").json() == {**key, "wallets": []}
    assert any_api.get("/keys").json() == {"items": [key]}


def test_create_schnorr_key(any_api: ContractApi) -> None:
    key = any_api.create_key("Schnorr", "secp256k1")
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
def test_unsupported_scheme_curve(any_api: ContractApi, scheme: str, curve: str, code: str) -> None:
    r = any_api.post("/keys", {"scheme": scheme, "curve": curve})
    assert r.status_code == 400
    assert error_of(r)["code"] == code
    assert any_api.backend.calls.get("generate_key", 0) == 0


# -- read, rename, delete ---------------------------------------------------------------
def test_get_key(any_api: ContractApi) -> None:
    key = any_api.create_key()
    assert any_api.get(f"/keys/{key['id']}").json() == {**key, "wallets": []}


@pytest.mark.parametrize(
    "key_id", ["key-01m89z0nex9nwt7vng6hqqgcp5", "key-nope", "sig-01m89z0nex9nwt7vng6hqqgcp5"]
)
def test_unknown_key_is_404(any_api: ContractApi, key_id: str) -> None:
    for r in (
        any_api.get(f"/keys/{key_id}"),
        any_api.put(f"/keys/{key_id}", {"name": "x"}),
        any_api.delete(f"/keys/{key_id}"),
        any_api.get(f"/keys/{key_id}/signatures"),
        any_api.post(f"/keys/{key_id}/signatures", {"kind": "Message", "message": "0x00"}),
        any_api.post(f"/keys/{key_id}/refresh"),
    ):
        assert r.status_code == 404
        assert error_of(r)["code"] == "KeyNotFound"
    assert any_api.backend.calls == {}


def test_rename_key(any_api: ContractApi) -> None:
    key = any_api.create_key(name="old")
    r = any_api.put(f"/keys/{key['id']}", {"name": "new"})
    assert r.status_code == 200
    assert r.json() == {**key, "name": "new"}
    assert any_api.get(f"/keys/{key['id']}").json()["name"] == "new"


def test_delete_archives_and_erases(any_api: ContractApi) -> None:
    key = any_api.create_key()
    r = any_api.delete(f"/keys/{key['id']}")
    assert r.status_code == 200
    assert r.json()["status"] == "Archived"
    assert any_api.backend.holders(key["id"]) == set()
    assert any_api.get(f"/keys/{key['id']}").json()["status"] == "Archived"
    # idempotent: the signers are not asked again
    r = any_api.delete(f"/keys/{key['id']}")
    assert r.status_code == 200 and r.json()["status"] == "Archived"
    assert any_api.backend.calls["delete_key"] == 1
    # and it refuses to sign
    r = any_api.post(f"/keys/{key['id']}/signatures", {"kind": "Message", "message": "0x00"})
    assert r.status_code == 409
    assert error_of(r)["code"] == "KeyArchived"
    assert any_api.backend.calls.get("sign", 0) == 0


# -- list and pagination ----------------------------------------------------------------
def test_list_pagination_is_stable_and_newest_first(any_api: ContractApi) -> None:
    created = [any_api.create_key(name=f"k{i}")["id"] for i in range(7)]
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"limit": 3}
        if token:
            params["paginationToken"] = token
        body = any_api.get("/keys", params=params).json()
        pages += 1
        seen += [k["id"] for k in body["items"]]
        token = body.get("nextPageToken")
        if token is None:
            break
        assert set(body) == {"items", "nextPageToken"}
    assert pages == 3
    assert seen == sorted(created, reverse=True)
    assert sorted(seen) == sorted(created)
    assert any_api.get("/keys").json()["items"][0]["id"] == seen[0]


def test_list_exact_page_has_no_next_token(any_api: ContractApi) -> None:
    for _ in range(2):
        any_api.create_key()
    body = any_api.get("/keys", params={"limit": 2}).json()
    assert len(body["items"]) == 2 and "nextPageToken" not in body


# -- signers ----------------------------------------------------------------------------
def test_signers_json_and_encodings(any_api: ContractApi) -> None:
    body = any_api.get("/signers").json()
    assert list(body) == ["clusters"]
    (cluster,) = body["clusters"]
    assert cluster["clusterId"] == any_api.backend.cluster_id
    assert [s["signerId"] for s in cluster["signers"]] == list(any_api.backend.signer_ids)
    # The one addition to the Dfns shape: the fingerprint of the roster every signer
    # signed (docs/security.md item 30), recomputed here from the roster's entries.
    roster = any_api.backend.roster
    assert roster is not None
    roster.verify()
    assert set(cluster) == {"clusterId", "signers", "rosterFingerprint"}
    assert cluster["rosterFingerprint"] == hashlib.sha256(roster.canonical_bytes()).hexdigest()
    listed = {s["signerId"]: b64url_strict(s["identityKey"]) for s in cluster["signers"]}
    assert listed == roster.identity_keys()
    for s in cluster["signers"]:
        assert set(s) == {"signerId", "encryptionKey", "identityKey", "encryptionKeySignature"}
        enc = b64url_strict(s["encryptionKey"])
        ident = b64url_strict(s["identityKey"])
        sig = b64url_strict(s["encryptionKeySignature"])
        assert len(enc) == 32 and len(ident) == 32 and len(sig) == 64
        VerifyKey(ident).verify(encryption_key_statement(s["signerId"], enc), sig)


# -- org scoping ------------------------------------------------------------------------
def test_other_orgs_cannot_see_or_touch_keys(any_api: ContractApi) -> None:
    key = any_api.create_key()
    sig = any_api.post(
        f"/keys/{key['id']}/signatures", {"kind": "Message", "message": "0x01"}
    ).json()
    _other_id, other = any_api.other_org()
    kid = key["id"]
    assert any_api.client.get("/keys", headers=other).json() == {"items": []}
    for r in (
        any_api.client.get(f"/keys/{kid}", headers=other),
        any_api.client.put(f"/keys/{kid}", json={"name": "mine"}, headers=other),
        any_api.client.delete(f"/keys/{kid}", headers=other),
        any_api.client.get(f"/keys/{kid}/signatures", headers=other),
        any_api.client.get(f"/keys/{kid}/signatures/{sig['id']}", headers=other),
        any_api.client.post(
            f"/keys/{kid}/signatures", json={"kind": "Message", "message": "0x02"}, headers=other
        ),
    ):
        assert r.status_code == 404
        assert error_of(r)["code"] == "KeyNotFound"
    assert any_api.get(f"/keys/{kid}").json() == {**key, "wallets": []}
    assert any_api.backend.calls["sign"] == 1
    # and the other org's own keys are its own
    mine = any_api.client.post(
        "/keys", json={"scheme": "EdDSA", "curve": "ed25519"}, headers=other
    ).json()
    assert [k["id"] for k in any_api.get("/keys").json()["items"]] == [kid]
    assert any_api.get(f"/keys/{mine['id']}").status_code == 404


# -- refresh (only CGGMP24 keys refresh) -------------------------------------------------
def test_refresh_of_frost_keys_runs_the_group_epoch(any_api: ContractApi) -> None:
    """EdDSA and Schnorr keys are refreshed too: POST /keys/{keyId}/refresh runs the
    group epoch (docs/security.md item 28) and answers with the same key. (An epoch
    renews the aux info too, so it waits for the first one.)"""
    any_api.backend.wait_ecdsa_ready()
    bodies = {
        "EdDSA": {"kind": "Message", "message": "0x00"},
        "Schnorr": {"kind": "Hash", "hash": "0x" + "11" * 32},
    }
    for scheme, curve in (("EdDSA", "ed25519"), ("Schnorr", "secp256k1")):
        key = any_api.create_key(scheme, curve)
        r = any_api.post(f"/keys/{key['id']}/refresh")
        assert r.status_code == 200, r.text
        assert r.json()["publicKey"] == key["publicKey"]
        r = any_api.post(f"/keys/{key['id']}/signatures", bodies[scheme])
        assert r.status_code == 200, r.text
    assert any_api.backend.calls.get("run_epoch", 0) == 2


# -- signers offline ----------------------------------------------------------------------
def test_generation_needs_every_signer_and_stores_nothing(any_api: ContractApi) -> None:
    ids = any_api.backend.signer_ids
    any_api.backend.take_offline(ids[1])
    r = any_api.post("/keys", {"scheme": "EdDSA", "curve": "ed25519"})
    assert r.status_code == 503
    err = error_of(r)
    assert err["code"] == "SignersUnavailable"
    assert err["details"]["signers"] == [ids[1]]
    (key_id,) = any_api.backend.new_key_ids
    assert any_api.backend.holders(key_id) == set()
    assert any_api.get("/keys").json() == {"items": []}


def test_delete_with_a_signer_offline_stays_archived_and_retries(any_api: ContractApi) -> None:
    key = any_api.create_key()
    ids = any_api.backend.signer_ids
    any_api.backend.take_offline(ids[2])
    r = any_api.delete(f"/keys/{key['id']}")
    assert r.status_code == 503
    assert error_of(r)["details"]["signers"] == [ids[2]]
    # fail closed: archived, no signing
    assert any_api.get(f"/keys/{key['id']}").json()["status"] == "Archived"
    r = any_api.post(f"/keys/{key['id']}/signatures", {"kind": "Message", "message": "0x00"})
    assert error_of(r)["code"] == "KeyArchived"
    any_api.backend.bring_online(ids[2])
    r = any_api.delete(f"/keys/{key['id']}")
    assert r.status_code == 200 and r.json()["status"] == "Archived"
    assert any_api.backend.calls["delete_key"] == 2
    assert any_api.backend.holders(key["id"]) == set()
