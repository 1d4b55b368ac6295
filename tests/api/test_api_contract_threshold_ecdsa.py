"""Contract suite, ECDSA (CGGMP24): key generation, hash signatures checked with
libsecp256k1 (recoverable form and DER), import under the CGGMP21 alias, export,
proactive refresh and its refusals, over the FakeVault (a trusted-dealer stand-in)
and the real embedded vault (threshold ECDSA with the fixture Paillier primes) alike
(see apibackends.py). Each test first waits for the embedded vault's aux info, which
it computes in the background from the start of the session."""

from __future__ import annotations

import os
import re
from typing import Any

import coincurve
import pytest
from apibackends import ContractApi
from apihelpers import b64u, error_of, verify_ecdsa_signature

from shardvault.api import set_key_export
from shardvault.api.repository import ApiRepository
from shardvault.crypto import hpke
from shardvault.crypto.groups import SECP256K1
from shardvault.db import make_engine


@pytest.fixture(autouse=True)
def _ecdsa_ready(any_api: ContractApi) -> None:
    any_api.backend.wait_ecdsa_ready()


def import_body(api: ContractApi, secret: int, protocol: str = "CGGMP24") -> dict[str, Any]:
    return api.import_body(secret, "secp256k1", protocol)


def _verifying_shares(api: ContractApi, key_id: str) -> dict[str, str]:
    engine = make_engine(api.database_url)
    try:
        return ApiRepository(engine).get_key(api.org_id, key_id).verifying_shares
    finally:
        engine.dispose()


def _h(data: bytes) -> str:
    return "0x" + data.hex()


def _sign(api: ContractApi, key_id: str, digest: bytes, **extra: Any) -> Any:
    return api.post(f"/keys/{key_id}/signatures", {"kind": "Hash", "hash": _h(digest), **extra})


def test_create_ecdsa_key_and_sign_a_hash(any_api: ContractApi) -> None:
    key = any_api.create_key("ECDSA", "secp256k1", name="eth")
    assert (key["scheme"], key["curve"], key["protocol"]) == ("ECDSA", "secp256k1", "CGGMP24")
    assert re.fullmatch(r"0[23][0-9a-f]{64}", key["publicKey"])
    assert key["minSigners"] == 2 and key["imported"] is False
    assert key["signers"] == list(any_api.backend.signer_ids)
    assert any_api.backend.holders(key["id"]) == set(any_api.backend.signer_ids)
    assert any_api.get(f"/keys/{key['id']}").json() == {**key, "wallets": []}
    digest = os.urandom(32)
    r = _sign(any_api, key["id"], digest)
    assert r.status_code == 200, r.text
    sig = r.json()
    assert sig["status"] == "Signed"
    assert sig["requestBody"] == {"kind": "Hash", "hash": _h(digest)}
    verify_ecdsa_signature(bytes.fromhex(key["publicKey"]), digest, sig["signature"])
    assert any_api.backend.sign_log == [(key["id"], digest, None)]
    assert any_api.get(f"/keys/{key['id']}/signatures/{sig['id']}").json() == sig
    assert any_api.get(f"/keys/{key['id']}/signatures").json() == {"items": [sig]}


@pytest.mark.parametrize("protocol", ["CGGMP24", "CGGMP21"])
def test_import_ecdsa_key_stored_as_cggmp24(any_api: ContractApi, protocol: str) -> None:
    secret = SECP256K1.random_scalar()
    r = any_api.post("/keys/import", import_body(any_api, secret, protocol))
    assert r.status_code == 200, r.text
    key = r.json()
    assert (key["scheme"], key["protocol"], key["imported"]) == ("ECDSA", "CGGMP24", True)
    expected = coincurve.PrivateKey(secret.to_bytes(32, "big")).public_key.format()
    assert key["publicKey"] == expected.hex()
    assert any_api.get(f"/keys/{key['id']}").json()["protocol"] == "CGGMP24"
    digest = os.urandom(32)
    value = _sign(any_api, key["id"], digest).json()["signature"]
    verify_ecdsa_signature(expected, digest, value)


@pytest.mark.parametrize("asked", ["CGGMP24", "CGGMP21"])
def test_export_ecdsa_key(any_api: ContractApi, asked: str) -> None:
    secret = SECP256K1.random_scalar()
    key = any_api.post("/keys/import", import_body(any_api, secret)).json()
    set_key_export(any_api.database_url, True, org_id=any_api.org_id)
    requester = hpke.HpkeKeyPair.generate()
    body = {
        "encryptionKey": b64u(requester.public_key),
        "supportedSchemes": [{"protocol": asked, "curve": "secp256k1"}],
    }
    r = any_api.post(f"/keys/{key['id']}/export", body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["protocol"], out["curve"], out["publicKey"]) == (
        "CGGMP24",
        "secp256k1",
        key["publicKey"],
    )
    assert any_api.backend.export_secret(key, out, requester) == secret
    r = _sign(any_api, key["id"], os.urandom(32))
    assert r.status_code == 409 and error_of(r)["code"] == "KeyExported"
    r = any_api.post(f"/keys/{key['id']}/refresh")
    assert r.status_code == 409 and error_of(r)["code"] == "KeyExported"
    assert any_api.backend.calls.get("sign", 0) == 0


# -- refresh -------------------------------------------------------------------------------
def test_refresh_keeps_the_key_and_renews_its_shares(any_api: ContractApi) -> None:
    key = any_api.create_key("ECDSA", "secp256k1")
    before = _verifying_shares(any_api, key["id"])
    r = any_api.post(f"/keys/{key['id']}/refresh")
    assert r.status_code == 200, r.text
    assert r.json() == key
    assert any_api.backend.calls["run_epoch"] == 1
    after = _verifying_shares(any_api, key["id"])
    assert set(after) == set(before) == set(any_api.backend.signer_ids)
    assert all(after[sid] != before[sid] for sid in before)
    digest = os.urandom(32)
    verify_ecdsa_signature(
        bytes.fromhex(key["publicKey"]),
        digest,
        _sign(any_api, key["id"], digest).json()["signature"],
    )


def test_refresh_needs_every_signer(any_api: ContractApi) -> None:
    key = any_api.create_key("ECDSA", "secp256k1")
    before = _verifying_shares(any_api, key["id"])
    ids = any_api.backend.signer_ids
    any_api.backend.take_offline(ids[2])
    r = any_api.post(f"/keys/{key['id']}/refresh")
    assert r.status_code == 503
    err = error_of(r)
    assert err["code"] == "SignersUnavailable" and err["details"]["signers"] == [ids[2]]
    assert _verifying_shares(any_api, key["id"]) == before
    any_api.backend.bring_online(ids[2])
    assert any_api.post(f"/keys/{key['id']}/refresh").status_code == 200
    assert _verifying_shares(any_api, key["id"]) != before


def test_refresh_unknown_archived_and_bad_bodies(any_api: ContractApi) -> None:
    r = any_api.post("/keys/key-01m89z0nft2daegte03ehe5fph/refresh")
    assert r.status_code == 404 and error_of(r)["code"] == "KeyNotFound"
    r = any_api.post("/keys/nope/refresh")
    assert r.status_code == 404 and error_of(r)["code"] == "KeyNotFound"
    key = any_api.create_key("ECDSA", "secp256k1")
    r = any_api.post(f"/keys/{key['id']}/refresh", {"force": True})
    assert r.status_code == 400 and error_of(r)["code"] == "InvalidRequest"
    _, other = any_api.other_org()
    r = any_api.client.post(f"/keys/{key['id']}/refresh", headers=other)
    assert r.status_code == 404 and error_of(r)["code"] == "KeyNotFound"
    assert any_api.delete(f"/keys/{key['id']}").status_code == 200
    r = any_api.post(f"/keys/{key['id']}/refresh")
    assert r.status_code == 409 and error_of(r)["code"] == "KeyArchived"
    assert any_api.backend.calls.get("run_epoch", 0) == 0
