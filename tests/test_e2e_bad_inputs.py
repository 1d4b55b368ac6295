"""Every bad import/sign input of issue 4 over real HTTP (uvicorn + embedded vault):
each is a 400 with a specific code, nothing is stored, no key appears, no signer holds
a share. Also: nothing secret reaches the logs."""

from __future__ import annotations

import base64
import json
import logging
import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from nacl.signing import SigningKey

from shardvault.crypto.keyformats import ed25519_scalar_from_seed
from shardvault.protocols import key_import
from shardvault.sdk import Client
from shardvault.server import BackgroundVault


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundVault]:
    with BackgroundVault(
        tmp_path_factory.mktemp("vault"), os.urandom(32), ecdsa_primes="off"
    ) as vault:
        yield vault


@pytest.fixture(scope="module")
def http(live: BackgroundVault) -> Iterator[httpx.Client]:
    token = json.loads(live.credentials.read_text())["token"]
    with httpx.Client(base_url=live.base_url, headers={"Authorization": f"Bearer {token}"}) as c:
        yield c


def _signers(http: httpx.Client) -> list[tuple[str, bytes]]:
    cluster = http.get("/signers").json()["clusters"][0]
    return [
        (s["signerId"], base64.urlsafe_b64decode(s["encryptionKey"] + "="))
        for s in cluster["signers"]
    ]


def _shares(
    http: httpx.Client, secret: int, t: int = 2, curve: str = "ed25519", protocol: str = "FROST"
) -> list[dict[str, str]]:
    _, blobs = key_import.seal_import_shares(
        secret, curve=curve, protocol=protocol, min_signers=t, signers=_signers(http)
    )
    return [{"signerId": sid, "encryptedKeyShare": b64(blob)} for sid, blob in blobs]


def _body(shares: list[dict[str, str]], **over: Any) -> dict[str, Any]:
    return {
        "curve": "ed25519",
        "protocol": "FROST",
        "minSigners": 2,
        "encryptedKeyShares": shares,
        **over,
    }


def _flip(share: dict[str, str]) -> dict[str, str]:
    raw = bytearray(base64.urlsafe_b64decode(share["encryptedKeyShare"] + "=="))
    raw[-1] ^= 1
    return {**share, "encryptedKeyShare": b64(bytes(raw))}


def _key_count(http: httpx.Client) -> int:
    return len(http.get("/keys", params={"limit": 100}).json()["items"])


def _no_signer_holds_anything_new(live: BackgroundVault, before: dict[str, list[str]]) -> bool:
    assert live.vault is not None
    now = {sid: n.store.key_ids() for sid, n in live.vault.nodes.items()}
    return now == before


def test_each_bad_import_is_a_specific_400_and_stores_nothing(
    live: BackgroundVault, http: httpx.Client
) -> None:
    assert live.vault is not None
    good = _shares(http, ed25519_scalar_from_seed(os.urandom(32)))
    other = _shares(http, ed25519_scalar_from_seed(os.urandom(32)))
    one = _shares(http, ed25519_scalar_from_seed(os.urandom(32)), t=1)
    one_other = _shares(http, ed25519_scalar_from_seed(os.urandom(32)), t=1)
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("unknown curve/protocol", _body(good, curve="secp256k1"), "UnsupportedProtocol"),
        ("unknown protocol", _body(good, protocol="FROST_ED448"), "UnsupportedProtocol"),
        ("minSigners 0", _body(good, minSigners=0), "InvalidMinSigners"),
        ("minSigners > n", _body(good, minSigners=4), "InvalidMinSigners"),
        ("missing signer", _body(good[:2]), "MissingSigner"),
        (
            "extra signer",
            _body([*good, {**good[0], "signerId": "sgn-0000000000"}]),
            "UnknownSigner",
        ),
        ("duplicate share", _body([good[0], good[0], good[2]]), "DuplicateSigner"),
        (
            "sealed for another signer",
            _body(
                [{**good[0], "encryptedKeyShare": good[1]["encryptedKeyShare"]}, good[1], good[2]]
            ),
            "ShareIndexMismatch",
        ),
        ("tampered ciphertext", _body([_flip(good[0]), good[1], good[2]]), "ShareDecryptionFailed"),
        ("wrong minSigners for the shares", _body(one, minSigners=2), "CommitmentCountMismatch"),
        (
            "commitments differ between signers",
            _body([one[0], one_other[1], one[2]], minSigners=1),
            "CommitmentMismatch",
        ),
        ("shares of two imports", _body([good[0], other[1], good[2]]), "CommitmentMismatch"),
        (
            "malformed base64url",
            _body(
                [{**good[0], "encryptedKeyShare": good[0]["encryptedKeyShare"] + "="}, *good[1:]]
            ),
            "InvalidEncoding",
        ),
        (
            "not base64 at all",
            _body([{**good[0], "encryptedKeyShare": "!!"}, *good[1:]]),
            "InvalidEncoding",
        ),
    ]
    keys_before = _key_count(http)
    shares_before = {sid: n.store.key_ids() for sid, n in live.vault.nodes.items()}
    for name, body, code in cases:
        r = http.post("/keys/import", json=body)
        assert r.status_code == 400, (name, r.text)
        err = r.json()["error"]
        assert err["code"] == code, (name, err)
        assert "Traceback" not in r.text
    assert _key_count(http) == keys_before
    assert _no_signer_holds_anything_new(live, shares_before)
    # The good shares still import.
    r = http.post("/keys/import", json=_body(good))
    assert r.status_code == 200, r.text
    assert r.json()["imported"] is True


def test_malformed_json_hex_and_oversized_bodies(http: httpx.Client) -> None:
    key = http.post("/keys", json={"scheme": "EdDSA", "curve": "ed25519"}).json()
    sig_path = f"/keys/{key['id']}/signatures"
    for body, code in (
        ({"kind": "Message", "message": "0xzz"}, "InvalidEncoding"),
        ({"kind": "Message", "message": "abcd"}, "InvalidEncoding"),
        ({"kind": "Hash", "hash": "0x" + "00" * 32}, "InvalidSignatureKind"),
        ({"kind": "Message"}, "InvalidRequest"),
    ):
        r = http.post(sig_path, json=body)
        assert r.status_code == 400 and r.json()["error"]["code"] == code, (body, r.text)
    r = http.post(sig_path, content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "MalformedJson"
    r = http.post(
        "/keys/import",
        content=b"{" + b" " * (2 * 1024 * 1024) + b"}",
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == "BodyTooLarge"
    assert http.get(sig_path).json()["items"] == []  # nothing was signed


def test_nothing_secret_in_logs(
    live: BackgroundVault, http: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    """Import, sign, export and failures with secrets in flight: no secret is logged."""
    from shardvault.api import set_key_export

    caplog.set_level(logging.DEBUG)
    seed = os.urandom(32)
    scalar = ed25519_scalar_from_seed(seed)
    with Client.from_credentials_file(live.credentials) as sdk:
        key = sdk.keys.import_key(seed, curve="ed25519", protocol="FROST", min_signers=2)
        assert key.public_key_bytes == bytes(SigningKey(seed).verify_key)
        sdk.keys.sign(key.id, message=b"log test")
        http.post("/keys/import", json=_body([_flip(s) for s in _shares(http, scalar)]))
        set_key_export(live.database_url, True)
        exported = sdk.keys.export_key(key.id)
    assert live.vault is not None
    secrets_ = [seed, exported, scalar.to_bytes(32, "little"), scalar.to_bytes(32, "big")]
    for node in live.vault.nodes.values():
        record = node.store.get_share(key.id).record
        secrets_.append(record)
    text = "\n".join(r.getMessage() + " " + repr(r.args) for r in caplog.records)
    assert caplog.records, "expected some log records to inspect"
    for s in secrets_:
        for form in (
            s.hex(),
            b64(s),
            str(int.from_bytes(s, "big")),
            str(int.from_bytes(s, "little")),
        ):
            assert form not in text
    assert json.loads(live.credentials.read_text())["token"] not in text
