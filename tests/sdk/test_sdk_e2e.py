"""End to end through the SDK: a real uvicorn server on an ephemeral port serving the
REST API over an EmbeddedVault (three signer nodes, 2-of-3) in a background thread.
Signatures are verified with independent libraries (PyNaCl, coincurve/libsecp256k1)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import coincurve
import pytest
from nacl.signing import SigningKey, VerifyKey

from shardvault.api import set_key_export
from shardvault.crypto.keyformats import ed25519_scalar_from_seed
from shardvault.sdk import Client, Key, ShardvaultApiError
from shardvault.server import BackgroundVault


class LiveVault(BackgroundVault):
    def client(self, **kw: Any) -> Client:
        return Client.from_credentials_file(self.credentials, **kw)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveVault]:
    with LiveVault(tmp_path_factory.mktemp("vault"), os.urandom(32), ecdsa_primes="off") as vault:
        yield vault


@pytest.fixture
def client(live: LiveVault) -> Iterator[Client]:
    with live.client() as c:
        yield c


# -- independent verifiers ------------------------------------------------------------------


def _tagged_hash(tag: str, data: bytes) -> bytes:
    t = hashlib.sha256(tag.encode()).digest()
    return hashlib.sha256(t + t + data).digest()


def taproot_output_key(internal_xonly: bytes, merkle_root: bytes) -> bytes:
    """BIP 341 output key, computed with libsecp256k1 (coincurve) only."""
    key = coincurve.PublicKeyXOnly(internal_xonly)
    key.tweak_add(_tagged_hash("TapTweak", internal_xonly + merkle_root))
    return bytes(key.format())


def assert_bip340_all_tweaks(client: Client, key: Key) -> None:
    internal = key.xonly_public_key_bytes
    digest = os.urandom(32)
    root = os.urandom(32)
    for tweak, xonly in (
        (None, internal),
        (b"", taproot_output_key(internal, b"")),
        (root, taproot_output_key(internal, root)),
    ):
        sig = client.keys.sign(key.id, hash=digest, taproot_merkle_root=tweak)
        assert sig.status == "Signed" and sig.signature is not None
        encoded = sig.signature.encoded_bytes
        assert len(encoded) == 64
        assert coincurve.PublicKeyXOnly(xonly).verify(encoded, digest), tweak
        assert not coincurve.PublicKeyXOnly(xonly).verify(encoded, os.urandom(32))
        assert encoded == sig.signature.r_bytes + sig.signature.s_bytes


# -- tests ---------------------------------------------------------------------------------


def test_signers_publish_verifiable_keys(client: Client) -> None:
    (cluster,) = client.signers.list()
    assert len(cluster.signers) == 3
    for s in cluster.signers:
        assert len(s.identity_key_bytes) == 32 and len(s.encryption_key_bytes) == 32
    health = client.health()
    assert set(health) == {"status", "ecdsaReady", "auxInfoProgress"}
    assert health["status"] == "ok" and isinstance(health["ecdsaReady"], bool)
    assert 0.0 <= health["auxInfoProgress"] <= 1.0


def test_create_list_get_update_sign_eddsa(client: Client) -> None:
    key = client.keys.create(scheme="EdDSA", curve="ed25519", name="e2e-eddsa")
    assert key.id.startswith("key-") and key.status == "Active" and key.protocol == "FROST"
    assert key.min_signers == 2 and len(key.signers) == 3 and not key.imported
    assert client.keys.get(key.id) == key.model_copy(update={"wallets": []})
    assert key.id in {k.id for k in client.keys.iter_all(page_size=1)}
    assert client.keys.update(key.id, name="renamed").name == "renamed"

    message = b"shardvault e2e " + os.urandom(16)
    sig = client.keys.sign(key.id, message=message)
    assert sig.status == "Signed" and sig.key_id == key.id and sig.signature is not None
    VerifyKey(key.public_key_bytes).verify(message, sig.signature.encoded_bytes)
    assert sig.request_body["kind"] == "Message"
    assert client.keys.get_signature(key.id, sig.id) == sig
    assert sig.id in {s.id for s in client.keys.list_signatures(key.id)}

    # Dfns: an EdDSA key signs a Hash too (its 32 bytes as the message)
    digest = os.urandom(32)
    hashed = client.keys.sign(key.id, hash=digest)
    assert hashed.signature is not None
    VerifyKey(key.public_key_bytes).verify(digest, hashed.signature.encoded_bytes)
    with pytest.raises(ShardvaultApiError) as info:
        client.keys.sign(key.id, hash=os.urandom(31))
    assert info.value.status_code == 400


def test_create_sign_schnorr_bip340(client: Client) -> None:
    key = client.keys.create(scheme="Schnorr", curve="secp256k1")
    assert key.protocol == "FROST_BITCOIN" and len(key.public_key_bytes) == 33
    assert_bip340_all_tweaks(client, key)


def test_external_id_signs_once(client: Client) -> None:
    key = client.keys.create(scheme="EdDSA", curve="ed25519")
    external_id = "ext-" + os.urandom(4).hex()
    first = client.keys.sign(key.id, message=b"once", external_id=external_id)
    again = client.keys.sign(key.id, message=b"once", external_id=external_id)
    assert again.id == first.id
    assert again.signature == first.signature
    assert len(client.keys.list_signatures(key.id)) == 1


def test_import_ed25519_seed_sign_verify_with_its_own_key(client: Client) -> None:
    seed = os.urandom(32)
    key = client.keys.import_key(seed, curve="ed25519", protocol="FROST", min_signers=2)
    assert key.imported and key.scheme == "EdDSA"
    assert key.public_key_bytes == bytes(SigningKey(seed).verify_key)
    message = os.urandom(40)
    sig = client.keys.sign(key.id, message=message)
    assert sig.signature is not None
    SigningKey(seed).verify_key.verify(message, sig.signature.encoded_bytes)


def test_import_solana_keypair(client: Client) -> None:
    seed = os.urandom(32)
    keypair = seed + bytes(SigningKey(seed).verify_key)
    key = client.keys.import_key(keypair, curve="ed25519", protocol="FROST", min_signers=3)
    assert key.public_key_bytes == keypair[32:] and key.min_signers == 3


def test_import_secp256k1_frost_bitcoin(client: Client) -> None:
    priv = coincurve.PrivateKey()
    key = client.keys.import_key(
        priv.secret, curve="secp256k1", protocol="FROST_BITCOIN", min_signers=2, name="btc"
    )
    assert key.imported and key.name == "btc" and key.scheme == "Schnorr"
    assert key.xonly_public_key_bytes == coincurve.PublicKeyXOnly.from_secret(priv.secret).format()
    assert_bip340_all_tweaks(client, key)


def test_export_round_trip(live: LiveVault, client: Client) -> None:
    priv = coincurve.PrivateKey()
    btc = client.keys.import_key(
        priv.secret, curve="secp256k1", protocol="FROST_BITCOIN", min_signers=2
    )
    seed = os.urandom(32)
    ed = client.keys.import_key(seed, curve="ed25519", protocol="FROST", min_signers=2)

    with pytest.raises(ShardvaultApiError) as info:  # off by default
        client.keys.export_key(btc.id)
    assert info.value.status_code == 403
    assert not client.keys.get(btc.id).exported

    set_key_export(live.database_url, True)
    try:
        assert client.keys.export_key(btc.id) == priv.secret
        assert client.keys.export_key(ed.id) == ed25519_scalar_from_seed(seed).to_bytes(
            32, "little"
        )
        generated = client.keys.create(scheme="Schnorr", curve="secp256k1")
        exported = client.keys.export_key(generated.id)
        assert coincurve.PrivateKey(exported).public_key.format() == generated.public_key_bytes
    finally:
        set_key_export(live.database_url, False)
    after = client.keys.get(btc.id)
    assert after.exported and after.date_exported is not None
    with pytest.raises(ShardvaultApiError):
        client.keys.sign(btc.id, hash=os.urandom(32))


def test_delete_archives(client: Client) -> None:
    key = client.keys.create(scheme="EdDSA", curve="ed25519")
    assert client.keys.delete(key.id).status == "Archived"
    assert client.keys.get(key.id).status == "Archived"
    with pytest.raises(ShardvaultApiError):
        client.keys.sign(key.id, message=b"x")


def test_api_errors_reach_the_caller_typed(live: LiveVault, client: Client) -> None:
    with pytest.raises(ShardvaultApiError) as info:
        client.keys.get("key-doesnotexist")
    assert info.value.status_code == 404 and info.value.code.endswith("NotFound")
    with Client(live.base_url, token="sv_wrong") as bad:
        with pytest.raises(ShardvaultApiError) as info:
            bad.keys.list()
    assert info.value.status_code == 401
    with pytest.raises(ShardvaultApiError) as info:
        client.keys.create(scheme="EdDSA", curve="secp256k1")
    assert info.value.status_code == 400


def test_signing_with_signers_down(live: LiveVault, client: Client) -> None:
    key = client.keys.create(scheme="EdDSA", curve="ed25519")
    vault = live.vault
    assert vault is not None
    first, second, _ = key.signers
    try:
        live.on_loop(lambda: vault.stop_signer(first))
        sig = client.keys.sign(key.id, message=b"one down")
        assert sig.signature is not None
        VerifyKey(key.public_key_bytes).verify(b"one down", sig.signature.encoded_bytes)
        live.on_loop(lambda: vault.stop_signer(second))
        with pytest.raises(ShardvaultApiError) as info:
            client.keys.sign(key.id, message=b"two down")
        assert info.value.status_code == 503
        assert first in str(info.value.details) or first in info.value.message
        assert second in str(info.value.details) or second in info.value.message
    finally:
        live.on_loop(lambda: vault.start_signer(first))
        live.on_loop(lambda: vault.start_signer(second))
    assert client.keys.sign(key.id, message=b"back").status == "Signed"


def test_keys_survive_a_restart(tmp_path: Path) -> None:
    kek = os.urandom(32)
    seed = os.urandom(32)
    with LiveVault(tmp_path, kek) as live, live.client() as client:
        imported = client.keys.import_key(seed, curve="ed25519", protocol="FROST", min_signers=2)
        generated = client.keys.create(scheme="Schnorr", curve="secp256k1")
    with LiveVault(tmp_path, kek) as live, live.client() as client:
        assert {k.id for k in client.keys.iter_all()} >= {imported.id, generated.id}
        sig = client.keys.sign(imported.id, message=b"after restart")
        assert sig.signature is not None
        SigningKey(seed).verify_key.verify(b"after restart", sig.signature.encoded_bytes)
        assert_bip340_all_tweaks(client, generated)
