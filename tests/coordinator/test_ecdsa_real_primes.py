"""The one end-to-end run with real Paillier primes (issue 5, item 4): three signers
search their 1536-bit safe primes in the background at first start, run aux info,
and the vault generates a key and signs. Several minutes of CPU on two cores."""

from __future__ import annotations

import os
import time
from pathlib import Path

import coincurve
import pytest
from vault_runner import VaultRunner

from shardvault.crypto.safeprimes import is_safe_prime
from shardvault.signer.aux_primes import RECORD_NAME, decode_primes


@pytest.mark.slow
def test_real_safe_primes_end_to_end(tmp_path: Path) -> None:
    runner = VaultRunner(
        tmp_path / "vault", os.urandom(32), ecdsa_primes="generate", presig_pool_target=0
    )
    try:
        seen: list[float] = []
        deadline = time.monotonic() + 1200
        while True:
            status = runner.run(runner.vault.ecdsa_status())
            seen.append(status.progress)
            if status.ready:
                break
            assert time.monotonic() < deadline, status
            runner.run(_sleep(0.5))
        assert seen == sorted(seen), "progress never goes back"
        assert seen[-1] == 1.0
        moduli = set()
        for node in runner.vault.nodes.values():
            blob = node.store.get_secret(RECORD_NAME)
            assert blob is not None
            p, q = decode_primes(blob, 1536)
            assert is_safe_prime(p) and is_safe_prime(q) and p != q
            assert (p * q).bit_length() == 3072
            moduli.add(p * q)
        assert len(moduli) == 3
        key = runner.run(runner.vault.generate_key("key-real", "CGGMP24", "secp256k1", 2))
        digest = os.urandom(32)
        sig = runner.run(runner.vault.sign(key, digest))
        recovered = coincurve.PublicKey.from_signature_and_message(sig, digest, hasher=None)
        assert recovered.format() == key.public_key
    finally:
        runner.close()


async def _sleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)
