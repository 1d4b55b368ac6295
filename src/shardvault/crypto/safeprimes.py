"""Safe-prime generation for Paillier / ring-Pedersen moduli (CGGMP24 aux info).

A safe prime is ``p = 2q + 1`` with ``q`` prime. Every safe prime above 7 is a
Blum prime (``p = 3 mod 4``), which is what Π_mod needs.

Search (one "window" at a time):

1. Draw a random ``(bits - 1)``-bit ``q0`` from the ``rng`` argument with its two top
   bits set (so ``p`` has its two top bits set and the product of two such
   primes has exactly ``2 * bits`` bits), adjusted to ``q0 = 5 mod 6`` (the only
   class where neither ``q`` nor ``2q + 1`` is divisible by 2 or 3).
2. Combined sieve over the candidates ``q = q0 + 6k``, ``0 <= k < WINDOW``: for
   every odd prime ``r`` in 5..SIEVE_BOUND strike the ``k`` with ``q = 0 mod r``
   (r divides q) and with ``q = (r - 1)/2 mod r`` (r divides 2q + 1). Each strike
   is one C-level slice assignment on a ``bytearray``.
3. For each survivor, in order: a base-2 Fermat test on ``q``, then on
   ``p = 2q + 1``; only then the final strong check :func:`is_safe_prime`:
   ``gmpy2.is_prime(q, 64)`` (GMP 6.3: trial division, BPSW, then 40
   Miller-Rabin rounds), an explicit strong BPSW test on ``q``, and a
   Pocklington certificate for ``p`` given ``q``.

Only the starting point is random, and it comes from ``rng`` (default: the OS
CSPRNG, :data:`~shardvault.crypto.rng.OS_RNG`; never gmpy2's own generator).
Scanning forward from a random start slightly favours primes after long
prime-free gaps; this is the standard incremental search
(OpenSSL, GMP's ``next_prime``) and is not a concern for factoring hardness.

``generate_safe_primes`` runs the same search in several processes
(``concurrent.futures.ProcessPoolExecutor``), each task scanning a few windows
so that cancellation is prompt; the starting points are drawn in the calling
process and handed to the tasks, so the workers draw no randomness of their own.
Aux info needs two 1536-bit primes per party.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from functools import lru_cache
from multiprocessing.context import BaseContext

import gmpy2

from shardvault.crypto.rng import OS_RNG, Rng
from shardvault.errors import InvalidParameters

__all__ = [
    "MIN_BITS",
    "SIEVE_BOUND",
    "WINDOW",
    "expected_candidates",
    "generate_safe_prime",
    "generate_safe_primes",
    "is_safe_prime",
]

#: Smallest size accepted (tests use small primes; protocol moduli are checked
#: separately by :func:`shardvault.crypto.paillier.check_modulus_size`).
MIN_BITS = 16
#: Largest sieving prime. Tuned on 1536-bit candidates (see docs/cggmp.md).
SIEVE_BOUND = 1 << 20
#: Candidates (``q = q0 + 6k``) per sieve window.
WINDOW = 1 << 16
#: Miller-Rabin rounds beyond BPSW (gmpy2.is_prime(x, 24 + MR_ROUNDS)).
MR_ROUNDS = 40
#: Sieve windows per task in the process pool (keeps cancellation prompt).
_WINDOWS_PER_TASK = 1


def _odd_primes_upto(bound: int) -> list[int]:
    sieve = bytearray([1]) * (bound + 1)
    sieve[0:2] = b"\x00\x00"
    for i in range(2, math.isqrt(bound) + 1):
        if sieve[i]:
            sieve[i * i :: i] = bytes(len(range(i * i, bound + 1, i)))
    return [i for i in range(3, bound + 1) if sieve[i]]


@lru_cache(maxsize=1)
def _sieve_table() -> tuple[tuple[int, int], ...]:
    """(r, 6^-1 mod r) for every prime 5 <= r <= SIEVE_BOUND."""
    return tuple((r, pow(6, -1, r)) for r in _odd_primes_upto(SIEVE_BOUND) if r >= 5)


def _check_bits(bits: int) -> None:
    if not isinstance(bits, int) or isinstance(bits, bool) or bits < MIN_BITS:
        raise InvalidParameters(f"safe primes need at least {MIN_BITS} bits")


def _random_start(bits: int, rng: Rng) -> int:
    """A random (bits-1)-bit q0 = 5 mod 6 with its two top bits set."""
    qbits = bits - 1
    q0 = rng.randbits(qbits) | (3 << (qbits - 2))
    return q0 - (q0 % 6) + 5


def _search_window(bits: int, q0: int) -> tuple[int | None, int]:
    """Scan one sieve window from ``q0``. Returns (safe prime or None, candidates tested)."""
    qbits = bits - 1
    window = WINDOW
    # Only sieve with primes below the candidates themselves (matters for tiny sizes).
    limit = 1 << (qbits - 2)
    sieve = bytearray(b"\x01") * window
    zeros = memoryview(bytes(window))
    for r, inv6 in _sieve_table():
        if r >= limit:
            break
        rem = q0 % r
        k = (-rem * inv6) % r  # r | q
        if k < window:
            sieve[k::r] = zeros[: (window - 1 - k) // r + 1]
        k = (((r - 1) >> 1) - rem) * inv6 % r  # r | 2q + 1
        if k < window:
            sieve[k::r] = zeros[: (window - 1 - k) // r + 1]
    tested = 0
    two = gmpy2.mpz(2)
    k = sieve.find(1)
    while k >= 0:
        q = gmpy2.mpz(q0 + 6 * k)
        if q.bit_length() != qbits:
            break
        tested += 1
        if gmpy2.powmod(two, q - 1, q) == 1:
            p = 2 * q + 1
            if gmpy2.powmod(two, p - 1, p) == 1 and is_safe_prime(int(p)):
                return int(p), tested
        k = sieve.find(1, k + 1)
    return None, tested


def _search_task(bits: int, starts: tuple[int, ...]) -> tuple[int | None, int]:
    """Process-pool task: scan the windows starting at ``starts``."""
    total = 0
    for q0 in starts:
        found, tested = _search_window(bits, q0)
        total += tested
        if found is not None:
            return found, total
    return None, total


def generate_safe_prime(
    bits: int, *, progress: Callable[[int], None] | None = None, rng: Rng = OS_RNG
) -> int:
    """A random ``bits``-bit safe prime ``p = 2q + 1`` (two top bits set), each window's
    starting point drawn from ``rng``.

    ``progress``, if given, is called after each sieve window with the total
    number of candidates tested so far; :func:`expected_candidates` gives the
    expected total, for a progress estimate.
    """
    _check_bits(bits)
    total = 0
    while True:
        found, tested = _search_window(bits, _random_start(bits, rng))
        total += tested
        if progress is not None:
            progress(total)
        if found is not None:
            return found


def generate_safe_primes(
    count: int,
    bits: int,
    *,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
    mp_context: BaseContext | None = None,
    rng: Rng = OS_RNG,
) -> list[int]:
    """``count`` distinct random ``bits``-bit safe primes, searched in parallel.

    ``workers`` defaults to ``os.cpu_count()``; ``workers=1`` searches in this
    process. ``progress`` is called (in this process) with the total number of
    candidates tested by all workers so far. ``mp_context`` is passed to the
    ``ProcessPoolExecutor`` (default: the platform's start method, ``fork`` on
    Linux); a multi-threaded server should pass
    ``multiprocessing.get_context("forkserver")``. Every window's starting point is
    drawn from ``rng`` in this process.
    """
    _check_bits(bits)
    if count < 1:
        raise InvalidParameters("count must be positive")
    n_workers = workers if workers is not None else (os.cpu_count() or 1)
    if n_workers < 1:
        raise InvalidParameters("workers must be positive")
    found: list[int] = []
    if n_workers == 1:
        tested_before = 0
        while len(found) < count:
            last = [0]

            def track(n: int, _last: list[int] = last, _before: int = tested_before) -> None:
                _last[0] = n
                if progress is not None:
                    progress(_before + n)

            p = generate_safe_prime(bits, progress=track, rng=rng)
            tested_before += last[0]
            if p not in found:
                found.append(p)
        return found

    total = 0
    _sieve_table()  # computed once here; forked workers inherit it
    pool = ProcessPoolExecutor(max_workers=n_workers, mp_context=mp_context)

    def submit() -> Future[tuple[int | None, int]]:
        starts = tuple(_random_start(bits, rng) for _ in range(_WINDOWS_PER_TASK))
        return pool.submit(_search_task, bits, starts)

    try:
        pending: set[Future[tuple[int | None, int]]] = {submit() for _ in range(n_workers)}
        while len(found) < count:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                prime, tested = fut.result()
                total += tested
                if prime is not None and prime not in found and len(found) < count:
                    found.append(prime)
                if len(found) < count:
                    pending.add(submit())
            if progress is not None:
                progress(total)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return found


def is_safe_prime(p: int, *, rounds: int = MR_ROUNDS) -> bool:
    """Strong check that ``p = 2q + 1`` with ``q`` prime.

    ``q``: GMP's test (trial division, BPSW, ``rounds`` Miller-Rabin rounds with
    GMP-chosen bases) and an explicit strong BPSW test. ``p``: a Pocklington
    certificate relative to ``q`` (``q > sqrt(p)``, ``2^(p-1) = 1 mod p`` and
    ``gcd(2^2 - 1, p) = 1`` prove ``p`` prime once ``q`` is prime). Small
    values are settled exactly.
    """
    if not isinstance(p, int) or isinstance(p, bool) or p < 5 or p % 2 == 0:
        return False
    if p < 1 << 20:
        q_small = (p - 1) // 2
        return bool(gmpy2.is_prime(p)) and bool(gmpy2.is_prime(q_small))
    pz = gmpy2.mpz(p)
    q = (pz - 1) // 2
    if p % 3 == 0 or q % 3 == 0 or p % 4 != 3:
        return False
    if not gmpy2.is_prime(q, 24 + rounds) or not gmpy2.is_strong_bpsw_prp(q):
        return False
    return bool(gmpy2.powmod(2, pz - 1, pz) == 1)


@lru_cache(maxsize=64)
def expected_candidates(bits: int) -> float:
    """Expected number of sieve survivors tested before a ``bits``-bit safe prime.

    Hardy-Littlewood: a random integer q near x has q and 2q + 1 both prime
    with probability ~ 2*C2 / (ln x * ln 2x) (C2 = 0.6601618...). Conditioning
    on the sieve (q odd, q = 2 mod 3, and 2 residues struck per prime
    5 <= r <= SIEVE_BOUND) divides that by the surviving fraction.
    """
    _check_bits(bits)
    c2 = 0.6601618158468696
    ln_x = (bits - 1) * math.log(2)
    p_safe = 2 * c2 / (ln_x * (ln_x + math.log(2)))
    limit = 1 << (bits - 3)
    survive = (1 / 2) * (1 / 3)
    for r, _ in _sieve_table():
        if r >= limit:
            break
        survive *= 1 - 2 / r
    return survive / p_safe
