"""Contract suite, import and export (FROST keys): an imported key signs under its
original public key, the export returns it, and afterwards the key no longer signs;
bad imports store nothing; a failed export leaves the key signing. Over the FakeVault
(its test share format) and the real embedded vault (the dealer format) alike (see
apibackends.py). CGGMP24 keys: test_api_contract_ecdsa.py."""

from __future__ import annotations

import json
import os
from typing import Any

import coincurve
import pytest
from apibackends import ContractApi
from apihelpers import b64u, error_of, unb64u, verify_bip340
from nacl.signing import SigningKey, VerifyKey

from shardvault.api import set_key_export
from shardvault.crypto.hpke import HpkeKeyPair
from shardvault.crypto.keyformats import (
    ed25519_scalar_from_seed,
    scalar_to_private_key_bytes,
    secp256k1_scalar_from_bytes,
)


def _import_body(api: ContractApi, secret: int, curve: str, protocol: str) -> dict[str, Any]:
    return api.import_body(secret, curve, protocol)


def test_import_sign_export(any_api: ContractApi) -> None:
    c = any_api
    # Ed25519 seed: imported, signs under the seed's own public key.
    seed = os.urandom(32)
    r = c.post("/keys/import", _import_body(c, ed25519_scalar_from_seed(seed), "ed25519", "FROST"))
    assert r.status_code == 200, r.text
    ed = r.json()
    assert ed["imported"] is True
    assert ed["publicKey"] == bytes(SigningKey(seed).verify_key).hex()
    assert c.backend.holders(ed["id"]) == set(c.backend.signer_ids)
    msg = b"signed by an imported key"
    sig = c.post(
        f"/keys/{ed['id']}/signatures", {"kind": "Message", "message": "0x" + msg.hex()}
    ).json()
    VerifyKey(bytes.fromhex(ed["publicKey"])).verify(
        msg, bytes.fromhex(sig["signature"]["encoded"][2:])
    )

    # secp256k1 as FROST_BITCOIN: BIP 340 plain, BIP 86 and a script root.
    sk = os.urandom(31).rjust(32, b"\x01")
    body = _import_body(c, secp256k1_scalar_from_bytes(sk), "secp256k1", "FROST_BITCOIN")
    tr = c.post("/keys/import", body).json()
    assert tr["publicKey"] == coincurve.PrivateKey(sk).public_key.format().hex()
    for root in (None, b"", os.urandom(32)):
        h = os.urandom(32)
        req: dict[str, Any] = {"kind": "Hash", "hash": "0x" + h.hex()}
        if root is not None:
            req["taprootMerkleRoot"] = "0x" + root.hex() if root else ""
        s = c.post(f"/keys/{tr['id']}/signatures", req).json()
        encoded = bytes.fromhex(s["signature"]["encoded"][2:])
        assert verify_bip340(bytes.fromhex(tr["publicKey"]), h, encoded, root)

    # Export returns the original key; afterwards the key refuses to sign.
    set_key_export(c.database_url, True, org_id=c.org_id)
    requester = HpkeKeyPair.generate()
    r = c.post(
        f"/keys/{tr['id']}/export",
        {
            "encryptionKey": b64u(requester.public_key),
            "supportedSchemes": [{"protocol": "FROST_BITCOIN", "curve": "secp256k1"}],
        },
    )
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["publicKey"], out["protocol"], out["curve"], out["minSigners"]) == (
        tr["publicKey"],
        "FROST_BITCOIN",
        "secp256k1",
        2,
    )
    assert [s["signerId"] for s in out["encryptedKeyShares"]] == tr["signers"]
    k = c.backend.export_secret(tr, out, requester)
    assert scalar_to_private_key_bytes("secp256k1", k) == sk
    assert c.get(f"/keys/{tr['id']}").json()["exported"] is True
    r = c.post(f"/keys/{tr['id']}/signatures", {"kind": "Hash", "hash": "0x" + "00" * 32})
    assert r.status_code == 409 and error_of(r)["code"] == "KeyExported"

    # Delete: archived, shares erased, no more signing.
    assert c.delete(f"/keys/{ed['id']}").json()["status"] == "Archived"
    assert c.backend.holders(ed["id"]) == set()
    r = c.post(f"/keys/{ed['id']}/signatures", {"kind": "Message", "message": "0x00"})
    assert error_of(r)["code"] == "KeyArchived"


@pytest.mark.parametrize("bad", ["tampered", "missing"])
def test_bad_imports_are_400_and_store_nothing(any_api: ContractApi, bad: str) -> None:
    """A share altered in transit, or one signer's share left out. (A wrong
    ``minSigners`` is refused by the embedded vault only: the fake's test share format
    carries no threshold; see test_api_embedded.py.)"""
    body = _import_body(any_api, ed25519_scalar_from_seed(os.urandom(32)), "ed25519", "FROST")
    body = json.loads(json.dumps(body))
    shares = body["encryptedKeyShares"]
    if bad == "tampered":
        blob = bytearray(unb64u(shares[1]["encryptedKeyShare"]))
        blob[-1] ^= 1
        shares[1]["encryptedKeyShare"] = b64u(bytes(blob))
    else:
        shares.pop()
    r = any_api.post("/keys/import", body)
    assert r.status_code == 400, r.text
    err = error_of(r)
    assert err["code"] not in {"InvalidRequest", "InternalError"}
    assert err["details"]["signers"]
    assert any_api.backend.calls["import_key"] == 1
    (key_id,) = any_api.backend.new_key_ids
    assert any_api.backend.holders(key_id) == set()
    assert any_api.get("/keys").json() == {"items": []}


def test_failed_export_leaves_the_key_signing(any_api: ContractApi) -> None:
    set_key_export(any_api.database_url, True, org_id=any_api.org_id)
    key = any_api.create_key()
    ids = any_api.backend.signer_ids
    any_api.backend.take_offline(ids[1], ids[2])
    r = any_api.post(
        f"/keys/{key['id']}/export",
        {
            "encryptionKey": b64u(HpkeKeyPair.generate().public_key),
            "supportedSchemes": [{"protocol": "FROST", "curve": "ed25519"}],
        },
    )
    assert r.status_code == 503
    assert error_of(r)["code"] == "SignersUnavailable"
    after = any_api.get(f"/keys/{key['id']}").json()
    assert after["exported"] is False and "dateExported" not in after
    any_api.backend.bring_online(ids[1], ids[2])
    r = any_api.post(f"/keys/{key['id']}/signatures", {"kind": "Message", "message": "0x01"})
    assert r.status_code == 200
