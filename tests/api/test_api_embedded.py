"""The API over the real embedded vault (signer nodes, transport, dealer formats):
import a seed, sign, export it back, bad imports, availability errors."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import coincurve
import httpx
import pytest
from apihelpers import BASE_URL, error_of, verify_bip340
from nacl.signing import SigningKey, VerifyKey

from shardvault.api import create_app, ensure_admin, set_key_export
from shardvault.crypto.hpke import HpkeKeyPair
from shardvault.crypto.keyformats import (
    ed25519_scalar_from_seed,
    scalar_to_private_key_bytes,
    secp256k1_scalar_from_bytes,
)
from shardvault.protocols import key_export, key_import
from shardvault.server import embedded

pytestmark = pytest.mark.anyio


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64u(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Client:
    def __init__(self, http: httpx.AsyncClient, token: str) -> None:
        self.http = http
        self.auth = {"Authorization": f"Bearer {token}"}

    async def call(self, method: str, path: str, body: Any = None) -> httpx.Response:
        return await self.http.request(method, path, json=body, headers=self.auth)


@pytest.fixture
async def setup(tmp_path: Path, database_url: str) -> AsyncIterator[tuple[Client, Any, str]]:
    vault = embedded.EmbeddedVault(
        tmp_path / "vault", signers=3, threshold=2, kek=os.urandom(32), ecdsa_primes="off"
    )
    await vault.start()
    try:
        creds = json.loads(ensure_admin(database_url, tmp_path / "data", BASE_URL).read_text())
        app = create_app(vault, database_url)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
            yield Client(http, creds["token"]), vault, database_url
    finally:
        await vault.stop()


async def _import_body(c: Client, secret: int, curve: str, protocol: str) -> dict[str, Any]:
    cluster = (await c.call("GET", "/signers")).json()["clusters"][0]
    signers = [(s["signerId"], unb64u(s["encryptionKey"])) for s in cluster["signers"]]
    _, blobs = key_import.seal_import_shares(
        secret, curve=curve, protocol=protocol, min_signers=2, signers=signers
    )
    return {
        "curve": curve,
        "protocol": protocol,
        "minSigners": 2,
        "encryptedKeyShares": [
            {"signerId": sid, "encryptedKeyShare": b64u(blob)} for sid, blob in blobs
        ],
    }


async def test_import_sign_export_over_the_embedded_vault(setup: tuple[Client, Any, str]) -> None:
    c, _vault, url = setup
    # Ed25519 seed: imported, signs under the seed's own public key.
    seed = os.urandom(32)
    body = await _import_body(c, ed25519_scalar_from_seed(seed), "ed25519", "FROST")
    r = await c.call("POST", "/keys/import", body)
    assert r.status_code == 200, r.text
    ed = r.json()
    assert ed["imported"] is True
    assert ed["publicKey"] == bytes(SigningKey(seed).verify_key).hex()
    msg = b"signed by an imported key"
    sig = (
        await c.call(
            "POST", f"/keys/{ed['id']}/signatures", {"kind": "Message", "message": "0x" + msg.hex()}
        )
    ).json()
    VerifyKey(bytes.fromhex(ed["publicKey"])).verify(
        msg, bytes.fromhex(sig["signature"]["encoded"][2:])
    )

    # secp256k1 as FROST_BITCOIN: BIP 340 plain, BIP 86 and a script root.
    sk = os.urandom(31).rjust(32, b"\x01")
    body = await _import_body(c, secp256k1_scalar_from_bytes(sk), "secp256k1", "FROST_BITCOIN")
    tr = (await c.call("POST", "/keys/import", body)).json()
    assert tr["publicKey"] == coincurve.PrivateKey(sk).public_key.format().hex()
    for root in (None, b"", os.urandom(32)):
        h = os.urandom(32)
        req: dict[str, Any] = {"kind": "Hash", "hash": "0x" + h.hex()}
        if root is not None:
            req["taprootMerkleRoot"] = "0x" + root.hex() if root else ""
        s = (await c.call("POST", f"/keys/{tr['id']}/signatures", req)).json()
        encoded = bytes.fromhex(s["signature"]["encoded"][2:])
        assert verify_bip340(bytes.fromhex(tr["publicKey"]), h, encoded, root)

    # Export returns the original key; afterwards the key refuses to sign.
    set_key_export(url, True)
    requester = HpkeKeyPair.generate()
    r = await c.call(
        "POST",
        f"/keys/{tr['id']}/export",
        {
            "encryptionKey": b64u(requester.public_key),
            "supportedSchemes": [{"protocol": "FROST_BITCOIN", "curve": "secp256k1"}],
        },
    )
    assert r.status_code == 200, r.text
    out = r.json()
    cluster = (await c.call("GET", "/signers")).json()["clusters"][0]
    k = key_export.open_export_shares(
        [(s["signerId"], unb64u(s["encryptedKeyShare"])) for s in out["encryptedKeyShares"]],
        signer_identity_keys={s["signerId"]: unb64u(s["identityKey"]) for s in cluster["signers"]},
        key_pair=requester,
        key_id=tr["id"],
        curve=out["curve"],
        protocol=out["protocol"],
        group_public_key=bytes.fromhex(out["publicKey"]),
        min_signers=out["minSigners"],
        signer_ids=tr["signers"],
    )
    assert scalar_to_private_key_bytes("secp256k1", k) == sk
    r = await c.call(
        "POST", f"/keys/{tr['id']}/signatures", {"kind": "Hash", "hash": "0x" + "00" * 32}
    )
    assert r.status_code == 409 and error_of(r)["code"] == "KeyExported"

    # Delete: archived, shares erased, no more signing.
    assert (await c.call("DELETE", f"/keys/{ed['id']}")).json()["status"] == "Archived"
    r = await c.call("POST", f"/keys/{ed['id']}/signatures", {"kind": "Message", "message": "0x00"})
    assert error_of(r)["code"] == "KeyArchived"


async def test_bad_imports_are_400_and_store_nothing(setup: tuple[Client, Any, str]) -> None:
    c, _vault, _url = setup
    body = await _import_body(c, ed25519_scalar_from_seed(os.urandom(32)), "ed25519", "FROST")
    tampered = json.loads(json.dumps(body))
    blob = bytearray(unb64u(tampered["encryptedKeyShares"][1]["encryptedKeyShare"]))
    blob[-1] ^= 1
    tampered["encryptedKeyShares"][1]["encryptedKeyShare"] = b64u(bytes(blob))
    missing = json.loads(json.dumps(body))
    missing["encryptedKeyShares"].pop()
    wrong_t = {**body, "minSigners": 3}
    for bad in (tampered, missing, wrong_t):
        r = await c.call("POST", "/keys/import", bad)
        assert r.status_code == 400, r.text
        err = error_of(r)
        assert err["code"] not in {"InvalidRequest", "InternalError"}
    assert (await c.call("GET", "/keys")).json() == {"items": []}


async def test_signer_availability(setup: tuple[Client, Any, str]) -> None:
    c, vault, _url = setup
    key = (await c.call("POST", "/keys", {"scheme": "EdDSA", "curve": "ed25519"})).json()
    path = f"/keys/{key['id']}/signatures"
    vault.stop_signer(vault.signer_ids[0])
    assert (await c.call("POST", path, {"kind": "Message", "message": "0x01"})).status_code == 200
    vault.stop_signer(vault.signer_ids[2])
    r = await c.call("POST", path, {"kind": "Message", "message": "0x02", "externalId": "e"})
    assert r.status_code == 503
    err = error_of(r)
    assert err["code"] == "SignersUnavailable"
    assert set(err["details"]["signers"]) == {vault.signer_ids[0], vault.signer_ids[2]}
    # the failure freed the externalId: once a signer is back, the retry signs
    vault.start_signer(vault.signer_ids[2])
    r = await c.call("POST", path, {"kind": "Message", "message": "0x02", "externalId": "e"})
    assert r.status_code == 200 and r.json()["status"] == "Signed"
