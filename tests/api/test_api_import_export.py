"""Import request validation (API level; the real share format is the dealer's job)
and the export flow: off by default, on per org, then the key stops signing."""

from __future__ import annotations

import base64
import os
from typing import Any

import coincurve
import pytest
from apihelpers import EXPORT_INFO, Api, b64u, error_of, verify_bip340
from nacl.bindings import crypto_scalarmult_ed25519_base_noclamp
from nacl.signing import VerifyKey

from shardvault.api import set_key_export
from shardvault.crypto import hpke
from shardvault.crypto.groups import ED25519, SECP256K1, Group
from shardvault.crypto.shamir import interpolate_secret, split_secret
from shardvault.errors import InvalidImport, SignersUnavailable

SIGNERS = ["sgn-test1", "sgn-test2", "sgn-test3"]


def shares_in_test_format(group: Group, secret: int, t: int = 2) -> list[dict[str, str]]:
    """Shares in the FakeVault's test format (index || scalar), NOT the dealer format."""
    shares, _ = split_secret(group, secret, t, 3)
    return [
        {"signerId": sid, "encryptedKeyShare": b64u(bytes([s.index]) + s.value.to_bytes(32, "big"))}
        for sid, s in zip(SIGNERS, shares, strict=True)
    ]


def import_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "curve": "ed25519",
        "protocol": "FROST",
        "minSigners": 2,
        "encryptedKeyShares": shares_in_test_format(ED25519, ED25519.random_scalar()),
    }
    body.update(overrides)
    return body


# -- import: validation -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"protocol": "GG18"}, "UnsupportedProtocol"),
        ({"protocol": "FROST", "curve": "secp256k1"}, "UnsupportedProtocol"),
        ({"protocol": "FROST_BITCOIN", "curve": "ed25519"}, "UnsupportedProtocol"),
        ({"curve": "p256"}, "UnsupportedProtocol"),
        ({"protocol": "CGGMP24", "curve": "ed25519"}, "UnsupportedProtocol"),
        ({"protocol": "CGGMP21", "curve": "ed25519"}, "UnsupportedProtocol"),
        ({"protocol": "cggmp24", "curve": "secp256k1"}, "UnsupportedProtocol"),
        ({"minSigners": 0}, "InvalidMinSigners"),
        ({"minSigners": 1}, "InvalidMinSigners"),
        ({"minSigners": -1}, "InvalidMinSigners"),
        ({"minSigners": 4}, "InvalidMinSigners"),
        ({"minSigners": "2"}, "InvalidRequest"),
        ({"minSigners": 2.5}, "InvalidRequest"),
        ({"encryptedKeyShares": []}, "InvalidRequest"),
        ({"encryptedKeyShares": [{"signerId": "sgn-test1"}]}, "InvalidRequest"),
        ({"encryptedKeyShares": "abc"}, "InvalidRequest"),
        ({"name": ""}, "InvalidRequest"),
        ({"extra": 1}, "InvalidRequest"),
    ],
)
def test_import_validation_codes(api: Api, overrides: dict[str, Any], code: str) -> None:
    r = api.post("/keys/import", api.with_context(import_body(**overrides)))
    assert r.status_code == 400
    assert error_of(r)["code"] == code
    assert api.vault.calls.get("import_key", 0) == 0
    assert api.get("/keys").json() == {"items": []}


@pytest.mark.parametrize("missing", ["curve", "protocol", "minSigners", "encryptedKeyShares"])
def test_import_missing_fields(api: Api, missing: str) -> None:
    body = import_body()
    del body[missing]
    r = api.post("/keys/import", api.with_context(body))
    assert r.status_code == 400
    err = error_of(r)
    assert err["code"] == "InvalidRequest"
    assert err["details"]["errors"][0]["field"] == missing


@pytest.mark.parametrize(
    "blob",
    [
        "AAEC=",  # padding
        "AAECAw==",
        "AA+C",  # standard alphabet
        "AA/C",
        "AA C",
        "A",  # impossible length
        "AAF",  # non-canonical trailing bits (AAE is canonical)
        "ÄÖÜ",
    ],
)
def test_import_bad_base64url_names_the_field(api: Api, blob: str) -> None:
    body = import_body()
    body["encryptedKeyShares"][1]["encryptedKeyShare"] = blob
    r = api.post("/keys/import", api.with_context(body))
    assert r.status_code == 400
    err = error_of(r)
    assert err["code"] == "InvalidEncoding"
    assert err["details"] == {"field": "encryptedKeyShares.1.encryptedKeyShare"}
    assert api.vault.calls.get("import_key", 0) == 0


def test_import_duplicate_signer(api: Api) -> None:
    body = import_body()
    body["encryptedKeyShares"][2]["signerId"] = "sgn-test1"
    r = api.post("/keys/import", api.with_context(body))
    assert r.status_code == 400
    err = error_of(r)
    assert err["code"] == "DuplicateSigner"
    assert err["details"] == {"signers": ["sgn-test1"]}


@pytest.mark.parametrize(
    "mutate",
    [
        lambda b: b["encryptedKeyShares"].pop(),  # missing signer
        lambda b: b["encryptedKeyShares"].__setitem__(
            0, {"signerId": "sgn-evil", "encryptedKeyShare": "AAEC"}
        ),  # unknown signer
        lambda b: b["encryptedKeyShares"][0].__setitem__("encryptedKeyShare", "AAEC"),  # bad share
    ],
)
def test_backend_rejection_is_400_and_stores_nothing(api: Api, mutate: Any) -> None:
    body = import_body()
    mutate(body)
    r = api.post("/keys/import", api.with_context(body))
    assert r.status_code == 400, r.text
    err = error_of(r)
    assert err["code"] in {"SignerMismatch", "InvalidShare"}
    assert err["details"]["signers"]
    assert api.vault.calls["import_key"] == 1
    assert api.get("/keys").json() == {"items": []}
    assert api.vault.keys == {}


def test_backend_error_codes_pass_through(api: Api) -> None:
    api.vault.fail["import_key"] = InvalidImport(
        "commitments disagree between signers",
        code="CommitmentMismatch",
        signers=("sgn-test2",),
    )
    r = api.post("/keys/import", api.with_context(import_body()))
    assert r.status_code == 400
    assert error_of(r) == {
        "code": "CommitmentMismatch",
        "message": "commitments disagree between signers",
        "details": {"signers": ["sgn-test2"]},
    }
    assert api.get("/keys").json() == {"items": []}


# -- import: success (test format) ------------------------------------------------------
def test_import_ed25519_then_sign_under_the_original_key(api: Api) -> None:
    secret = ED25519.random_scalar()
    body = import_body(name="imported", encryptedKeyShares=shares_in_test_format(ED25519, secret))
    r = api.post("/keys/import", api.with_context(body))
    assert r.status_code == 200, r.text
    key = r.json()
    expected_pub = crypto_scalarmult_ed25519_base_noclamp(secret.to_bytes(32, "little"))
    assert key["publicKey"] == expected_pub.hex()
    assert key["imported"] is True and key["scheme"] == "EdDSA" and key["name"] == "imported"
    msg = b"imported key signs"
    sig = api.post(
        f"/keys/{key['id']}/signatures", {"kind": "Message", "message": "0x" + msg.hex()}
    )
    VerifyKey(expected_pub).verify(msg, bytes.fromhex(sig.json()["signature"]["encoded"][2:]))


def test_import_secp256k1_frost_bitcoin(api: Api) -> None:
    secret = SECP256K1.random_scalar()
    body = import_body(
        curve="secp256k1",
        protocol="FROST_BITCOIN",
        encryptedKeyShares=shares_in_test_format(SECP256K1, secret),
    )
    key = api.post("/keys/import", api.with_context(body)).json()
    pub = coincurve.PrivateKey(secret.to_bytes(32, "big")).public_key.format()
    assert key["publicKey"] == pub.hex()
    assert key["scheme"] == "Schnorr"
    digest = os.urandom(32)
    sig = api.post(
        f"/keys/{key['id']}/signatures",
        {"kind": "Hash", "hash": "0x" + digest.hex(), "taprootMerkleRoot": ""},
    ).json()
    assert verify_bip340(pub, digest, bytes.fromhex(sig["signature"]["encoded"][2:]), b"")


# -- export -----------------------------------------------------------------------------
def export_body(requester: hpke.HpkeKeyPair, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "encryptionKey": b64u(requester.public_key),
        "supportedSchemes": [{"protocol": "FROST", "curve": "ed25519"}],
    }
    body.update(overrides)
    return body


def test_export_is_disabled_by_default(api: Api) -> None:
    key = api.create_key()
    r = api.post(f"/keys/{key['id']}/export", export_body(hpke.HpkeKeyPair.generate()))
    assert r.status_code == 403
    assert error_of(r)["code"] == "KeyExportDisabled"
    assert api.vault.calls.get("export_key", 0) == 0
    assert api.get(f"/keys/{key['id']}").json()["exported"] is False


def test_export_flow_returns_shares_and_stops_signing(api: Api) -> None:
    secret = ED25519.random_scalar()
    body = import_body(encryptedKeyShares=shares_in_test_format(ED25519, secret))
    key = api.post("/keys/import", api.with_context(body)).json()
    assert set_key_export(api.database_url, True, org_id=api.org_id) == api.org_id
    requester = hpke.HpkeKeyPair.generate()
    r = api.post(f"/keys/{key['id']}/export", export_body(requester))
    assert r.status_code == 200, r.text
    out = r.json()
    assert set(out) == {"publicKey", "protocol", "curve", "minSigners", "encryptedKeyShares"}
    assert (out["publicKey"], out["protocol"], out["curve"], out["minSigners"]) == (
        key["publicKey"],
        "FROST",
        "ed25519",
        2,
    )
    shares: dict[int, int] = {}
    for item in out["encryptedKeyShares"]:
        assert set(item) == {"signerId", "encryptedKeyShare"}
        sealed = base64.urlsafe_b64decode(item["encryptedKeyShare"] + "==")
        assert "=" not in item["encryptedKeyShare"]
        plain = hpke.open_sealed(requester, sealed, info=EXPORT_INFO, aad=item["signerId"].encode())
        shares[plain[0]] = int.from_bytes(plain[1:], "big")
    assert interpolate_secret(ED25519, {i: shares[i] for i in (1, 3)}) == secret

    after = api.get(f"/keys/{key['id']}").json()
    assert after["exported"] is True
    assert after["dateExported"] >= after["dateCreated"]
    r = api.post(f"/keys/{key['id']}/signatures", {"kind": "Message", "message": "0x01"})
    assert r.status_code == 409
    assert error_of(r)["code"] == "KeyExported"
    assert api.vault.calls.get("sign", 0) == 0
    # a second export is allowed and keeps the first export date
    again = api.post(f"/keys/{key['id']}/export", export_body(hpke.HpkeKeyPair.generate()))
    assert again.status_code == 200
    assert api.get(f"/keys/{key['id']}").json()["dateExported"] == after["dateExported"]


def test_export_checks(api: Api) -> None:
    set_key_export(api.database_url, True, org_id=api.org_id)
    key = api.create_key()
    requester = hpke.HpkeKeyPair.generate()
    path = f"/keys/{key['id']}/export"

    r = api.post(
        path,
        export_body(
            requester, supportedSchemes=[{"protocol": "FROST_BITCOIN", "curve": "secp256k1"}]
        ),
    )
    assert r.status_code == 400 and error_of(r)["code"] == "UnsupportedScheme"
    r = api.post(path, export_body(requester, supportedSchemes=[]))
    assert r.status_code == 400 and error_of(r)["code"] == "InvalidRequest"
    for bad in (
        b64u(requester.public_key) + "=",
        b64u(requester.public_key[:31]),
        b64u(bytes(32)),  # small-order X25519 point
        "not base64!",
    ):
        r = api.post(path, export_body(requester, encryptionKey=bad))
        assert r.status_code == 400, bad
        err = error_of(r)
        assert err["code"] == "InvalidEncoding"
        assert err["details"] == {"field": "encryptionKey"}
    r = api.post("/keys/key-01m89z0nex9nwt7vng6hqqgcp5/export", export_body(requester))
    assert r.status_code == 404
    assert api.vault.calls.get("export_key", 0) == 0
    assert api.get(f"/keys/{key['id']}").json()["exported"] is False

    api.delete(f"/keys/{key['id']}")
    r = api.post(path, export_body(requester))
    assert r.status_code == 409 and error_of(r)["code"] == "KeyArchived"


def test_failed_export_leaves_the_key_signing(api: Api) -> None:
    set_key_export(api.database_url, True, org_id=api.org_id)
    key = api.create_key()
    api.vault.fail["export_key"] = SignersUnavailable("signer down", signers=("sgn-test2",))
    r = api.post(f"/keys/{key['id']}/export", export_body(hpke.HpkeKeyPair.generate()))
    assert r.status_code == 503
    after = api.get(f"/keys/{key['id']}").json()
    assert after["exported"] is False and "dateExported" not in after
    r = api.post(f"/keys/{key['id']}/signatures", {"kind": "Message", "message": "0x01"})
    assert r.status_code == 200


def test_export_is_per_org(api: Api) -> None:
    key = api.create_key()
    other_id, other = api.other_org()
    requester = hpke.HpkeKeyPair.generate()
    path = f"/keys/{key['id']}/export"
    # the other org's setting is off, and enabling ours does not enable theirs
    r = api.client.post(path, json=export_body(requester), headers=other)
    assert r.status_code == 403
    set_key_export(api.database_url, True, org_id=api.org_id)
    r = api.client.post(path, json=export_body(requester), headers=other)
    assert r.status_code == 403
    # with theirs on, their export still cannot reach our key
    set_key_export(api.database_url, True, org_id=other_id)
    r = api.client.post(path, json=export_body(requester), headers=other)
    assert r.status_code == 404
    assert api.vault.calls.get("export_key", 0) == 0
