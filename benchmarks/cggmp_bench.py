"""CGGMP24 benchmark: shardvault's threshold ECDSA (2-of-3, secp256k1) against ggmpc.

Run with ``.venv/bin/python benchmarks/cggmp_bench.py`` (about 4-6 minutes);
``--quick`` is a shorter smoke run; ``--only protocol`` / ``--only rest`` runs one part.
It times, on this machine and in one run:

* 1536-bit safe-prime generation (a few samples: the search time is memoryless,
  so the median and the mean differ a lot);
* aux-info generation for 3 parties at 3072 bits, from the TEST-ONLY fixture primes
  in ``tests/fixtures/cggmp_primes.json`` (so the prime search is NOT included);
* key generation (``KeyGeneration`` 2-of-3, all parties in-process);
* presigning (``Presigning``, signers 1 and 2), per party and in all;
* online signing (``sign_share`` for both signers + ``combine``) and signatures per
  second with warm presignatures;
* the modular exponentiations a presignature performs per party (counted by wrapping
  ``gmpy2.powmod`` / ``gmpy2.powmod_sec``), and the presigning time against the
  lower bound sum(cost of one gmpy2 powmod of the same modulus and exponent size);
* the reference, ``ggmpc`` (PyPI; GG18 in Python, with the MtA range proofs but none
  of CGGMP's modulus proofs): its 2-of-3 key generation and a 2-of-3 signature;
* the REST part (``bench_rest_ecdsa.py``; vault = ``BackgroundVault`` in a child
  process, TEST-ONLY fixture primes, SDK over HTTP on 127.0.0.1): start ->
  ``ecdsaReady``, key generation, signing with and without a warm presignature (p50,
  p95) and signatures per second from a full pool (sequential and 4 clients).

Every signature is verified with libsecp256k1 (coincurve) outside the timed region.
The same numbers go to ``benchmarks/results/cggmp_bench.json`` (``--only rest``:
``cggmp_bench_rest.json``). See ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import math
import os
import platform
import statistics
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any
from unittest import mock

import coincurve
import gmpy2
from rich.console import Console
from rich.table import Table

from shardvault.crypto.safeprimes import generate_safe_prime
from shardvault.protocols.cggmp.aux_info import AuxInfo, AuxInfoGeneration
from shardvault.protocols.cggmp.keygen import KeyGeneration
from shardvault.protocols.cggmp.keyshare import KeyShare
from shardvault.protocols.cggmp.presign import Presigning
from shardvault.protocols.cggmp.presignature import Presignature
from shardvault.protocols.cggmp.sign import EcdsaSignature, combine, sign_share
from shardvault.protocols.messages import InMemorySessionRegistry, StateMachine, run_locally

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the REST helper, next to this
from bench_rest_ecdsa import (
    REST_FULL,
    REST_QUICK,
    RestBenchmarkError,
    RestRow,
    fixture_pairs,
    run_rest,
    summarize,
    timed,
)

try:  # the reference; pure Python (phe + python-ecdsa), see the README
    import ggmpc
    import ggmpc.curves as ggmpc_curves

    GGMPC_ERROR: str | None = None
except Exception as exc:  # pragma: no cover - depends on the environment
    ggmpc = None
    ggmpc_curves = None
    GGMPC_ERROR = f"ggmpc could not be imported: {type(exc).__name__}: {exc}"

ROOT = Path(__file__).resolve().parents[1]
RESULTS_PATH = Path(__file__).resolve().parent / "results" / "cggmp_bench.json"
REST_RESULTS_PATH = RESULTS_PATH.with_name("cggmp_bench_rest.json")
#: TEST ONLY (public) pregenerated safe primes, shared with the test suite.

PRIME_BITS = 1536
N_PARTIES = 3
THRESHOLD = 2
SIGNERS = (1, 2)
MESSAGE = b"shardvault cggmp24 benchmark message"
MESSAGE_HASH = hashlib.sha256(MESSAGE).digest()  # ggmpc hashes M with SHA-256 too

GOAL_KEYGEN_S = 1.0
GOAL_LOWER_BOUND_RATIO = 1.3


@dataclass(frozen=True)
class Config:
    quick: bool
    prime_samples: int
    keygen_iterations: int
    presign_samples: int
    count_runs: int
    online_iterations: int
    throughput_signatures: int
    calib_reps: int
    ggmpc_keygen_samples: int
    ggmpc_sign_samples: int


FULL = Config(False, 5, 30, 7, 2, 300, 500, 5, 5, 5)
QUICK = Config(True, 1, 5, 3, 2, 50, 100, 3, 1, 2)


class BenchmarkError(RuntimeError):
    """Something did not verify: the numbers would be bogus."""


def _require(ok: bool, what: str) -> None:
    if not ok:
        raise BenchmarkError(what)


# ---------------------------------------------------------------------------
# Statistics
# ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Stats:
    samples: int
    median_ns: float
    mean_ns: float
    p90_ns: float
    min_ns: float
    max_ns: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Stats:
        ordered = sorted(values)
        n = len(ordered)
        return cls(
            samples=n,
            median_ns=float(statistics.median(ordered)),
            mean_ns=statistics.fmean(ordered),
            p90_ns=float(ordered[max(0, math.ceil(0.9 * n) - 1)]),  # nearest rank
            min_ns=float(ordered[0]),
            max_ns=float(ordered[-1]),
        )

    def as_json(self) -> dict[str, float | int]:
        return {
            "samples": self.samples,
            "median_ns": round(self.median_ns, 1),
            "mean_ns": round(self.mean_ns, 1),
            "p90_ns": round(self.p90_ns, 1),
            "min_ns": round(self.min_ns, 1),
            "max_ns": round(self.max_ns, 1),
        }


@dataclass
class Row:
    id: str
    operation: str
    ours: Stats | None
    ref: Stats | None = None
    note: str = ""
    unit: str = "time"  # "time" or "rate" (per second, stored in median_ns as-is)

    @property
    def ratio(self) -> float | None:
        if self.ours is None or self.ref is None or self.ref.median_ns == 0:
            return None
        return self.ours.median_ns / self.ref.median_ns


class NoGc:
    """The cyclic GC off while timing, as in ``timeit``."""

    def __enter__(self) -> None:
        gc.collect()
        gc.disable()

    def __exit__(self, *exc: object) -> None:
        gc.enable()


# ---------------------------------------------------------------------------
# In-process delivery with per-party time attribution (and modexp attribution)
# ---------------------------------------------------------------------------

_current_party: list[int] = [0]


def deliver_timed(parties: Sequence[StateMachine[Any]], per_party: dict[int, int]) -> None:
    """``run_locally``, but the time spent in each party's ``messages()`` and
    ``receive()`` is added to ``per_party[party]`` (and the party is recorded as
    the current one for the modexp counter)."""
    by_id = {p.me: p for p in parties}
    clock = time.perf_counter_ns
    progress = True
    while progress:
        progress = False
        for p in list(by_id.values()):
            _current_party[0] = p.me
            t0 = clock()
            msgs = list(p.messages())
            per_party[p.me] += clock() - t0
            for m in msgs:
                progress = True
                targets = (
                    [m.recipient]
                    if m.recipient is not None
                    else [i for i in by_id if i != m.sender]
                )
                for t in targets:
                    target = by_id.get(t)
                    if target is None or target.done:
                        continue
                    _current_party[0] = t
                    t0 = clock()
                    target.receive(m)
                    per_party[t] += clock() - t0


def construct_timed(
    make: Callable[[int], StateMachine[Any]], ids: Iterable[int], per_party: dict[int, int]
) -> list[StateMachine[Any]]:
    out = []
    for i in ids:
        _current_party[0] = i
        t0 = time.perf_counter_ns()
        out.append(make(i))
        per_party[i] += time.perf_counter_ns() - t0
    return out


# ---------------------------------------------------------------------------
# Our protocol
# ---------------------------------------------------------------------------


def run_aux_info() -> tuple[dict[int, AuxInfo], dict[int, int], int]:
    pairs = fixture_pairs()
    sid = os.urandom(32)
    per_party: dict[int, int] = defaultdict(int)
    t0 = time.perf_counter_ns()
    parties = construct_timed(
        lambda i: AuxInfoGeneration(
            sid, i, N_PARTIES, InMemorySessionRegistry(), primes=pairs[i - 1]
        ),
        range(1, N_PARTIES + 1),
        per_party,
    )
    deliver_timed(parties, per_party)
    total = time.perf_counter_ns() - t0
    aux = {p.me: p.result() for p in parties}
    for a in aux.values():
        _require(a.paillier_key.n.bit_length() >= 3072, "aux info: modulus under 3072 bits")
    return aux, dict(per_party), total


def run_keygen() -> dict[int, KeyShare]:
    sid = os.urandom(32)
    parties = [
        KeyGeneration(sid, i, THRESHOLD, N_PARTIES, InMemorySessionRegistry())
        for i in range(1, N_PARTIES + 1)
    ]
    run_locally(parties)
    return {p.me: p.result() for p in parties}


def check_keygen(shares: dict[int, KeyShare]) -> None:
    keys = {s.public_key for s in shares.values()}
    _require(len(keys) == 1, "keygen: parties disagree on the public key")
    for s in shares.values():
        s.check_consistent()


def run_presign(
    aux: dict[int, AuxInfo], shares: dict[int, KeyShare]
) -> tuple[list[Presignature], dict[int, int], int]:
    sid = os.urandom(32)
    per_party: dict[int, int] = defaultdict(int)
    t0 = time.perf_counter_ns()
    parties = construct_timed(
        lambda i: Presigning(sid, i, SIGNERS, shares[i], aux[i], InMemorySessionRegistry()),
        SIGNERS,
        per_party,
    )
    deliver_timed(parties, per_party)
    total = time.perf_counter_ns() - t0
    return [p.result() for p in parties], dict(per_party), total


def online_sign(presigs: Sequence[Presignature]) -> EcdsaSignature:
    public = presigs[0].public
    partials = {p.me: sign_share(p, MESSAGE_HASH) for p in presigs}
    return combine(public, partials, MESSAGE_HASH, public.public_key)


def clone(presigs: Sequence[Presignature]) -> list[Presignature]:
    """BENCHMARK ONLY: fresh copies of an unused presignature pair, so the online
    step can be timed many times. Every copy signs the SAME message (so the same
    signature comes out and nothing about the throwaway key leaks); a real signer
    must never do this (docs/security.md item 15)."""
    return [Presignature(p.me, p.k_i, p.chi_i, p.public) for p in presigs]


def check_ecdsa(sig: EcdsaSignature, shares: dict[int, KeyShare]) -> None:
    """libsecp256k1 verifies the signature and recovers the key from (r, s, recid)."""
    key = next(iter(shares.values())).public_key.encode()
    pub = coincurve.PublicKey(key)
    _require(pub.verify(sig.to_der(), MESSAGE_HASH, hasher=None), "coincurve rejects our sig")
    rec = coincurve.PublicKey.from_signature_and_message(
        sig.to_recoverable(), MESSAGE_HASH, hasher=None
    )
    _require(rec.format() == pub.format(), "coincurve recovers another key from our sig")


# ---------------------------------------------------------------------------
# Modular exponentiation counting and the lower bound
# ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ModexpCall:
    party: int
    func: str  # "powmod" | "powmod_sec"
    mod_bits: int
    exp_bits: int
    negative: bool
    modulus: int
    ns: int  # time of the real call (wrapper overhead excluded)


def size_class(mod_bits: int) -> str:
    if mod_bits <= 1600:
        return f"{PRIME_BITS}-bit (prime p, q)"
    if mod_bits <= 3200:
        return "3072-bit (N, N-hat, p^2)"
    return "6144-bit (N^2)"


def count_presign_modexps(
    aux: dict[int, AuxInfo], shares: dict[int, KeyShare]
) -> tuple[list[ModexpCall], list[Presignature]]:
    """One presigning run with ``gmpy2.powmod`` / ``gmpy2.powmod_sec`` wrapped.

    Every modexp in shardvault goes through these two module attributes: the
    modules call ``gmpy2.powmod(...)`` / ``gmpy2.powmod_sec(...)`` by attribute
    lookup, and the helpers ``shardvault.crypto.paillier.powmod_sec`` /
    ``crt_powmod_sec`` (imported by name elsewhere) call ``gmpy2.powmod_sec``
    themselves, so wrapping the helpers too would count twice."""
    calls: list[ModexpCall] = []
    real = {"powmod": gmpy2.powmod, "powmod_sec": gmpy2.powmod_sec}

    def wrap(name: str) -> Callable[..., Any]:
        fn = real[name]

        def wrapper(base: Any, exp: Any, mod: Any) -> Any:
            t0 = time.perf_counter_ns()
            out = fn(base, exp, mod)
            ns = time.perf_counter_ns() - t0
            e, m = int(exp), int(mod)
            calls.append(
                ModexpCall(
                    _current_party[0], name, m.bit_length(), abs(e).bit_length(), e < 0, m, ns
                )
            )
            return out

        return wrapper

    with (
        mock.patch.object(gmpy2, "powmod", wrap("powmod")),
        mock.patch.object(gmpy2, "powmod_sec", wrap("powmod_sec")),
    ):
        presigs, _, _ = run_presign(aux, shares)
    return calls, presigs


def signature_of(calls: Iterable[ModexpCall], party: int) -> Counter[tuple[str, str]]:
    return Counter((c.func, size_class(c.mod_bits)) for c in calls if c.party == party)


CostKey = tuple[str, int, int, bool]


def calibrate(
    calls: Sequence[ModexpCall], reps: int, into: dict[CostKey, list[int]]
) -> dict[CostKey, list[int]]:
    """Time ONE gmpy2 powmod / powmod_sec per (function, modulus, exponent bits,
    sign) ``reps`` times, with a fresh random base and exponent of that size, on the
    modulus the protocol used (so a 1536-bit prime, a 3072-bit N or p^2, a 6144-bit
    N^2); the samples are appended to ``into``. The cost used for the bound is the
    MINIMUM over all samples: machine noise only ever adds time."""
    rng = gmpy2.random_state(int.from_bytes(os.urandom(8), "big"))
    funcs = {"powmod": gmpy2.powmod, "powmod_sec": gmpy2.powmod_sec}
    keys: dict[tuple[str, int, int, bool], int] = {}
    for c in calls:
        keys.setdefault((c.func, c.modulus, c.exp_bits, c.negative), c.modulus)
    with NoGc():
        for (func, modulus, exp_bits, negative), _ in keys.items():
            fn = funcs[func]
            samples = []
            for _ in range(reps):
                base = gmpy2.mpz_random(rng, modulus - 2) + 2
                exp = (
                    (
                        gmpy2.mpz_urandomb(rng, max(exp_bits - 1, 0))
                        | (gmpy2.mpz(1) << (exp_bits - 1))
                    )
                    if exp_bits
                    else gmpy2.mpz(0)
                )
                if negative:
                    exp = -exp
                t0 = time.perf_counter_ns()
                fn(base, exp, modulus)
                samples.append(time.perf_counter_ns() - t0)
            into.setdefault((func, modulus, exp_bits, negative), []).extend(samples)
    return into


def lower_bound(
    calls: Sequence[ModexpCall], costs: dict[CostKey, float], party: int
) -> tuple[float, dict[str, tuple[int, int, float]]]:
    """(total ns, {size class: (count, powmod_sec count, ns)}) for one party."""
    total = 0.0
    by_class: dict[str, list[float]] = defaultdict(lambda: [0, 0, 0.0])
    for c in calls:
        if c.party != party:
            continue
        cost = costs[(c.func, c.modulus, c.exp_bits, c.negative)]
        total += cost
        entry = by_class[size_class(c.mod_bits)]
        entry[0] += 1
        entry[1] += c.func == "powmod_sec"
        entry[2] += cost
    return total, {k: (int(v[0]), int(v[1]), v[2]) for k, v in sorted(by_class.items())}


# ---------------------------------------------------------------------------
# ggmpc (reference)
# ---------------------------------------------------------------------------


class Ggmpc:
    """ggmpc 0.3.0's ECDSA API, driven like its own tests/CLI flow (2-of-3, signers
    1 and 2). Its key generation makes each party's 3072-bit Paillier key (random,
    not safe, primes); ``sign_challenge`` makes each signer's N-tilde (another
    3072-bit modulus) before every signature."""

    def __init__(self) -> None:
        assert ggmpc is not None and ggmpc_curves is not None
        self.mpc = ggmpc.Ecdsa(ggmpc_curves.secp256k1)

    def keygen(self) -> tuple[dict[int, Any], dict[int, Any], dict[int, Any]]:
        mpc = self.mpc
        a, b, c = (mpc.key_share(i, THRESHOLD, N_PARTIES) for i in (1, 2, 3))
        return (
            mpc.key_combine((a[1], b[1], c[1])),
            mpc.key_combine((a[2], b[2], c[2])),
            mpc.key_combine((a[3], b[3], c[3])),
        )

    def challenge(self, keys: tuple[dict[int, Any], ...]) -> tuple[dict[int, Any], dict[int, Any]]:
        a, b = keys[0], keys[1]
        return self.mpc.sign_challenge((a[1], a[2])), self.mpc.sign_challenge((b[2], b[1]))

    def sign(self, chal: tuple[dict[int, Any], dict[int, Any]]) -> dict[str, Any]:
        mpc = self.mpc
        ach, bch = chal
        ab = mpc.sign_share((ach[1], bch[1]))
        ba = mpc.sign_convert((bch[2], ab[2]))
        ab = mpc.sign_convert((ab[1], ba[1]))
        ba = mpc.sign_convert((ba[2], ab[2]))
        ab, ba = mpc.sign_combine((ab,)), mpc.sign_combine((ba,))
        sa, sb = mpc.sign(MESSAGE, (ab[1], ba[1])), mpc.sign(MESSAGE, (ab[2], ba[2]))
        return mpc.sign_combine((sa, sb))

    def check(self, sig: dict[str, Any]) -> None:
        _require(bool(self.mpc.verify(MESSAGE, sig)), "ggmpc rejects its own signature")
        import ecdsa  # ggmpc's dependency (python-ecdsa)

        y = ecdsa.VerifyingKey.from_public_point(sig["y"], curve=ecdsa.SECP256k1)
        pub = coincurve.PublicKey(y.to_string("compressed"))
        compact = sig["r"].to_bytes(32, "big") + sig["s"].to_bytes(32, "big")
        _require(
            pub.verify(_compact_to_der(compact), MESSAGE_HASH, hasher=None),
            "coincurve rejects ggmpc's signature",
        )


def _compact_to_der(compact: bytes) -> bytes:
    def enc(x: bytes) -> bytes:
        x = x.lstrip(b"\x00") or b"\x00"
        if x[0] & 0x80:
            x = b"\x00" + x
        return b"\x02" + bytes([len(x)]) + x

    body = enc(compact[:32]) + enc(compact[32:])
    return b"\x30" + bytes([len(body)]) + body


# ---------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------


def log(console: Console, text: str) -> None:
    console.print(f"[dim]... {text}[/dim]", highlight=False)


def run(config: Config, console: Console) -> dict[str, Any]:
    rows: list[Row] = []
    extra: dict[str, Any] = {}
    gg = Ggmpc() if ggmpc is not None else None
    ggmpc_error = GGMPC_ERROR

    # 1. Safe primes (per prime; a party needs two).
    if config.prime_samples > 0:
        log(console, f"{config.prime_samples} x one {PRIME_BITS}-bit safe prime")
        prime_ns = []
        for _ in range(config.prime_samples):
            ns, p = timed(lambda: generate_safe_prime(PRIME_BITS))
            _require(p.bit_length() == PRIME_BITS and gmpy2.is_prime((p - 1) // 2), "safe prime")
            prime_ns.append(ns)
        st = Stats.of(prime_ns)
        rows.append(
            Row(
                "safe_prime_1536",
                f"safe prime, {PRIME_BITS}-bit (one)",
                st,
                note="memoryless search: see mean",
            )
        )
        pair = Stats.of([2 * x for x in prime_ns])
        rows.append(
            Row(
                "safe_prime_pair_per_party",
                "safe primes per party (2, serial; 2x)",
                pair,
                note="estimate: 2 x the samples above",
            )
        )

    # 2. Aux info, 3 parties, fixture primes.
    log(console, "aux info, 3 parties, 3072-bit, fixture primes (~20 s)")
    with NoGc():
        aux, aux_per_party, aux_total = run_aux_info()
    rows.append(
        Row(
            "aux_info_all",
            "aux info, 3 parties, all (fixture primes)",
            Stats.of([aux_total]),
            note="prime search excluded",
        )
    )
    rows.append(
        Row(
            "aux_info_per_party",
            "aux info, per party (mean of 3)",
            Stats.of(list(aux_per_party.values())),
            note="1 run; samples = parties",
        )
    )

    # 3. Key generation, interleaved with ggmpc's.
    log(
        console,
        f"key generation x {config.keygen_iterations} (ggmpc x {config.ggmpc_keygen_samples})",
    )
    ours_kg: list[int] = []
    gg_kg: list[int] = []
    gg_keys = None
    shares = run_keygen()  # warm-up
    with NoGc():
        for i in range(config.keygen_iterations):
            ns, shares = timed(run_keygen)
            ours_kg.append(ns)
            if gg is not None and ggmpc_error is None and i < config.ggmpc_keygen_samples:
                try:
                    ns, gg_keys = timed(gg.keygen)
                    gg_kg.append(ns)
                except Exception as exc:  # report precisely, keep our rows
                    ggmpc_error = f"ggmpc key generation failed: {type(exc).__name__}: {exc}"
    check_keygen(shares)
    rows.append(
        Row(
            "keygen_2of3_all",
            "key generation 2-of-3, all parties",
            Stats.of(ours_kg),
            Stats.of(gg_kg) if gg_kg else None,
            note="ggmpc: incl. 3 Paillier keygens (ours: in aux info)",
        )
    )
    rows.append(
        Row(
            "keygen_2of3_per_party",
            "key generation, per party (all / 3)",
            Stats.of([x / 3 for x in ours_kg]),
            Stats.of([x / 3 for x in gg_kg]) if gg_kg else None,
        )
    )

    # 4. Modexp count (separate, wrapped runs) and presigning (unwrapped), interleaved
    #    with ggmpc's signing.
    log(console, f"modexp count x {config.count_runs} (gmpy2.powmod / powmod_sec wrapped)")
    counts: list[list[ModexpCall]] = []
    for _ in range(config.count_runs):
        calls, presigs = count_presign_modexps(aux, shares)
        check_ecdsa(online_sign(presigs), shares)
        counts.append(calls)
    sigs = [{j: signature_of(c, j) for j in SIGNERS} for c in counts]
    for j in SIGNERS:
        _require(sum(sigs[0][j].values()) > 0, f"party {j}: no modexp counted (wrapper missed)")
        _require(all(s[j] == sigs[0][j] for s in sigs), f"party {j}: modexp count not stable")
    per_party_count = {j: sum(sigs[0][j].values()) for j in SIGNERS}
    log(console, "modexp calibration, pass 1 (one gmpy2 powmod per size)")
    calib: dict[CostKey, list[int]] = {}
    calibrate(counts[0], config.calib_reps, calib)

    log(
        console,
        f"presigning x {config.presign_samples} (ggmpc signing x {config.ggmpc_sign_samples})",
    )
    ours_pp: dict[int, list[int]] = {j: [] for j in SIGNERS}
    ours_pres_total: list[int] = []
    pool: list[list[Presignature]] = []
    gg_chal: list[int] = []
    gg_sign: list[int] = []
    gg_sig = None
    if gg is not None and ggmpc_error is None and gg_keys is None:
        try:
            gg_keys = gg.keygen()
        except Exception as exc:
            ggmpc_error = f"ggmpc key generation failed: {type(exc).__name__}: {exc}"
    with NoGc():
        for i in range(config.presign_samples):
            order = [0, 1] if i % 2 == 0 else [1, 0]
            for which in order:
                if which == 0:
                    presigs, per_party, total = run_presign(aux, shares)
                    for j in SIGNERS:
                        ours_pp[j].append(per_party[j])
                    ours_pres_total.append(total)
                    pool.append(presigs)
                elif (
                    gg is not None
                    and ggmpc_error is None
                    and gg_keys is not None
                    and i < config.ggmpc_sign_samples
                ):
                    try:
                        ns_c, chal = timed(lambda: gg.challenge(gg_keys))
                        ns_s, gg_sig = timed(lambda chal=chal: gg.sign(chal))
                        gg_chal.append(ns_c)
                        gg_sign.append(ns_s)
                    except Exception as exc:
                        ggmpc_error = f"ggmpc signing failed: {type(exc).__name__}: {exc}"
    if gg_sig is not None and gg is not None:
        gg.check(gg_sig)

    # 5. Online signing and warm throughput, from clones of one unused presignature.
    log(
        console,
        f"online signing x {config.online_iterations}, throughput x {config.throughput_signatures}",
    )
    first = pool[0]
    check_ecdsa(online_sign(clone(first)), shares)
    for presigs in pool[1:]:  # every timed presignature signs once (untimed) and verifies
        check_ecdsa(online_sign(presigs), shares)
    online_ns: list[int] = []
    with NoGc():
        for _ in range(5):
            online_sign(clone(first))
        for _ in range(config.online_iterations):
            copies = clone(first)
            ns, sig = timed(lambda copies=copies: online_sign(copies))
            online_ns.append(ns)
    check_ecdsa(sig, shares)
    warm = [clone(first) for _ in range(config.throughput_signatures)]
    with NoGc():
        t0 = time.perf_counter_ns()
        for copies in warm:
            last = online_sign(copies)
        tp_ns = time.perf_counter_ns() - t0
    check_ecdsa(last, shares)
    sig_per_s = config.throughput_signatures / (tp_ns / 1e9)

    # 6. Lower bound.
    log(console, "modexp calibration, pass 2 (one gmpy2 powmod per size)")
    calibrate(counts[0], config.calib_reps, calib)
    costs = {k: float(min(v)) for k, v in calib.items()}
    lb: dict[int, float] = {}
    lb_classes: dict[int, dict[str, tuple[int, int, float]]] = {}
    for j in SIGNERS:
        lb[j], lb_classes[j] = lower_bound(counts[0], costs, j)

    pp_all = [x for j in SIGNERS for x in ours_pp[j]]
    pres_stats = Stats.of(pp_all)
    lb_mean = statistics.fmean(lb.values())
    lb_ratio = pres_stats.median_ns / lb_mean
    rows.append(
        Row(
            "presign_per_party",
            "presignature, per party (2 signers)",
            pres_stats,
            note=f"{per_party_count[SIGNERS[0]]} modexps / party",
        )
    )
    rows.append(Row("presign_all", "presignature, both signers", Stats.of(ours_pres_total)))
    inside = [sum(c.ns for c in calls if c.party == j) for calls in counts for j in SIGNERS]
    rows.append(
        Row(
            "presign_time_in_powmod_per_party",
            "  time inside gmpy2 powmod (wrapped runs)",
            Stats.of(inside),
            note="cross-check of the bound",
        )
    )
    rows.append(
        Row(
            "modexp_lower_bound_per_party",
            "modexp lower bound, per party",
            Stats.of(list(lb.values())),
            note=f"presign / bound = {lb_ratio:.2f}x",
        )
    )
    online = Stats.of(online_ns)
    rows.append(
        Row(
            "online_sign",
            "online: 2 x sign_share + combine",
            online,
            note="combine verifies with libsecp256k1",
        )
    )
    complete = Stats.of([p + online.median_ns for p in ours_pres_total])
    gg_sign_st = Stats.of(gg_sign) if gg_sign else None
    gg_full_st = (
        Stats.of([a + b for a, b in zip(gg_chal, gg_sign, strict=True)]) if gg_sign else None
    )
    rows.append(
        Row(
            "signature_complete",
            "complete signature: presign + online",
            complete,
            gg_sign_st,
            note="ggmpc: N-tilde precomputed (b)",
        )
    )
    rows.append(
        Row(
            "signature_complete_vs_ggmpc_with_ntilde",
            "complete signature vs ggmpc incl. N-tilde",
            complete,
            gg_full_st,
            note="ggmpc: + 2 sign_challenge (c)",
        )
    )
    if gg_chal:
        rows.append(
            Row(
                "ggmpc_sign_challenge",
                "ggmpc sign_challenge x 2 (N-tilde)",
                None,
                Stats.of(gg_chal),
            )
        )
    rows.append(
        Row(
            "signatures_per_second_warm",
            "signatures / s, warm presignatures",
            Stats.of([sig_per_s]),
            note=f"{config.throughput_signatures} in a row",
            unit="rate",
        )
    )

    extra["modexp"] = {
        "per_party_count": per_party_count,
        "stable_over_runs": config.count_runs,
        "by_class": {
            str(j): {
                k: {"count": v[0], "powmod_sec": v[1], "lower_bound_ns": round(v[2])}
                for k, v in lb_classes[j].items()
            }
            for j in SIGNERS
        },
        "lower_bound_ns": {str(j): round(v) for j, v in lb.items()},
        "calibration": "min over 2 passes x calib_reps samples per (function, modulus, "
        "exponent bits, sign); pass 1 before and pass 2 after the presigning samples",
        "presign_over_lower_bound": lb_ratio,
        "negative_exponents": sum(c.negative for c in counts[0]),
        "exponent_bits_range": [
            min(c.exp_bits for c in counts[0]),
            max(c.exp_bits for c in counts[0]),
        ],
    }
    extra["ggmpc_error"] = ggmpc_error
    extra["lb_classes"] = lb_classes
    extra["goals"] = goals(rows, lb_ratio, ggmpc_error)
    return {"rows": rows, "extra": extra}


def goals(rows: list[Row], lb_ratio: float, ggmpc_error: str | None) -> list[dict[str, Any]]:
    by_id = {r.id: r for r in rows}
    kg = by_id["keygen_2of3_all"].ours
    assert kg is not None
    out = [
        {
            "description": f"key generation 2-of-3 (aux info present) <= {GOAL_KEYGEN_S:g} s",
            "value": kg.median_ns / 1e9,
            "status": "PASS" if kg.median_ns <= GOAL_KEYGEN_S * 1e9 else "MISS",
        },
        {
            "description": f"presigning within {GOAL_LOWER_BOUND_RATIO:g}x of the modexp "
            "lower bound",
            "value": lb_ratio,
            "status": "PASS" if lb_ratio <= GOAL_LOWER_BOUND_RATIO else "MISS",
        },
    ]
    cmp_row = by_id["signature_complete"]
    ratio = cmp_row.ratio
    out.append(
        {
            "description": "complete protocol (presign + online) faster per signature than "
            "ggmpc's signing (N-tilde precomputed)",
            "value": ratio,
            "status": "n/a" if ratio is None else ("PASS" if ratio < 1 else "MISS"),
            "detail": ggmpc_error,
        }
    )
    return out


# ---------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------


def fmt(st: Stats | None, unit: str, attr: str = "median_ns") -> str:
    if st is None:
        return "n/a"
    v = getattr(st, attr)
    if unit == "rate":
        return f"{v:,.0f} /s"
    if v >= 1e9:
        return f"{v / 1e9:.2f} s"
    if v >= 1e6:
        return f"{v / 1e6:.2f} ms"
    return f"{v / 1e3:.1f} us"


def fmt_ratio(r: float | None) -> str:
    if r is None:
        return "n/a"
    color = "green" if r < 1 else ("yellow" if r <= 3 else "red")
    digits = 2 if r >= 0.1 else 4
    return f"[{color}]{r:.{digits}f}x[/{color}]"


FOOTNOTES = [
    "(a) aux info uses the TEST-ONLY fixture primes (tests/fixtures/cggmp_primes.json): "
    "no prime search; per party = time spent in that party's constructor/messages/receive.",
    "(b) ggmpc signing = sign_share + 3 sign_convert (MtA with range proofs) + 2 "
    "sign_combine + 2 sign + sign_combine, both signers; its N-tilde (sign_challenge) is "
    "made outside the timed region. Ours = presign (both signers) + online median.",
    "(c) the same, with ggmpc's 2 sign_challenge calls (a fresh 3072-bit N-tilde per "
    "signer per signature, as its flow does) added.",
    "ggmpc key generation includes each party's 3072-bit Paillier key (phe, random "
    "non-safe primes); ours excludes Paillier keys (they are aux info, made once).",
    "Online rows use benchmark-only copies of one unused presignature pair, all "
    "signing the same message; every timed presignature also signs once (untimed).",
    "Ratio = ours median / ggmpc median, measured interleaved in this run. Compare "
    "ratios, not absolute times (shared, noisy machine).",
]


def render(console: Console, rows: list[Row]) -> None:
    table = Table(title="CGGMP24 2-of-3 secp256k1, 3072-bit Paillier; one process")
    for name, just in (
        ("operation", "left"),
        ("ours median", "right"),
        ("ours mean", "right"),
        ("n", "right"),
        ("ggmpc median", "right"),
        ("ours/ggmpc", "right"),
        ("note", "left"),
    ):
        table.add_column(name, justify=just)  # type: ignore[arg-type]
    for r in rows:
        table.add_row(
            r.operation,
            fmt(r.ours, r.unit),
            fmt(r.ours, r.unit, "mean_ns"),
            str(r.ours.samples if r.ours else (r.ref.samples if r.ref else 0)),
            fmt(r.ref, r.unit),
            fmt_ratio(r.ratio),
            r.note,
        )
    console.print(table)
    for note in FOOTNOTES:
        console.print(f"  {note}", style="dim", markup=False, highlight=False)


def render_modexp(console: Console, extra: dict[str, Any]) -> None:
    table = Table(
        title="Presignature modexps per party; bound = sum of one gmpy2 powmod each (fastest)"
    )
    table.add_column("party")
    table.add_column("modulus")
    table.add_column("count", justify="right")
    table.add_column("of which powmod_sec", justify="right")
    table.add_column("bound", justify="right")
    for j, classes in extra["lb_classes"].items():
        for k, (n, sec, ns) in classes.items():
            table.add_row(str(j), k, str(n), str(sec), f"{ns / 1e6:.1f} ms")
        total = sum(v[0] for v in classes.values())
        table.add_row(
            str(j),
            "[bold]total[/bold]",
            f"[bold]{total}[/bold]",
            "",
            f"[bold]{sum(v[2] for v in classes.values()) / 1e6:.1f} ms[/bold]",
        )
    console.print(table)
    m = extra["modexp"]
    console.print(
        f"  exponent sizes {m['exponent_bits_range'][0]}..{m['exponent_bits_range'][1]} bits; "
        f"{m['negative_exponents']} negative exponents; counts identical over "
        f"{m['stable_over_runs']} wrapped runs",
        style="dim",
        highlight=False,
    )


REST_FOOTNOTES = [
    "REST: the vault (API + coordinator + 3 signers, SQLite) is BackgroundVault in a "
    "child process (not `shardvault up`: the CLI cannot take the TEST-ONLY fixture "
    "primes); the SDK client measures real HTTP on 127.0.0.1 from this process.",
    "REST: the benchmark reads coordinator internals in the child (pool target, warm "
    "count per key) to fill/empty pools; latency = the SDK call (request + JSON + parse).",
    "REST: warm = pool full (8) before each timed request, refill finished; cold = a key "
    "created with pool target 0, so every request presigns then signs.",
    "REST: p50 = median, p95 = nearest rank (n = 15: the max); signatures/s rows: p50 "
    "column = the burst's rate, mean = mean request latency in the burst.",
    "REST: a shared, noisy 2-CPU machine: the client, the API and 3 signers (one child "
    "process) compete for the same cores.",
]


def render_rest(console: Console, rows: Sequence[RestRow]) -> None:
    table = Table(
        title="CGGMP24 2-of-3 secp256k1 via REST (SDK -> HTTP -> API -> 3 signers); fixture primes"
    )
    for name, just in (
        ("operation", "left"),
        ("p50", "right"),
        ("p95", "right"),
        ("mean", "right"),
        ("n", "right"),
        ("note", "left"),
    ):
        table.add_column(name, justify=just)  # type: ignore[arg-type]
    for r in rows:
        if r.unit == "rate":
            st = Stats.of(r.samples_ns)
            table.add_row(
                r.operation,
                f"{r.rate:,.1f} /s",
                "",
                fmt(st, "time", "mean_ns"),
                str(r.n),
                r.note,
            )
            continue
        st = Stats.of(r.samples_ns)  # its median is the p50
        p95 = Stats(st.samples, r.p(95), r.p(95), r.p(95), r.p(95), r.p(95))
        table.add_row(
            r.operation,
            fmt(st, "time"),
            fmt(p95, "time") if r.n > 1 else "",
            fmt(st, "time", "mean_ns"),
            str(r.n),
            r.note,
        )
    console.print(table)
    for note in REST_FOOTNOTES:
        console.print(f"  {note}", style="dim", markup=False, highlight=False)


def print_goals(console: Console, goals_: list[dict[str, Any]]) -> None:
    for g in goals_:
        color = {"PASS": "green", "MISS": "red"}.get(g["status"], "yellow")
        v = g["value"]
        unit = g.get("unit") or ("s" if "key generation" in g["description"] else "x")
        detail = (
            "n/a" if v is None else {"s": f"{v:.3f} s", "ms": f"{v:.2f} ms"}.get(unit, f"{v:.2f}x")
        )
        if g.get("detail") and v is None:
            detail += f"; {g['detail']}"
        console.print(
            f"[bold {color}]{g['status']}[/bold {color}] goal: {g['description']} ({detail})",
            highlight=False,
        )


def machine_info() -> dict[str, Any]:
    cpu_model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    affinity = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    versions: dict[str, str] = {}
    for dist in ("shardvault", "gmpy2", "coincurve", "ggmpc", "phe", "ecdsa", "rich"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = "not installed"
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_model": cpu_model or platform.processor() or "unknown",
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(affinity) if affinity is not None else None,
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "gmp": getattr(gmpy2, "mp_version", lambda: "?")(),
        "versions": versions,
    }


def print_machine(console: Console, info: dict[str, Any], config: Config) -> None:
    console.print("[bold]CGGMP24 benchmark: shardvault vs ggmpc (GG18, Python)[/bold]")
    console.print(f"platform : {info['platform']} ({info['machine']})", highlight=False)
    console.print(f"cpu      : {info['cpu_model']}", highlight=False)
    console.print(f"cpu count: {info['cpu_count']} (usable: {info['cpus_usable']})")
    if info["load_average"] is not None:
        console.print(f"load avg : {' '.join(f'{x:.2f}' for x in info['load_average'])}")
    console.print(f"python   : {info['python']} ({sys.executable}); {info['gmp']}", highlight=False)
    console.print(
        "versions : " + ", ".join(f"{k} {v}" for k, v in info["versions"].items()), highlight=False
    )
    console.print(
        f"config   : {'quick; ' if config.quick else ''}primes {config.prime_samples}, keygen "
        f"{config.keygen_iterations}, presign {config.presign_samples}, online "
        f"{config.online_iterations}, ggmpc keygen {config.ggmpc_keygen_samples} / sign "
        f"{config.ggmpc_sign_samples}; medians",
        highlight=False,
    )


def write_json(
    path: Path,
    info: dict[str, Any],
    config: Config,
    result: dict[str, Any] | None,
    rest: dict[str, Any] | None,
    elapsed_s: float,
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rest_doc = (
        None
        if rest is None
        else {
            "config": rest["config"].__dict__,
            "rows": summarize(rest["rows"]),
            **rest["extra"],
            "goals": rest["goals"],
            "footnotes": REST_FOOTNOTES,
        }
    )
    head: dict[str, Any] = {
        "benchmark": "cggmp_bench",
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": info,
    }
    if result is None:
        doc = {**head, "only": "rest", "rest": rest_doc, "elapsed_s": round(elapsed_s, 2)}
        path.write_text(json.dumps(doc, indent=2) + "\n")
        return
    extra = dict(result["extra"])
    extra.pop("lb_classes", None)
    doc = {
        **head,
        "config": config.__dict__,
        "rows": [
            {
                "id": r.id,
                "operation": r.operation,
                "unit": "per_second" if r.unit == "rate" else "ns",
                "ours": r.ours.as_json() if r.ours else None,
                "ggmpc": r.ref.as_json() if r.ref else None,
                "ratio_ours_over_ggmpc": r.ratio,
                "note": r.note,
            }
            for r in result["rows"]
        ],
        **extra,
        "footnotes": FOOTNOTES,
        "rest": rest_doc,
        "elapsed_s": round(elapsed_s, 2),
    }
    path.write_text(json.dumps(doc, indent=2) + "\n")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--quick", action="store_true", help="smoke run (< 90 s): 1 safe prime, few samples"
    )
    parser.add_argument(
        "--prime-samples",
        type=int,
        default=None,
        help="1536-bit safe primes to time (default 5, --quick 1; 0 skips)",
    )
    parser.add_argument(
        "--only",
        choices=("protocol", "rest"),
        default=None,
        help="run one part: the in-process protocol (incl. primes and ggmpc) or the REST "
        "API (vault in a child process, fixture primes; ~1.5 min); default both",
    )
    parser.add_argument(
        "--json",
        type=Path,
        default=None,
        help=f"where to write the results (default {RESULTS_PATH}; --only rest: "
        f"{REST_RESULTS_PATH})",
    )
    args = parser.parse_args(argv)
    if args.prime_samples is not None and args.prime_samples < 0:
        parser.error("--prime-samples must be >= 0")
    if args.json is None:
        args.json = REST_RESULTS_PATH if args.only == "rest" else RESULTS_PATH
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    config = QUICK if args.quick else FULL
    if args.prime_samples is not None:
        config = Config(**{**config.__dict__, "prime_samples": args.prime_samples})
    rest_config = REST_QUICK if args.quick else REST_FULL
    console = Console(width=None if sys.stdout.isatty() else 150)
    info = machine_info()
    print_machine(console, info, config)
    if args.only != "protocol":
        console.print(
            f"rest     : keygen {rest_config.keygen_samples}, cold sign "
            f"{rest_config.cold_samples}, warm sign {rest_config.warm_samples}, bursts of "
            f"{rest_config.burst} (1 and {rest_config.concurrent_clients} clients); "
            "TEST-ONLY fixture primes",
            highlight=False,
        )
    if GGMPC_ERROR and args.only != "rest":
        console.print(f"[yellow]{GGMPC_ERROR}: reference columns are n/a[/yellow]")
    start = time.perf_counter()
    result: dict[str, Any] | None = None
    rest: dict[str, Any] | None = None
    try:
        if args.only != "rest":
            result = run(config, console)
        if args.only != "protocol":
            rest = run_rest(rest_config, lambda text: log(console, text))
            rest["config"] = rest_config
    except (BenchmarkError, RestBenchmarkError) as exc:
        console.print(f"[bold red]ABORTED: {exc}[/bold red]", highlight=False)
        return 1
    elapsed = time.perf_counter() - start
    console.print()
    if result is not None:
        render(console, result["rows"])
        render_modexp(console, result["extra"])
        if result["extra"]["ggmpc_error"]:
            console.print(f"[yellow]{result['extra']['ggmpc_error']}[/yellow]", highlight=False)
    if rest is not None:
        render_rest(console, rest["rows"])
    console.print("[green]every signature verified with libsecp256k1 (coincurve)[/green]")
    if result is not None:
        print_goals(console, result["extra"]["goals"])
    if rest is not None:
        print_goals(console, rest["goals"])
    write_json(args.json, info, config, result, rest, elapsed)
    console.print(f"wall time {elapsed:.1f} s; results written to {args.json}", highlight=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
