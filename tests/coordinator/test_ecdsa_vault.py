"""CGGMP24 (threshold ECDSA) through the embedded vault, below the REST layer: aux
info, key generation, import (an eth-account key keeps its address), presignature
pools, one-round signing, export, refresh, failures with blame, and durable
consumption of presignatures across a restart.

The signers' Paillier primes are TEST-ONLY fixtures (tests/fixtures/cggmp_primes.json);
tests/coordinator/test_ecdsa_real_primes.py generates real ones once.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import coincurve
import pytest
from eth_account import Account
from eth_account.messages import _hash_eip191_message, encode_defunct
from eth_keys import keys as eth_keys
from vault_runner import VaultRunner

from shardvault.coordinator.backend import KeyRecord
from shardvault.errors import (
    AuxInfoNotReady,
    Conflict,
    InvalidParameters,
    NotFound,
    SignerMisbehaved,
)
from shardvault.protocols import key_import
from shardvault.protocols.cggmp.binding import presignature_binding
from shardvault.server.embedded import EmbeddedVault
from shardvault.signer.ecdsa import share_from_record
from shardvault.signer.epoch import KEY_EXPORTED

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "cggmp_primes.json"
Q = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def fixture_prime_pairs() -> list[tuple[int, int]]:
    """TEST ONLY: three pairs of pregenerated 1536-bit safe primes (public!)."""
    primes = [int(p, 16) for p in json.loads(FIXTURE.read_text())["safe_primes_1536"]]
    return [(primes[0], primes[1]), (primes[2], primes[3]), (primes[4], primes[5])]


def wait_ready(runner: VaultRunner, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while not runner.run(runner.vault.ecdsa_status()).ready:
        assert time.monotonic() < deadline, runner.run(runner.vault.ecdsa_status())
        runner.run(_sleep(0.2))


async def _sleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)


def check_signature(key: KeyRecord, digest: bytes, sig: bytes) -> None:
    """Independent checks with libsecp256k1: low-s, DER verify, key recovery by recid."""
    assert len(sig) == 65
    r, s, recid = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:64], "big"), sig[64]
    assert 0 < r < Q and 0 < s <= Q // 2 and recid in (0, 1, 2, 3)
    pub = coincurve.PublicKey(key.public_key)
    der = coincurve.ecdsa.cdata_to_der(coincurve.ecdsa.deserialize_compact(sig[:64]))
    assert pub.verify(der, digest, hasher=None)
    recovered = coincurve.PublicKey.from_signature_and_message(sig, digest, hasher=None)
    assert recovered.format() == key.public_key


@pytest.fixture(scope="module")
def runner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VaultRunner]:
    r = VaultRunner(
        tmp_path_factory.mktemp("ecdsa") / "vault",
        os.urandom(32),
        ecdsa_primes=fixture_prime_pairs(),
        presig_pool_target=2,
    )
    # Before aux info exists, ECDSA requests are refused with a 503 error.
    status = r.run(r.vault.ecdsa_status())
    assert not status.ready and 0.0 <= status.progress < 1.0
    with pytest.raises(AuxInfoNotReady):
        r.run(r.vault.generate_key("key-early", "CGGMP24", "secp256k1", 2))
    wait_ready(r)
    yield r
    r.close()


def test_aux_info_agreed_by_all_signers(runner: VaultRunner) -> None:
    status = runner.run(runner.vault.ecdsa_status())
    assert status.ready and status.progress == 1.0
    digests = {n.ecdsa.status()["auxDigest"] for n in runner.vault.nodes.values()}
    assert len(digests) == 1 and None not in digests


def test_generate_and_sign_cold_and_warm(runner: VaultRunner) -> None:
    v = runner.vault
    key = runner.run(v.generate_key("key-gen", "CGGMP24", "secp256k1", 2))
    assert len(key.public_key) == 33 and len(key.verifying_shares) == 3
    for _ in range(4):
        digest = os.urandom(32)
        check_signature(key, digest, runner.run(v.sign(key, digest)))
    # The pool refills in the background to its target.
    deadline = time.monotonic() + 60
    while v.coordinator.ecdsa.warm(key) < 2:
        assert time.monotonic() < deadline
        runner.run(_sleep(0.2))
    check_signature(key, bytes(32), runner.run(v.sign(key, bytes(32))))
    with pytest.raises(InvalidParameters):
        runner.run(v.sign(key, b"not a 32-byte hash"))


def test_imported_ethereum_key_keeps_its_address(runner: VaultRunner) -> None:
    account = Account.create()
    secret = int.from_bytes(bytes(account.key), "big")
    v = runner.vault
    context = key_import.ImportContext.issue()
    _, blobs = key_import.seal_import_shares(
        secret,
        context=context,
        curve="secp256k1",
        protocol="CGGMP24",
        min_signers=2,
        signers=[(d.signer_id, d.encryption_key) for d in runner.run(v.list_signers())],
    )
    key = runner.run(v.import_key("key-eth", "CGGMP24", "secp256k1", 2, dict(blobs), context))
    message = encode_defunct(text="shardvault signs for this address")
    digest = _hash_eip191_message(message)
    sig = runner.run(v.sign(key, digest))
    check_signature(key, digest, sig)
    # eth-keys recovers the address from (r, s, recid) ...
    recovered = eth_keys.Signature(
        vrs=(sig[64], *(int.from_bytes(x, "big") for x in (sig[:32], sig[32:64])))
    )
    assert (
        recovered.recover_public_key_from_msg_hash(digest).to_checksum_address() == account.address
    )
    # ... and eth-account agrees with v = 27 + recid.
    v_, r_, s_ = 27 + sig[64], int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:64], "big")
    assert Account.recover_message(message, vrs=(v_, r_, s_)) == account.address

    # Export gives back exactly the imported key.
    exported = runner.export_secret(key, curve="secp256k1", protocol="CGGMP24", min_signers=2)
    assert exported == secret


def test_refresh_epoch_changes_shares_not_key(runner: VaultRunner) -> None:
    """A refresh is a group epoch; with no spare primes in stock (this vault has
    none) every signer generates fresh ones during the epoch."""
    v = runner.vault
    key = runner.run(v.generate_key("key-refresh", "CGGMP24", "secp256k1", 2))
    check_signature(key, bytes(32), runner.run(v.sign(key, bytes(32))))
    before = {s: n.store.get_share(key.key_id).record for s, n in v.nodes.items()}
    digests = {s: n.ecdsa.status()["auxDigest"] for s, n in v.nodes.items()}
    # An epoch re-deals every live key of the group (earlier tests of this module
    # made others): one that leaves a live key out is aborted before its decision.
    others = [r for r in _live_ecdsa_records(v) if r.key_id != key.key_id]
    assert others
    with pytest.raises(Conflict) as err:
        runner.run(v.run_epoch([key], fresh_primes=False))
    assert err.value.code == "KeysOutOfStep" and others[0].key_id in err.value.message
    result = runner.run(v.run_epoch([key, *others], fresh_primes=False))
    assert result.state == "committed" and result.primes == "fresh"
    new = KeyRecord(
        key.key_id,
        key.protocol,
        key.curve,
        key.public_key,
        key.min_signers,
        key.signer_ids,
        dict(result.verifying_shares[key.key_id]),
    )
    assert set(new.verifying_shares) == set(key.verifying_shares)
    assert all(new.verifying_shares[s] != key.verifying_shares[s] for s in key.signer_ids)
    for s, node in v.nodes.items():
        assert node.store.get_share(key.key_id).record != before[s]
        assert node.ecdsa.status()["auxDigest"] != digests[s]
        # Old presignatures are gone once every signer committed.
        assert node.ecdsa.pool.count(key.key_id, _binding(new, [1, 2])) == 0
    digest = os.urandom(32)
    check_signature(new, digest, runner.run(v.sign(new, digest)))
    with pytest.raises(InvalidParameters):  # every share of a 1-of-n key is the key
        one = runner.run(v.generate_key("key-one", "CGGMP24", "secp256k1", 1))
        runner.run(v.run_epoch([one], fresh_primes=False))


def _live_ecdsa_records(v: EmbeddedVault) -> list[KeyRecord]:
    """The Active, never exported CGGMP24 keys the signers hold, as KeyRecords."""
    node = next(iter(v.nodes.values()))
    records = []
    for key_id in node.store.key_ids():
        row = node.store.get_share(key_id)
        exported = node.store.get_secret(KEY_EXPORTED + key_id) is not None
        if row.protocol != "CGGMP24" or row.status != "Active" or exported:
            continue
        share, ids = share_from_record(row.record)
        records.append(
            KeyRecord(
                key_id,
                "CGGMP24",
                "secp256k1",
                share.public_key.encode(),
                share.threshold,
                tuple(ids),
                {ids[i - 1]: p.encode() for i, p in share.public_shares.items()},
            )
        )
    return records


def _binding(key: KeyRecord, indices: list[int]) -> bytes:
    return presignature_binding(key.key_id, key.public_key, indices)


def test_one_signer_down_still_signs(runner: VaultRunner) -> None:
    v = runner.vault
    key = runner.run(v.generate_key("key-down", "CGGMP24", "secp256k1", 2))
    first = key.signer_ids[0]
    v.stop_signer(first)
    try:
        digest = os.urandom(32)
        check_signature(key, digest, runner.run(v.sign(key, digest)))
    finally:
        v.start_signer(first)


def test_bad_partial_signature_is_blamed(runner: VaultRunner) -> None:
    v = runner.vault
    key = runner.run(v.generate_key("key-blame", "CGGMP24", "secp256k1", 2))
    victim = key.signer_ids[1]
    honest = v.nodes[victim].handle

    def corrupt(request: bytes) -> bytes:
        reply = honest(request)
        data = json.loads(reply)
        if "sigma" in data:
            sigma = (int(data["sigma"], 16) + 1) % Q
            data["sigma"] = sigma.to_bytes(32, "big").hex()
            return json.dumps(data).encode()
        return reply

    v.transport.register(victim, corrupt)
    try:
        with pytest.raises(SignerMisbehaved) as err:
            runner.run(v.sign(key, os.urandom(32)))
        assert err.value.signers == (victim,)
        assert err.value.check == "sign: sigma_j Gamma = m Delta_j + r S_j"
    finally:
        v.transport.register(victim, honest)
    check_signature(key, bytes(32), runner.run(v.sign(key, bytes(32))))


def test_consumed_presignature_survives_crash_and_restart(runner: VaultRunner) -> None:
    """A signer that consumed a presignature and then died before its partial
    signature left: after a restart that presignature is gone for good."""
    v = runner.vault
    key = runner.run(v.generate_key("key-crash", "CGGMP24", "secp256k1", 2))
    indices = [1, 2]
    presig_id = runner.run(
        v.coordinator.ecdsa._presign(
            v.coordinator.ecdsa._keys[key.key_id], indices, background=False
        )
    )
    signer = key.signer_ids[0]
    call = v.coordinator.sessions.call(
        signer,
        "sign.ecdsa",
        keyId=key.key_id,
        presigId=presig_id,
        signers=indices,
        hash=bytes(32).hex(),
    )
    runner.run(call)  # the reply is "lost": the process dies here
    runner.restart()
    wait_ready(runner)
    v = runner.vault
    node = v.nodes[signer]
    # The start discarded the whole pool (docs/security.md item 29): the row is gone.
    assert node.ecdsa.pool.status(presig_id) is None
    assert node.ecdsa.discarded_at_start["presignatures"] >= 0
    with pytest.raises(NotFound):
        runner.run(
            v.coordinator.sessions.call(
                signer,
                "sign.ecdsa",
                keyId=key.key_id,
                presigId=presig_id,
                signers=indices,
                hash=bytes(32).hex(),
            )
        )
    # The other signer still holds its half, but the coordinator never offers it.
    assert presig_id not in v.coordinator.ecdsa._presigs.get(
        (key.key_id, _binding(key, indices)), []
    )
    digest = os.urandom(32)
    check_signature(key, digest, runner.run(v.sign(key, digest)))


def test_warm_pool_refills_after_restart(runner: VaultRunner) -> None:
    """A restart discards every signer's pool (docs/security.md item 29); the
    coordinator's inventory starts empty and the pool keeper refills it."""
    v = runner.vault
    key = runner.run(v.generate_key("key-warm", "CGGMP24", "secp256k1", 2))
    deadline = time.monotonic() + 90
    while v.coordinator.ecdsa.warm(key) < 2:
        assert time.monotonic() < deadline
        runner.run(_sleep(0.2))
    binding = _binding(key, [1, 2])
    before = set(v.coordinator.ecdsa._presigs[(key.key_id, binding)])
    runner.restart()
    wait_ready(runner)
    # Every key of this module's vault refills now (two presignatures each, several
    # seconds apiece on a loaded machine), not only this one.
    deadline = time.monotonic() + 600
    while runner.vault.coordinator.ecdsa.warm(key) < 2:
        assert time.monotonic() < deadline
        runner.run(_sleep(0.2))
    assert before.isdisjoint(runner.vault.coordinator.ecdsa._presigs[(key.key_id, binding)])
    digest = os.urandom(32)
    check_signature(key, digest, runner.run(runner.vault.sign(key, digest)))
