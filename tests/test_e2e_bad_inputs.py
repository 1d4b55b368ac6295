"""Every bad import/sign input of issue 4 over real HTTP (uvicorn + embedded vault):
each is a 400 with a specific code, nothing is stored, no key appears, no signer holds
a share. Also: nothing secret reaches the logs."""

from __future__ import annotations

import base64
import json
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import pytest
from nacl.signing import SigningKey
from signinghelpers import SigningTransport, register_credentials

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
    creds = json.loads(live.credentials.read_text())
    register_credentials(creds)
    token = creds["token"]
    with httpx.Client(
        base_url=live.base_url,
        headers={"Authorization": f"Bearer {token}"},
        transport=SigningTransport(),
    ) as c:
        yield c


def _signers(http: httpx.Client) -> list[tuple[str, bytes]]:
    cluster = http.get("/signers").json()["clusters"][0]
    return [
        (s["signerId"], base64.urlsafe_b64decode(s["encryptionKey"] + "="))
        for s in cluster["signers"]
    ]


def _context(http: httpx.Client) -> key_import.ImportContext:
    out = http.post("/keys/import/context", json={}).json()
    issued = datetime.fromisoformat(out["issuedAt"].replace("Z", "+00:00"))
    import_id = base64.urlsafe_b64decode(out["importId"] + "==")
    return key_import.ImportContext(import_id, int(issued.timestamp()))


class Shares(list[dict[str, str]]):
    """``encryptedKeyShares`` and the import context they were sealed under."""

    context: key_import.ImportContext


def _shares(
    http: httpx.Client,
    secret: int,
    t: int = 2,
    curve: str = "ed25519",
    protocol: str = "FROST",
    context: key_import.ImportContext | None = None,
) -> Shares:
    context = context or _context(http)
    _, blobs = key_import.seal_import_shares(
        secret,
        context=context,
        curve=curve,
        protocol=protocol,
        min_signers=t,
        signers=_signers(http),
    )
    out = Shares({"signerId": sid, "encryptedKeyShare": b64(blob)} for sid, blob in blobs)
    out.context = context
    return out


@dataclass
class Sealing:
    """Shares of one case, all sealed under one fresh context: ``good`` (2-of-3 of the
    test's secret), ``other`` (2-of-3 of another key), ``three`` and ``three_other``
    (3-of-3 of two more keys)."""

    good: Shares
    other: Shares
    three: Shares
    three_other: Shares

    def body(self, shares: list[dict[str, str]], **over: Any) -> dict[str, Any]:
        return _body(self.good, encryptedKeyShares=list(shares), **over)


def _sealing(http: httpx.Client, secret: int) -> Sealing:
    ctx = _context(http)

    def fresh(t: int) -> Shares:
        return _shares(http, ed25519_scalar_from_seed(os.urandom(32)), t=t, context=ctx)

    return Sealing(_shares(http, secret, context=ctx), fresh(2), fresh(3), fresh(3))


def _body(shares: Shares, **over: Any) -> dict[str, Any]:
    """An import body of ``shares`` (those of another sealing may be mixed in with
    ``encryptedKeyShares=``), with the ``importId`` they were sealed under."""
    return {
        "curve": "ed25519",
        "protocol": "FROST",
        "minSigners": 2,
        "encryptedKeyShares": list(shares),
        "importId": b64(shares.context.import_id),
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
    """Each case is sealed under its own fresh import context (a context is spent once
    a signer opened a share under it)."""
    assert live.vault is not None
    secret = ed25519_scalar_from_seed(os.urandom(32))
    cases: list[tuple[str, Callable[[Sealing], dict[str, Any]], str]] = [
        (
            "unknown curve/protocol",
            lambda s: s.body(s.good, curve="secp256k1"),
            "UnsupportedProtocol",
        ),
        (
            "unknown protocol",
            lambda s: s.body(s.good, protocol="FROST_ED448"),
            "UnsupportedProtocol",
        ),
        ("minSigners 0", lambda s: s.body(s.good, minSigners=0), "InvalidMinSigners"),
        ("minSigners 1", lambda s: s.body(s.good, minSigners=1), "InvalidMinSigners"),
        ("minSigners > n", lambda s: s.body(s.good, minSigners=4), "InvalidMinSigners"),
        ("missing signer", lambda s: s.body(s.good[:2]), "MissingSigner"),
        (
            "extra signer",
            lambda s: s.body([*s.good, {**s.good[0], "signerId": "sgn-0000000000"}]),
            "UnknownSigner",
        ),
        ("duplicate share", lambda s: s.body([s.good[0], s.good[0], s.good[2]]), "DuplicateSigner"),
        (
            "sealed for another signer",
            lambda s: s.body(
                [
                    {**s.good[0], "encryptedKeyShare": s.good[1]["encryptedKeyShare"]},
                    s.good[1],
                    s.good[2],
                ]
            ),
            "ShareIndexMismatch",
        ),
        (
            "tampered ciphertext",
            lambda s: s.body([_flip(s.good[0]), s.good[1], s.good[2]]),
            "ShareDecryptionFailed",
        ),
        (
            "wrong minSigners for the shares",
            lambda s: s.body(s.three, minSigners=2),
            "CommitmentCountMismatch",
        ),
        (
            "commitments differ between signers",
            lambda s: s.body([s.three[0], s.three_other[1], s.three[2]], minSigners=3),
            "CommitmentMismatch",
        ),
        (
            "shares of two imports",
            lambda s: s.body([s.good[0], s.other[1], s.good[2]]),
            "CommitmentMismatch",
        ),
        (
            "malformed base64url",
            lambda s: s.body(
                [
                    {**s.good[0], "encryptedKeyShare": s.good[0]["encryptedKeyShare"] + "="},
                    *s.good[1:],
                ]
            ),
            "InvalidEncoding",
        ),
        (
            "not base64 at all",
            lambda s: s.body([{**s.good[0], "encryptedKeyShare": "!!"}, *s.good[1:]]),
            "InvalidEncoding",
        ),
    ]
    keys_before = _key_count(http)
    shares_before = {sid: n.store.key_ids() for sid, n in live.vault.nodes.items()}
    for name, build, code in cases:
        r = http.post("/keys/import", json=build(_sealing(http, secret)))
        assert r.status_code == 400, (name, r.text)
        err = r.json()["error"]
        assert err["code"] == code, (name, err)
        assert "Traceback" not in r.text
    assert _key_count(http) == keys_before
    assert _no_signer_holds_anything_new(live, shares_before)
    # The key still imports, sealed under a fresh context.
    r = http.post("/keys/import", json=_body(_sealing(http, secret).good))
    assert r.status_code == 200, r.text
    assert r.json()["imported"] is True


def test_malformed_json_hex_and_oversized_bodies(http: httpx.Client) -> None:
    key = http.post("/keys", json={"scheme": "EdDSA", "curve": "ed25519"}).json()
    sig_path = f"/keys/{key['id']}/signatures"
    for body, code in (
        ({"kind": "Message", "message": "0xzz"}, "InvalidEncoding"),
        ({"kind": "Message", "message": "abcd"}, "InvalidEncoding"),
        ({"kind": "Hash", "hash": "0x" + "00" * 31}, "InvalidEncoding"),
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
        sealed = _shares(http, scalar)
        http.post("/keys/import", json=_body(sealed, encryptedKeyShares=[_flip(x) for x in sealed]))
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
