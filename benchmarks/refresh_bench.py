"""Refresh-epoch benchmark: how long a group epoch takes on the embedded vault
(3 signers, 2-of-3), with the spare-prime stock ready and with fresh primes.

Run with ``.venv/bin/python benchmarks/refresh_bench.py [--keys N]`` (about 1-3
minutes; N keys of each kind: CGGMP24, FROST Ed25519, FROST BIP 340). One vault per
case, started from the TEST-ONLY fixture primes of ``tests/fixtures/cggmp_primes.json``
(the first aux info); in the ``stock`` case the next six fixture primes are the
signers' in-memory spare stock, in the ``fresh`` case every signer generates two new
1536-bit safe primes during the epoch (the prime search is memoryless: its time
varies a lot between runs). Every key signs after the epoch, verified with
coincurve / PyNaCl. Results also go to ``benchmarks/results/refresh_bench.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import coincurve
from nacl.signing import VerifyKey

from shardvault.coordinator.backend import KeyRecord
from shardvault.server.embedded import EmbeddedVault

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "cggmp_primes.json"
RESULTS = Path(__file__).resolve().parent / "results" / "refresh_bench.json"


def _primes(with_stock: bool) -> list[tuple[int, ...]]:
    p = [int(x, 16) for x in json.loads(FIXTURE.read_text())["safe_primes_1536"]]
    if with_stock:
        return [(p[2 * i], p[2 * i + 1], p[6 + 2 * i], p[7 + 2 * i]) for i in range(3)]
    return [(p[2 * i], p[2 * i + 1]) for i in range(3)]


async def _case(n_keys: int, *, stock: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        vault = EmbeddedVault(
            Path(tmp) / "vault",
            kek=os.urandom(32),
            ecdsa_primes=_primes(stock),
            presig_pool_target=0,
        )
        await vault.start()
        try:
            while not (await vault.ecdsa_status()).ready:
                await asyncio.sleep(0.2)
            keys: list[KeyRecord] = []
            for i in range(n_keys):
                for protocol, curve in (
                    ("CGGMP24", "secp256k1"),
                    ("FROST", "ed25519"),
                    ("FROST_BITCOIN", "secp256k1"),
                ):
                    keys.append(await vault.generate_key(f"key-{protocol}-{i}", protocol, curve, 2))
            start = time.perf_counter()
            result = await vault.run_epoch(keys, fresh_primes=not stock)
            wall = time.perf_counter() - start
            assert result.state == "committed" and result.primes == ("stock" if stock else "fresh")
            for key in keys:
                new = dataclasses.replace(
                    key, verifying_shares=dict(result.verifying_shares[key.key_id])
                )
                digest = os.urandom(32)
                sig = await vault.sign(new, digest)
                if key.protocol == "CGGMP24":
                    der = coincurve.ecdsa.cdata_to_der(
                        coincurve.ecdsa.deserialize_compact(sig[:64])
                    )
                    assert coincurve.PublicKey(key.public_key).verify(der, digest, hasher=None)
                elif key.curve == "ed25519":
                    VerifyKey(key.public_key).verify(digest, sig)
                else:
                    assert coincurve.PublicKeyXOnly(key.public_key[1:]).verify(sig, digest)
            return {
                "primes": result.primes,
                "keys": {"ecdsa": result.ecdsa_keys, "frost": result.frost_keys},
                "epoch_seconds": round(wall, 3),
                "epoch_duration_ms": result.duration_ms,
            }
        finally:
            await vault.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=2, help="keys of each kind (default 2)")
    args = parser.parse_args()
    out = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "keys_per_kind": args.keys,
        "cases": [],
    }
    for stock in (True, False):
        case = asyncio.run(_case(args.keys, stock=stock))
        out["cases"].append(case)  # type: ignore[attr-defined]
        print(
            f"epoch, {case['keys']['ecdsa']} ECDSA + {case['keys']['frost']} FROST keys, "
            f"{case['primes']} primes: {case['epoch_seconds']:.2f} s",
            flush=True,
        )
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
