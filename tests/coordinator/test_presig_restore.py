"""A restored backup never reuses a presignature (docs/security.md item 29).

The attack: sign with warm presignatures, copy the vault's data directory (vault
stopped: a consistent backup), sign again, stop, restore the copy, start, sign
again. Before the fix the restored ``presignatures.sqlite3`` handed out the
presignature already used after the backup a second time: two ECDSA signatures
with one ``r``, and the two partial signatures of each signer on one presignature
give away its ``k_i`` and ``chi_i`` — with those of every signer of the set, the
key (``recover_from_reuse`` below does it, and ``test_reuse_recovers_the_key``
shows it on a reused presignature).

Now every signer discards its whole pool at start, durably, before it answers a
request, and says so (log line and ``ecdsa.status`` ``discardedAtStart``).
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import coincurve
import pytest
from test_ecdsa_vault import Q, check_signature, fixture_prime_pairs, wait_ready
from vault_runner import VaultRunner

from shardvault.coordinator.backend import KeyRecord
from shardvault.crypto.groups import SECP256K1
from shardvault.protocols.cggmp.presignature_codec import public_from_bytes
from shardvault.protocols.cggmp.sign import message_scalar

#: One captured online signing: the hash and each signer's reply (sigma, public).
Partials = tuple[bytes, dict[str, dict[str, Any]]]


def recover_from_reuse(a: Partials, b: Partials) -> tuple[dict[int, tuple[int, int]], int]:
    """From the partial signatures of two signings on ONE presignature (different
    messages): every signer's ``(k_i, chi_i)`` (``sigma = k_i m + r chi_i``: two
    equations, two unknowns), each checked against the presignature's public
    ``Delta_i = k_i Gamma`` and ``S_i = chi_i Gamma``, and the secret key
    ``x = sum chi_i / sum k_i``."""
    (hash_a, replies_a), (hash_b, replies_b) = a, b
    m_a, m_b = message_scalar(hash_a), message_scalar(hash_b)
    assert m_a != m_b
    secrets_of: dict[int, tuple[int, int]] = {}
    for signer, reply_a in replies_a.items():
        public = public_from_bytes(bytes.fromhex(reply_a["public"]))
        assert replies_b[signer]["public"] == reply_a["public"], "not one presignature"
        sigma_a = int(reply_a["sigma"], 16)
        sigma_b = int(replies_b[signer]["sigma"], 16)
        k = (sigma_a - sigma_b) * pow(m_a - m_b, -1, Q) % Q
        chi = (sigma_a - k * m_a) * pow(public.r, -1, Q) % Q
        index = next(i for i in public.signers if public.Delta[i] == public.Gamma * k)
        assert public.S[index] == public.Gamma * chi
        secrets_of[index] = (k, chi)
    x = sum(c for _, c in secrets_of.values()) * pow(sum(k for k, _ in secrets_of.values()), -1, Q)
    return secrets_of, x % Q


def capture_partials(runner: VaultRunner) -> list[Partials]:
    """Record every ``sign.ecdsa`` round the coordinator runs (what a hostile API
    host sees): the hash and each signer's reply."""
    sessions = runner.vault.coordinator.sessions
    honest = sessions.start_all
    seen: list[Partials] = []

    async def recording(ids: Any, op: str, index_of: Any, **kw: Any) -> Any:
        replies = await honest(ids, op, index_of, **kw)
        if op == "sign.ecdsa":
            seen.append((bytes.fromhex(kw["hash"]), dict(replies)))
        return replies

    sessions.start_all = recording  # type: ignore[method-assign]
    return seen


def wait_warm(runner: VaultRunner, key: KeyRecord, n: int, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while runner.vault.coordinator.ecdsa.warm(key) < n:
        assert time.monotonic() < deadline, "the pool did not fill"
        runner.run(_sleep(0.1))


async def _sleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)


def r_of(sig: bytes) -> int:
    return int.from_bytes(sig[:32], "big")


@pytest.fixture
def runner(tmp_path: Path) -> Iterator[VaultRunner]:
    r = VaultRunner(
        tmp_path / "vault",
        os.urandom(32),
        ecdsa_primes=fixture_prime_pairs(),
        presig_pool_target=2,
    )
    wait_ready(r)
    yield r
    r.close()


def _sign(runner: VaultRunner, key: KeyRecord) -> tuple[bytes, Partials]:
    seen = capture_partials(runner)
    digest = os.urandom(32)
    sig = runner.run(runner.vault.sign(key, digest))
    check_signature(key, digest, sig)
    assert len(seen) == 1
    return sig, seen[0]


def test_restored_backup_never_reuses_a_presignature(
    runner: VaultRunner, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    key = runner.run(runner.vault.generate_key("key-restore", "CGGMP24", "secp256k1", 2))
    wait_warm(runner, key, 2)
    signatures = [_sign(runner, key)]
    wait_warm(runner, key, 2)  # the backup holds two available presignatures
    backup = tmp_path / "backup"
    runner.run(runner.vault.stop())
    shutil.copytree(runner.data_dir, backup)
    runner.vault = runner.open()
    wait_ready(runner)
    signatures.append(_sign(runner, key))  # after the backup was taken
    runner.run(runner.vault.stop())
    shutil.rmtree(runner.data_dir)
    shutil.copytree(backup, runner.data_dir)
    with caplog.at_level(logging.INFO, logger="shardvault.signer"):
        runner.vault = runner.open()  # the restored backup
    wait_ready(runner)
    signatures.append(_sign(runner, key))

    by_r: dict[int, Partials] = {}
    for sig, partials in signatures:
        if r_of(sig) in by_r:
            _, x = recover_from_reuse(by_r[r_of(sig)], partials)
            leaked = coincurve.PublicKey.from_secret(x.to_bytes(32, "big")).format()
            pytest.fail(f"two signatures share r; key recovered: {leaked == key.public_key}")
        by_r[r_of(sig)] = partials

    # The vault says what it discarded: the preferred set (signers 1 and 2) held the
    # backup's two presignatures of the key; signer 3 held none.
    discarded = {s: n.ecdsa.discarded_at_start for s, n in runner.vault.nodes.items()}
    ids = key.signer_ids
    assert discarded[ids[0]] == discarded[ids[1]] == {"presignatures": 2, "keys": 1}
    assert discarded[ids[2]] == {"presignatures": 0, "keys": 0}
    for s in ids:
        reply = runner.run(runner.vault.coordinator.sessions.call(s, "ecdsa.status"))
        assert reply["discardedAtStart"] == discarded[s]
        assert f"signer {s}: discarded {discarded[s]['presignatures']} presignatures of " in (
            caplog.text
        )
    assert "discarded 2 presignatures of 1 keys at start" in caplog.text


def test_restart_discards_the_pool_and_refills_it(runner: VaultRunner) -> None:
    """After a plain restart the coordinator's inventory is empty, signing at once
    still works (presigning on the spot), and the pool refills in the background."""
    key = runner.run(runner.vault.generate_key("key-refill", "CGGMP24", "secp256k1", 2))
    wait_warm(runner, key, 2)
    before = {
        s: set(n.ecdsa.pool.available(key.key_id).get(_preferred(runner, key), []))
        for s, n in runner.vault.nodes.items()
    }
    runner.restart()
    wait_ready(runner)
    for s, node in runner.vault.nodes.items():
        now = node.ecdsa.pool.available(key.key_id).get(_preferred(runner, key), [])
        assert before[s].isdisjoint(now)
    digest = os.urandom(32)
    check_signature(key, digest, runner.run(runner.vault.sign(key, digest)))
    wait_warm(runner, key, 2)


def _preferred(runner: VaultRunner, key: KeyRecord) -> bytes:
    return runner.vault.coordinator.ecdsa._keys[key.key_id].preferred_binding


def test_reuse_recovers_the_key() -> None:
    """The leak ``recover_from_reuse`` demonstrates, on a 2-of-2 presignature built in
    the clear (k = k_1 + k_2, chi_i with sum chi_i = k x): two partial signatures on
    one presignature give each k_i, chi_i and the key."""
    from shardvault.protocols.cggmp.presignature import Presignature, PresignaturePublic
    from shardvault.protocols.cggmp.presignature_codec import public_to_bytes
    from shardvault.protocols.cggmp.sign import sign_share

    x = SECP256K1.random_scalar()
    k = {1: SECP256K1.random_scalar(), 2: SECP256K1.random_scalar()}
    chi1 = SECP256K1.random_scalar()
    chi = {1: chi1, 2: ((k[1] + k[2]) * x - chi1) % Q}
    gamma = SECP256K1.mul_base(SECP256K1.random_scalar())
    public = PresignaturePublic(
        session_id=os.urandom(32),
        signers=(1, 2),
        public_key=SECP256K1.mul_base(x),
        R=SECP256K1.mul_base(pow(k[1] + k[2], -1, Q)),
        Gamma=gamma,
        Delta={i: gamma * k[i] for i in k},
        S={i: gamma * chi[i] for i in k},
    )

    def partials(digest: bytes) -> Partials:
        replies = {}
        for i in (1, 2):
            sigma = sign_share(Presignature(i, k[i], chi[i], public), digest)  # a "restored" copy
            replies[f"s{i}"] = {
                "sigma": sigma.to_bytes(32, "big").hex(),
                "public": public_to_bytes(public).hex(),
            }
        return digest, replies

    found, recovered = recover_from_reuse(partials(os.urandom(32)), partials(os.urandom(32)))
    assert recovered == x
    assert found == {i: (k[i], chi[i]) for i in (1, 2)}


def test_one_signer_restarted_alone_still_signs(runner: VaultRunner) -> None:
    """A signer restarted on its own (the coordinator keeps running) discards its
    pool; the coordinator's warm ids for it are stale. The first NotFound drops the
    stale list, the signature is made with a fresh presignature, the pool refills."""
    runner.vault.coordinator.ecdsa.pool_target = 4  # more stale ids than sign attempts
    key = runner.run(runner.vault.generate_key("key-one", "CGGMP24", "secp256k1", 2))
    wait_warm(runner, key, 4)
    first = key.signer_ids[0]
    runner.vault.stop_signer(first)
    runner.vault.start_signer(first)
    assert runner.vault.nodes[first].ecdsa.discarded_at_start["presignatures"] == 4
    for _ in range(3):
        digest = os.urandom(32)
        check_signature(key, digest, runner.run(runner.vault.sign(key, digest)))
    wait_warm(runner, key, 4)
