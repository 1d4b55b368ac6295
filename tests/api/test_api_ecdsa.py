"""ECDSA (CGGMP24) through the REST API on the FakeVault only: many signatures checked
with libsecp256k1 (recoverable form and DER), kinds, a signature that does not verify,
ECDSA readiness in GET /health and AuxInfoNotReady (503; the fake simulates aux info
that is not ready yet, the embedded vault of the contract suite is ready once), refresh
checked against the fake's own shares and refresh faults. Behaviour both back ends
share: test_api_contract_threshold_ecdsa.py."""

from __future__ import annotations

import dataclasses
import os
import re
from typing import Any

import coincurve
import pytest
from apihelpers import Api, b64u, error_of, verify_ecdsa_signature

from shardvault.api.repository import ApiRepository
from shardvault.coordinator.backend import KeyRecord
from shardvault.crypto.groups import SECP256K1
from shardvault.crypto.shamir import split_secret
from shardvault.db import make_engine
from shardvault.errors import SignersUnavailable

SIGNERS = ["sgn-test1", "sgn-test2", "sgn-test3"]


def import_body(secret: int, protocol: str = "CGGMP24") -> dict[str, Any]:
    """An import in the FakeVault's test share format (index || scalar)."""
    shares, _ = split_secret(SECP256K1, secret, 2, 3)
    return {
        "curve": "secp256k1",
        "protocol": protocol,
        "minSigners": 2,
        "encryptedKeyShares": [
            {
                "signerId": sid,
                "encryptedKeyShare": b64u(bytes([s.index]) + s.value.to_bytes(32, "big")),
            }
            for sid, s in zip(SIGNERS, shares, strict=True)
        ],
    }


def _verifying_shares(api: Api, key_id: str) -> dict[str, str]:
    return ApiRepository(make_engine(api.database_url)).get_key(api.org_id, key_id).verifying_shares


def _h(data: bytes) -> str:
    return "0x" + data.hex()


def _sign(api: Api, key_id: str, digest: bytes, **extra: Any) -> Any:
    return api.post(f"/keys/{key_id}/signatures", {"kind": "Hash", "hash": _h(digest), **extra})


def _not_ready(api: Api, progress: float = 0.25) -> None:
    api.vault.ecdsa_ready = False
    api.vault.ecdsa_progress = progress


def test_create_ecdsa_key(api: Api) -> None:
    key = api.create_key("ECDSA", "secp256k1", name="eth")
    assert (key["scheme"], key["curve"], key["protocol"]) == ("ECDSA", "secp256k1", "CGGMP24")
    assert re.fullmatch(r"0[23][0-9a-f]{64}", key["publicKey"])
    assert key["minSigners"] == 2 and len(key["signers"]) == 3 and key["imported"] is False
    stored = api.vault.ecdsa_keys[key["id"]]
    assert stored.public_key.hex() == key["publicKey"]
    assert api.get(f"/keys/{key['id']}").json() == {**key, "wallets": []}


def test_ecdsa_hash_signature_verifies_with_coincurve(api: Api) -> None:
    key = api.create_key("ECDSA", "secp256k1")
    public_key = bytes.fromhex(key["publicKey"])
    for _ in range(8):  # several signatures: both recids and high/low raw s are likely
        digest = os.urandom(32)
        r = _sign(api, key["id"], digest)
        assert r.status_code == 200, r.text
        sig = r.json()
        assert sig["status"] == "Signed"
        assert sig["requestBody"] == {"kind": "Hash", "hash": _h(digest)}
        value = sig["signature"]
        verify_ecdsa_signature(public_key, digest, value)
        # an independent recovery from the DER form, trying every recid
        der = bytes.fromhex(value["encoded"][2:])
        compact = bytes.fromhex(value["r"][2:]) + bytes.fromhex(value["s"][2:])
        assert coincurve.PublicKey(public_key).verify(der, digest, hasher=None)
        matches = [rec for rec in range(4) if _recovers(compact + bytes([rec]), digest, public_key)]
        assert value["recid"] in matches
        # the stored request reads back the same
        again = api.get(f"/keys/{key['id']}/signatures/{sig['id']}").json()
        assert again["signature"] == value
    assert api.vault.calls["sign"] == 8


def _recovers(sig65: bytes, digest: bytes, public_key: bytes) -> bool:
    try:
        pk = coincurve.PublicKey.from_signature_and_message(sig65, digest, hasher=None)
    except Exception:
        return False
    return bool(pk.format() == public_key)


def test_ecdsa_signature_is_listed_with_recid(api: Api) -> None:
    key = api.create_key("ECDSA", "secp256k1")
    digest = os.urandom(32)
    sig = _sign(api, key["id"], digest).json()
    (listed,) = api.get(f"/keys/{key['id']}/signatures").json()["items"]
    assert listed == sig
    assert isinstance(listed["signature"]["recid"], int)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"kind": "Message", "message": "0x68656c6c6f"}, "InvalidSignatureKind"),
        ({"kind": "Hash", "hash": "0x" + "11" * 31}, "InvalidEncoding"),
        ({"kind": "Hash", "hash": "0x" + "11" * 33}, "InvalidEncoding"),
        ({"kind": "Hash", "hash": "11" * 32}, "InvalidEncoding"),
        ({"kind": "Hash", "hash": "0x" + "11" * 32, "taprootMerkleRoot": ""}, "InvalidRequest"),
    ],
)
def test_ecdsa_refuses_other_kinds_and_bad_hashes(
    api: Api, body: dict[str, Any], code: str
) -> None:
    key = api.create_key("ECDSA", "secp256k1")
    r = api.post(f"/keys/{key['id']}/signatures", body)
    assert r.status_code == 400, r.text
    err = error_of(r)
    assert err["code"] == code
    if code == "InvalidSignatureKind":
        assert "Hash" in err["message"]
    assert api.vault.calls.get("sign", 0) == 0


def test_ecdsa_signature_that_does_not_verify_is_refused(api: Api) -> None:
    key = api.create_key("ECDSA", "secp256k1")
    api.vault.ecdsa_sign_with_wrong_key = True
    r = _sign(api, key["id"], os.urandom(32))
    assert r.status_code == 500 and error_of(r)["code"] == "InternalError"
    (listed,) = api.get(f"/keys/{key['id']}/signatures").json()["items"]
    assert listed["status"] == "Failed" and "signature" not in listed


# -- readiness -----------------------------------------------------------------------------
def test_health_reports_ecdsa_progress(api: Api) -> None:
    _not_ready(api, 0.375)
    r = api.client.get("/health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "ecdsaReady": False, "auxInfoProgress": 0.375}
    api.vault.ecdsa_ready = True
    assert api.client.get("/health").json() == {
        "status": "ok",
        "ecdsaReady": True,
        "auxInfoProgress": 1.0,
    }


@pytest.mark.parametrize("progress", [-1.0, 7.0, float("nan"), float("inf")])
def test_health_clamps_progress(api: Api, progress: float) -> None:
    _not_ready(api, progress)
    body = api.client.get("/health").json()
    assert body["ecdsaReady"] is False and 0.0 <= body["auxInfoProgress"] <= 1.0


def test_health_survives_a_failing_ecdsa_status(api: Api) -> None:
    api.vault.fail["ecdsa_status"] = RuntimeError("boom")
    r = api.client.get("/health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "ecdsaReady": False, "auxInfoProgress": 0.0}
    api.vault.fail["ecdsa_status"] = SignersUnavailable("down", signers=("sgn-test1",))
    assert api.client.get("/health").json()["ecdsaReady"] is False


def _assert_aux_not_ready(r: Any) -> dict[str, Any]:
    assert r.status_code == 503, r.text
    err = error_of(r)
    assert err["code"] == "AuxInfoNotReady"
    return err


def test_ecdsa_before_aux_info_is_503(api: Api) -> None:
    ready_key = api.create_key("ECDSA", "secp256k1")
    _not_ready(api)
    _assert_aux_not_ready(api.post("/keys", {"scheme": "ECDSA", "curve": "secp256k1"}))
    assert api.get("/keys").json()["items"] == [ready_key]  # nothing stored

    _assert_aux_not_ready(
        api.post("/keys/import", api.with_context(import_body(SECP256K1.random_scalar())))
    )

    err = _assert_aux_not_ready(_sign(api, ready_key["id"], os.urandom(32)))
    sig_id = err["details"]["signatureId"]
    failed = api.get(f"/keys/{ready_key['id']}/signatures/{sig_id}").json()
    assert failed["status"] == "Failed" and failed["reason"].startswith("AuxInfoNotReady")

    _assert_aux_not_ready(api.post(f"/keys/{ready_key['id']}/refresh"))

    # FROST keys are not affected
    eddsa = api.create_key("EdDSA", "ed25519")
    r = api.post(f"/keys/{eddsa['id']}/signatures", {"kind": "Message", "message": "0x00"})
    assert r.status_code == 200

    api.vault.ecdsa_ready = True
    assert _sign(api, ready_key["id"], os.urandom(32)).status_code == 200


# -- import / export ----------------------------------------------------------------------
# -- refresh -------------------------------------------------------------------------------
@pytest.mark.parametrize("body", [None, {}])
def test_refresh_gives_new_shares_of_the_same_key(api: Api, body: Any) -> None:
    key = api.create_key("ECDSA", "secp256k1")
    before = dict(api.vault.ecdsa_keys[key["id"]].shares)
    r = api.post(f"/keys/{key['id']}/refresh", body)
    assert r.status_code == 200, r.text
    assert r.json() == key
    after = api.vault.ecdsa_keys[key["id"]]
    assert after.shares != before and after.public_key.hex() == key["publicKey"]
    assert api.vault.calls["run_epoch"] == 1
    # the API stored the new verifying shares
    assert _verifying_shares(api, key["id"]) == {
        sid: SECP256K1.mul_base(after.shares[i]).encode().hex()
        for i, sid in enumerate(api.vault.signer_ids, start=1)
    }
    digest = os.urandom(32)
    verify_ecdsa_signature(
        bytes.fromhex(key["publicKey"]), digest, _sign(api, key["id"], digest).json()["signature"]
    )


def test_refresh_that_changes_the_public_key_is_not_stored(api: Api) -> None:
    key = api.create_key("ECDSA", "secp256k1")
    before = _verifying_shares(api, key["id"])
    api.vault.refresh_changes_public_key = True
    r = api.post(f"/keys/{key['id']}/refresh")
    # new shares of another key do not interpolate to this one: nothing is stored
    assert r.status_code == 502 and error_of(r)["code"] == "InconsistentRefresh"
    assert _verifying_shares(api, key["id"]) == before
    assert api.get(f"/keys/{key['id']}").json() == {**key, "wallets": []}


def test_refresh_backend_errors_map_to_their_status(api: Api) -> None:
    key = api.create_key("ECDSA", "secp256k1")
    api.vault.fail["run_epoch"] = SignersUnavailable(
        "refresh needs every signer", signers=("sgn-test3",)
    )
    r = api.post(f"/keys/{key['id']}/refresh")
    assert r.status_code == 503
    err = error_of(r)
    assert err["code"] == "SignersUnavailable" and err["details"]["signers"] == ["sgn-test3"]


def test_refresh_is_in_the_openapi_document(api: Api) -> None:
    spec = api.client.get("/openapi.json").json()
    assert "post" in spec["paths"]["/keys/{keyId}/refresh"]
    health = spec["components"]["schemas"]["HealthOut"]
    assert set(health["properties"]) == {"status", "ecdsaReady", "auxInfoProgress"}


# (an epoch's result carries only verifying shares: threshold and signers stay the API's)
@pytest.mark.parametrize("tamper", ["share", "missing"])
def test_refresh_with_an_inconsistent_record_is_not_stored(
    api: Api, monkeypatch: pytest.MonkeyPatch, tamper: str
) -> None:
    key = api.create_key("ECDSA", "secp256k1")
    before = _verifying_shares(api, key["id"])
    original = api.vault._redeal

    async def inconsistent(record: KeyRecord) -> KeyRecord:
        out = await original(record)
        shares = dict(out.verifying_shares)
        if tamper == "share":
            shares["sgn-test3"] = SECP256K1.mul_base(SECP256K1.random_scalar()).encode()
        else:
            del shares["sgn-test3"]
        return dataclasses.replace(out, verifying_shares=shares)

    monkeypatch.setattr(api.vault, "_redeal", inconsistent)
    r = api.post(f"/keys/{key['id']}/refresh")
    assert r.status_code == 502 and error_of(r)["code"] == "InconsistentRefresh"
    assert _verifying_shares(api, key["id"]) == before
