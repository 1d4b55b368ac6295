"""The SDK pins the cluster's signed roster from ``credentials.json`` (issue 12 part
4, docs/security.md item 30): a man-in-the-middle on ``GET /signers`` that swaps a
signer's identity and encryption keys for a self-consistent pair of its own gets no
import share and no export, and the signer is named."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from nacl.signing import SigningKey

from shardvault.api import set_key_export
from shardvault.crypto.hpke import HpkeKeyPair
from shardvault.errors import InvalidImport
from shardvault.protocols.key_import import open_import_share
from shardvault.sdk import Client
from shardvault.sdk.errors import CredentialsError, SignerVerificationError
from shardvault.server import BackgroundVault
from shardvault.transport.identity import encryption_key_statement


def _b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64u(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SignerSwap(httpx.BaseTransport):
    """A man-in-the-middle between the client and the API: it forwards everything,
    but in ``GET /signers`` presents ``victim`` with an identity key and encryption
    key of its own, the encryption key vouched for by its identity key (so the
    signer entry verifies on its own). It records what the client posts."""

    def __init__(self, victim: str) -> None:
        self.victim = victim
        self.identity = SigningKey.generate()
        self.hpke = HpkeKeyPair.generate()
        self.posted: list[tuple[str, Any]] = []
        self._inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            self.posted.append((request.url.path, json.loads(request.content or b"null")))
        response = self._inner.handle_request(request)
        if request.method != "GET" or request.url.path != "/signers":
            return response
        data = json.loads(response.read())
        for cluster in data["clusters"]:
            for signer in cluster["signers"]:
                if signer["signerId"] == self.victim:
                    statement = encryption_key_statement(self.victim, self.hpke.public_key)
                    signer["identityKey"] = _b64u(bytes(self.identity.verify_key))
                    signer["encryptionKey"] = _b64u(self.hpke.public_key)
                    signer["encryptionKeySignature"] = _b64u(
                        self.identity.sign(statement).signature
                    )
        return httpx.Response(200, json=data)

    def close(self) -> None:
        self._inner.close()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundVault]:
    with BackgroundVault(
        tmp_path_factory.mktemp("vault"), os.urandom(32), ecdsa_primes="off"
    ) as vault:
        yield vault


def _victim(live: BackgroundVault) -> str:
    assert live.vault is not None
    return sorted(live.vault.signer_ids)[1]


def _opened_by_attacker(mitm: SignerSwap) -> bool:
    """Whether the attacker can open the victim's share of a posted import."""
    for path, body in mitm.posted:
        if path != "/keys/import":
            continue
        ids = sorted(s["signerId"] for s in body["encryptedKeyShares"])
        for share in body["encryptedKeyShares"]:
            if share["signerId"] != mitm.victim:
                continue
            try:
                open_import_share(
                    _unb64u(share["encryptedKeyShare"]),
                    key_pair=mitm.hpke,
                    my_signer_id=mitm.victim,
                    curve=body["curve"],
                    protocol=body["protocol"],
                    min_signers=body["minSigners"],
                    signer_ids=ids,
                )
            except InvalidImport:
                return False
            return True
    return False


def test_mitm_on_get_signers_gets_no_import_share(live: BackgroundVault) -> None:
    """Before the roster, the client sealed the victim's share to the attacker (who
    opened it). Now the import fails before anything is posted, naming the signer."""
    mitm = SignerSwap(_victim(live))
    with Client.from_credentials_file(live.credentials, transport=mitm) as client:
        with pytest.raises(SignerVerificationError) as err:
            client.keys.import_key(os.urandom(32), curve="ed25519", protocol="FROST", min_signers=2)
    assert err.value.signer_id == mitm.victim
    assert err.value.code == "SignerNotPinned"
    assert mitm.victim in err.value.message
    assert not mitm.posted and not _opened_by_attacker(mitm)


def test_mitm_on_get_signers_gets_no_export(live: BackgroundVault) -> None:
    """An export against the swapped list is refused before the export is requested."""
    with Client.from_credentials_file(live.credentials) as client:
        key = client.keys.import_key(
            os.urandom(32), curve="ed25519", protocol="FROST", min_signers=2
        )
    mitm = SignerSwap(_victim(live))
    set_key_export(live.database_url, True)
    try:
        with Client.from_credentials_file(live.credentials, transport=mitm) as client:
            with pytest.raises(SignerVerificationError) as err:
                client.keys.export_key(key.id)
    finally:
        set_key_export(live.database_url, False)
    assert err.value.signer_id == mitm.victim and err.value.code == "SignerNotPinned"
    assert not [p for p, _ in mitm.posted if p.endswith("/export")]


def test_credentials_carry_the_signed_roster(live: BackgroundVault, tmp_path: Path) -> None:
    """The roster in credentials.json is checked when the client loads it: a roster
    whose signature does not verify, or that lacks a signer's signature, is refused."""
    data = json.loads(live.credentials.read_text())
    roster = data["roster"]
    assert len(roster["signers"]) == 3 and len(roster["signatures"]) == 3
    with Client.from_credentials_file(live.credentials) as client:
        assert client.pinned_identity_keys is not None
        assert set(client.pinned_identity_keys) == {s["signerId"] for s in roster["signers"]}
        assert client.roster is not None
        listed = client.signers.list()[0]
        assert listed.roster_fingerprint == client.roster.fingerprint
    victim = roster["signers"][1]["signerId"]
    for tamper in ("signature", "missing", "key"):
        bad = json.loads(json.dumps(data))
        r = bad["roster"]
        if tamper == "signature":
            sig = bytearray(bytes.fromhex(r["signatures"][victim]))
            sig[0] ^= 1
            r["signatures"][victim] = sig.hex()
        elif tamper == "missing":
            del r["signatures"][victim]
        else:
            r["signers"][1]["identityKey"] = bytes(SigningKey.generate().verify_key).hex()
        path = tmp_path / f"credentials-{tamper}.json"
        path.write_text(json.dumps(bad))
        with pytest.raises(CredentialsError) as err:
            Client.from_credentials_file(path)
        # A changed key changes what every signer signed: the first signature fails.
        named = victim if tamper != "key" else roster["signers"][0]["signerId"]
        assert named in err.value.message


def test_explicit_pins_still_work(live: BackgroundVault) -> None:
    """``pinned_identity_keys=`` given explicitly replaces the roster's pins."""
    victim = _victim(live)
    with Client.from_credentials_file(
        live.credentials, pinned_identity_keys={victim: bytes(32)}
    ) as client:
        with pytest.raises(SignerVerificationError) as err:
            client.keys.import_key(os.urandom(32), curve="ed25519", protocol="FROST", min_signers=2)
    assert err.value.code == "SignerNotPinned"
