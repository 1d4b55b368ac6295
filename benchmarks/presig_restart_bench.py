"""What discarding every presignature pool at start costs (docs/security.md item 29).

Run with ``.venv/bin/python benchmarks/presig_restart_bench.py`` (about a minute;
``--keys 4 --target 8`` are the defaults). An embedded vault (3 signers, 2-of-3,
TEST-ONLY fixture primes so no prime search is timed) gets ``--keys`` CGGMP24 keys
and fills their pools to ``--target``; then it is restarted ``--restarts`` times and
each restart times:

* ``discard_at_open``: the signers' ``discard_all`` at open (the three together);
* ``start_to_ready``: ``EmbeddedVault.start`` until the coordinator is ready;
* ``start_to_first_signature``: a signature requested at once after start (no warm
  presignature yet: it presigns on the spot), verified with libsecp256k1;
* ``start_to_warm_pool``: until every key's pool is back at ``--target``.

The numbers go to ``benchmarks/results/presig_restart_bench.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any

import coincurve

from shardvault.coordinator.backend import KeyRecord
from shardvault.server.embedded import EmbeddedVault
from shardvault.signer.presig_pool import PresignaturePool

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "cggmp_primes.json"
RESULTS = ROOT / "benchmarks" / "results" / "presig_restart_bench.json"


def fixture_primes() -> list[tuple[int, int]]:
    """TEST ONLY: pregenerated 1536-bit safe primes (public)."""
    primes = [int(p, 16) for p in json.loads(FIXTURE.read_text())["safe_primes_1536"]]
    return [(primes[0], primes[1]), (primes[2], primes[3]), (primes[4], primes[5])]


async def wait_until(check: Any, timeout: float = 600.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(0.02)


def verify(key: KeyRecord, digest: bytes, sig: bytes) -> None:
    der = coincurve.ecdsa.cdata_to_der(coincurve.ecdsa.deserialize_compact(sig[:64]))
    if not coincurve.PublicKey(key.public_key).verify(der, digest, hasher=None):
        raise AssertionError("signature does not verify")


def ready(vault: EmbeddedVault) -> bool:
    return vault.coordinator.ecdsa.status().ready


class _TimedPools:
    """Sums the time every PresignaturePool.discard_all takes (the signers' start)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._original = PresignaturePool.discard_all

    def __enter__(self) -> _TimedPools:
        original = self._original
        timer = self

        def timed(pool: PresignaturePool) -> Any:
            t0 = time.perf_counter()
            try:
                return original(pool)
            finally:
                timer.seconds += time.perf_counter() - t0

        PresignaturePool.discard_all = timed  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        PresignaturePool.discard_all = self._original  # type: ignore[method-assign]


async def run(args: argparse.Namespace, data_dir: Path) -> dict[str, Any]:
    kek = os.urandom(32)
    options: dict[str, Any] = {
        "signers": 3,
        "threshold": 2,
        "kek": kek,
        "ecdsa_primes": fixture_primes(),
        "presig_pool_target": args.target,
    }
    vault = EmbeddedVault(data_dir, **options)
    await vault.start()
    await wait_until(partial(ready, vault))
    keys = [
        await vault.generate_key(f"key-bench-{i}", "CGGMP24", "secp256k1", 2)
        for i in range(args.keys)
    ]

    def warm(v: EmbeddedVault) -> bool:
        return all(v.coordinator.ecdsa.warm(k) >= args.target for k in keys)

    await wait_until(partial(warm, vault))
    samples: dict[str, list[float]] = {
        "discard_at_open": [],
        "start_to_ready": [],
        "start_to_first_signature": [],
        "start_to_warm_pool": [],
    }
    discarded: list[dict[str, Any]] = []
    for _ in range(args.restarts):
        await vault.stop()
        with _TimedPools() as pools:
            t0 = time.perf_counter()
            vault = EmbeddedVault(data_dir, **options)
            await vault.start()
        samples["discard_at_open"].append(pools.seconds)
        discarded.append({s: n.ecdsa.discarded_at_start for s, n in vault.nodes.items()})
        await wait_until(partial(ready, vault))
        samples["start_to_ready"].append(time.perf_counter() - t0)
        digest = os.urandom(32)
        sig = await vault.sign(keys[0], digest)
        samples["start_to_first_signature"].append(time.perf_counter() - t0)
        verify(keys[0], digest, sig)
        await wait_until(partial(warm, vault))
        samples["start_to_warm_pool"].append(time.perf_counter() - t0)
    await vault.stop()
    return {
        "config": {"keys": args.keys, "target": args.target, "restarts": args.restarts},
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "load": os.getloadavg(),
            "python": sys.version.split()[0],
        },
        "seconds": {
            name: {"median": statistics.median(v), "min": min(v), "max": max(v)}
            for name, v in samples.items()
        },
        "discarded": discarded,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--keys", type=int, default=4)
    parser.add_argument("--target", type=int, default=8)
    parser.add_argument("--restarts", type=int, default=3)
    parser.add_argument("--json", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        result = asyncio.run(run(args, Path(tmp) / "vault"))
    print(f"{args.keys} keys x {args.target} presignatures, 2-of-3, {args.restarts} restarts")
    for name, st in result["seconds"].items():
        print(
            f"  {name:26s} median {st['median']:7.3f} s (min {st['min']:.3f}, max {st['max']:.3f})"
        )
    print(f"  discarded at each start: {result['discarded'][-1]}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
