"""Background generation of a signer's Paillier safe primes.

A signer needs ``count`` (two) ``bits``-bit (1536-bit) safe primes for its
Paillier / ring-Pedersen modulus before it can take part in CGGMP24 aux info.
Finding them takes seconds to minutes, so :class:`PrimeWorker` searches in a
daemon thread at first start and reports progress; the node can answer
``/health`` (``ecdsaReady``, ``auxInfoProgress``) meanwhile.

Persistence: each prime is sealed into the signer's store (secret
:data:`RECORD_NAME`) as soon as it is found, so a restart resumes with the
primes already found and only searches for the rest. Stored primes are checked
again on load (:func:`~shardvault.crypto.safeprimes.is_safe_prime`, the two top
bits set so the bit length is exact, all distinct); a stored value that fails
those checks is discarded with a warning and regenerated, never used. A value
that does not *open* (wrong KEK, tampered ciphertext) is not regenerated:
:meth:`PrimeWorker.start` raises the store's :class:`DecryptionError`, so a
misconfigured KEK never silently replaces the signer's primes.

Spare primes for the next refresh epoch (docs/security.md item 28): once the
persisted primes are ready, the worker keeps searching until it holds ``spares``
more PAIRS, kept in process memory ONLY: never sealed to the store, never logged.
A stock written to disk would be stolen together with the store before the epoch
and would tell the thief the signer's NEXT Paillier key, which is exactly what the
epoch must deny a mobile adversary. :meth:`PrimeWorker.take_spare` hands one pair
to an epoch (and wakes the refill); with none ready the epoch generates fresh
primes itself (minutes). Residual: an attacker reading the live process memory
before the epoch sees the stock (``shardvault admin refresh --fresh-primes``
generates the primes during the epoch instead).

Stopping is cooperative: the search's progress callback raises between sieve
windows (about 0.6 s of work at 1536 bits on one core), which aborts the
current prime; primes already found stay persisted.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
from collections.abc import Sequence

from shardvault.cpu import background_thread
from shardvault.crypto.safeprimes import (
    MIN_BITS,
    expected_candidates,
    generate_safe_prime,
    generate_safe_primes,
    is_safe_prime,
)
from shardvault.errors import AuxInfoNotReady, InvalidEncoding, InvalidParameters
from shardvault.signer.store import SignerStore

__all__ = [
    "RECORD_NAME",
    "AuxInfoNotReady",
    "PrimeWorker",
    "decode_primes",
    "encode_primes",
]

log = logging.getLogger("shardvault.signer")

#: Name of the sealed store secret (``meta`` row) holding the primes found so far.
RECORD_NAME = "paillier_safe_primes"
#: Encoding version byte.
_VERSION = 1
#: Header: version (1 byte) + bit size (2 bytes, big-endian).
_HEADER_LEN = 3
#: Progress never reaches 1.0 before every prime is found.
_PROGRESS_CAP = 0.99


class _Stopped(Exception):
    """Raised from the progress callback to abort the search."""


def _width(bits: int) -> int:
    return (bits + 7) // 8


def encode_primes(primes: Sequence[int], bits: int) -> bytes:
    """Fixed-width encoding: version, ``bits`` (u16), then each prime big-endian in
    ``ceil(bits / 8)`` bytes. Holds any number of primes (a partial search too)."""
    if not MIN_BITS <= bits < 1 << 16:
        raise InvalidParameters("unsupported prime size")
    width = _width(bits)
    out = bytearray([_VERSION]) + bits.to_bytes(2, "big")
    for p in primes:
        if p <= 0 or p.bit_length() > bits:
            raise InvalidParameters("prime does not fit the encoding")
        out += p.to_bytes(width, "big")
    return bytes(out)


def decode_primes(blob: bytes, bits: int) -> list[int]:
    """Inverse of :func:`encode_primes` for the expected ``bits``; only the format is
    checked here (primality is checked by the caller)."""
    if len(blob) < _HEADER_LEN or blob[0] != _VERSION:
        raise InvalidEncoding("unknown prime-store format")
    if int.from_bytes(blob[1:_HEADER_LEN], "big") != bits:
        raise InvalidEncoding("stored primes have another size")
    width = _width(bits)
    body = blob[_HEADER_LEN:]
    if len(body) % width:
        raise InvalidEncoding("truncated prime-store value")
    return [int.from_bytes(body[i : i + width], "big") for i in range(0, len(body), width)]


def _valid_prime(p: int, bits: int) -> bool:
    # Two top bits set (what the generator produces): exact bit length, and the
    # product of two such primes has exactly 2 * bits bits.
    return p.bit_length() == bits and p >> (bits - 2) == 3 and is_safe_prime(p)


class PrimeWorker:
    """Finds, persists and serves a signer's ``count`` Paillier safe primes.

    ``workers > 1`` runs the search in a ``forkserver`` process pool (safe in a
    multi-threaded server); ``workers == 1`` searches in the background thread.
    Thread-safe: ``ready``, ``progress``, ``primes()`` and ``wait()`` may be
    called from any thread.
    """

    def __init__(
        self,
        store: SignerStore,
        *,
        bits: int = 1536,
        count: int = 2,
        workers: int = 1,
        background: bool = False,
        spares: int = 0,
    ) -> None:
        if isinstance(bits, bool) or not isinstance(bits, int) or not MIN_BITS <= bits < 1 << 16:
            raise InvalidParameters(f"prime size must be {MIN_BITS}..65535 bits")
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise InvalidParameters("count must be positive")
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise InvalidParameters("workers must be positive")
        if isinstance(spares, bool) or not isinstance(spares, int) or spares < 0:
            raise InvalidParameters("spares must be >= 0")
        self._store = store
        #: Spare pairs to keep in memory for the next epoch (0: no stock).
        self.spares = spares
        #: The spare pairs found so far (process memory only).
        self._spare_pairs: list[tuple[int, int]] = []
        self._refill = threading.Event()
        self.bits = bits
        self.count = count
        self.workers = workers
        #: Search at lowered priority (``shardvault.cpu.background_thread``).
        self.background = background
        self._lock = threading.Lock()
        self._found: list[int] = []
        self._progress = 0.0
        self._error: BaseException | None = None
        self._stop = threading.Event()
        self._finished = threading.Event()
        self._thread: threading.Thread | None = None
        #: Primes this worker has searched for (0 when everything came from the store).
        self.searched = 0

    # -- state ---------------------------------------------------------------------
    @property
    def ready(self) -> bool:
        with self._lock:
            return len(self._found) >= self.count

    @property
    def progress(self) -> float:
        """0.0-1.0, never decreasing; 1.0 exactly when :attr:`ready`."""
        with self._lock:
            return self._progress

    @property
    def error(self) -> BaseException | None:
        """The exception that ended the search, if it failed (not set by :meth:`stop`)."""
        with self._lock:
            return self._error

    @property
    def spare_count(self) -> int:
        """Spare pairs ready in memory for the next epoch."""
        with self._lock:
            return len(self._spare_pairs)

    def take_spare(self) -> tuple[int, int] | None:
        """One spare pair for an epoch (removed from the stock; the refill is woken),
        or None when the stock is empty."""
        with self._lock:
            pair = self._spare_pairs.pop(0) if self._spare_pairs else None
        self._refill.set()
        return pair

    def add_spares(self, pairs: Sequence[tuple[int, int]]) -> None:
        """Put spare pairs into the in-memory stock (TESTS: pregenerated primes). Each
        prime is checked as the stored ones are."""
        for pair in pairs:
            if len(pair) != 2 or pair[0] == pair[1]:
                raise InvalidParameters("a spare is a pair of distinct safe primes")
            if not all(_valid_prime(p, self.bits) for p in pair):
                raise InvalidParameters("a spare prime fails the safe-prime check")
        with self._lock:
            self._spare_pairs.extend((int(p), int(q)) for p, q in pairs)

    def replace_primes(self, primes: Sequence[int]) -> None:
        """After an epoch: the persisted primes are the new aux info's (the caller wrote
        the record in the epoch's transaction); forget the old ones in memory."""
        with self._lock:
            self._found = list(primes)

    def primes(self) -> tuple[int, ...]:
        with self._lock:
            if len(self._found) >= self.count:
                return tuple(self._found[: self.count])
            have, error = len(self._found), self._error
        detail = " (search failed; see the signer log)" if error is not None else ""
        raise AuxInfoNotReady(f"Paillier primes not ready: {have} of {self.count} found{detail}")

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the primes are ready or the search ends; returns :attr:`ready`."""
        if self.ready:
            return True
        self._finished.wait(timeout)
        return self.ready

    # -- lifecycle -----------------------------------------------------------------
    def start(self) -> None:
        """Load the stored primes; if some are missing, search for them in a daemon
        thread. Idempotent while a search is running. Raises
        :class:`~shardvault.errors.DecryptionError` if the stored value does not open."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
        loaded = self._load()
        with self._lock:
            self._found = loaded
            self._error = None
            self._progress = max(self._progress, self._estimate(0, 1.0))
            self._stop.clear()
            self._finished.clear()
            if len(self._found) >= self.count:
                self._progress = 1.0
                self._finished.set()
                if self.spares == 0:
                    return
            self._thread = threading.Thread(
                target=self._run, name=f"paillier-primes-{self._store.signer_id}", daemon=True
            )
            self._thread.start()

    def stop(self, timeout: float | None = None) -> bool:
        """Ask the search to stop and wait (up to ``timeout``) for its thread to end.
        Returns True once no search thread is running. Primes found so far stay stored."""
        self._stop.set()
        self._refill.set()
        with self._lock:
            thread = self._thread
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()

    # -- internals -----------------------------------------------------------------
    def _load(self) -> list[int]:
        blob = self._store.get_secret(RECORD_NAME)  # DecryptionError propagates
        if blob is None:
            return []
        try:
            primes = decode_primes(blob, self.bits)
        except InvalidEncoding as exc:
            log.warning(
                "signer %s: stored Paillier primes unusable (%s); regenerating",
                self._store.signer_id,
                exc.message,
            )
            return []
        if len(set(primes)) != len(primes) or not all(_valid_prime(p, self.bits) for p in primes):
            log.warning(
                "signer %s: stored Paillier primes fail the safe-prime check; regenerating",
                self._store.signer_id,
            )
            return []
        return primes

    def _estimate(self, tested: int, expected: float) -> float:
        """Caller holds the lock. Primes found plus the current search's share."""
        current = min(tested / expected, _PROGRESS_CAP) if expected > 0 else 0.0
        return min((len(self._found) + current) / self.count, _PROGRESS_CAP)

    def _on_progress(self, tested: int, expected: float) -> None:
        if self._stop.is_set():
            raise _Stopped
        with self._lock:
            self._progress = max(self._progress, self._estimate(tested, expected))

    def _spare_progress(self, _tested: int) -> None:
        if self._stop.is_set():
            raise _Stopped

    def _search_one(self, expected: float, *, spare: bool = False) -> int:
        def progress(tested: int) -> None:
            if spare:  # the stock does not move the readiness bar
                self._spare_progress(tested)
            else:
                self._on_progress(tested, expected)

        if self.workers == 1:
            return generate_safe_prime(self.bits, progress=progress)
        return generate_safe_primes(
            1,
            self.bits,
            workers=self.workers,
            progress=progress,
            mp_context=multiprocessing.get_context("forkserver"),
        )[0]

    def _run(self) -> None:
        if self.background:
            background_thread()
        expected = expected_candidates(self.bits)
        try:
            while not self._stop.is_set():
                with self._lock:
                    if len(self._found) >= self.count:
                        break
                p = self._search_one(expected)
                self.searched += 1
                with self._lock:
                    if p in self._found:  # astronomically unlikely at real sizes
                        continue
                    candidate = [*self._found, p]
                # Persist before publishing: a prime counts only once it is durable.
                self._store.put_secret(RECORD_NAME, encode_primes(candidate, self.bits))
                with self._lock:
                    self._found = candidate
                    if len(candidate) >= self.count:
                        self._progress = 1.0
                    else:
                        self._progress = max(self._progress, self._estimate(0, expected))
            if not self._stop.is_set():
                self._finished.set()
            self._keep_spares(expected)
        except _Stopped:
            log.info("signer %s: Paillier prime search stopped", self._store.signer_id)
        except Exception as exc:
            log.exception("signer %s: Paillier prime search failed", self._store.signer_id)
            with self._lock:
                self._error = exc
        finally:
            self._finished.set()

    def _keep_spares(self, expected: float) -> None:
        """Refill the in-memory stock of spare pairs (never persisted, never logged)
        whenever an epoch takes one, until stopped."""
        while not self._stop.is_set() and self.spares > 0:
            self._refill.clear()
            while self.spare_count < self.spares and not self._stop.is_set():
                pair = (
                    self._search_one(expected, spare=True),
                    self._search_one(expected, spare=True),
                )
                if pair[0] == pair[1]:  # astronomically unlikely at real sizes
                    continue
                with self._lock:
                    self._spare_pairs.append(pair)
            self._refill.wait()
