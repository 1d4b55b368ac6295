"""Background Paillier safe-prime generation: persistence, resume, progress, stop,
corrupted stored values (issue 5, item 4). Small sizes keep the suite fast."""

from __future__ import annotations

import itertools
import logging
import os
import time
from pathlib import Path

import pytest

from shardvault.crypto.safeprimes import generate_safe_prime, is_safe_prime
from shardvault.errors import DecryptionError, ShardvaultError
from shardvault.signer import aux_primes
from shardvault.signer.aux_primes import (
    RECORD_NAME,
    AuxInfoNotReady,
    PrimeWorker,
    decode_primes,
    encode_primes,
)
from shardvault.signer.store import SignerStore

BITS = 256


def _store(tmp_path: Path, kek: bytes) -> SignerStore:
    return SignerStore(tmp_path / "s.sqlite3", "sgn-test", kek)


def _check(primes: tuple[int, ...], count: int, bits: int) -> None:
    assert len(primes) == count
    assert len(set(primes)) == count
    for p in primes:
        assert p.bit_length() == bits
        assert p >> (bits - 2) == 3
        assert is_safe_prime(p)


def test_fresh_start_generates_persists_and_reloads(tmp_path: Path) -> None:
    kek = os.urandom(32)
    store = _store(tmp_path, kek)
    worker = PrimeWorker(store, bits=BITS, count=2)
    worker.start()
    assert worker.wait(15)
    assert worker.ready and worker.progress == 1.0
    primes = worker.primes()
    _check(primes, 2, BITS)
    assert decode_primes(store.get_secret(RECORD_NAME) or b"", BITS) == list(primes)
    store.close()

    reopened = _store(tmp_path, kek)
    again = PrimeWorker(reopened, bits=BITS, count=2)
    again.start()
    assert again.ready  # immediately, no search thread
    assert again.progress == 1.0
    assert again.primes() == primes
    assert again.searched == 0
    assert again.wait(0)
    reopened.close()


def test_real_size_512_bits(tmp_path: Path) -> None:
    store = _store(tmp_path, os.urandom(32))
    worker = PrimeWorker(store, bits=512, count=2)
    worker.start()
    assert worker.wait(15)
    _check(worker.primes(), 2, 512)
    assert (worker.primes()[0] * worker.primes()[1]).bit_length() == 1024


def test_process_pool_search(tmp_path: Path) -> None:
    store = _store(tmp_path, os.urandom(32))
    worker = PrimeWorker(store, bits=BITS, count=2, workers=2)
    worker.start()
    assert worker.wait(15)
    _check(worker.primes(), 2, BITS)
    assert decode_primes(store.get_secret(RECORD_NAME) or b"", BITS) == list(worker.primes())


def test_progress_is_monotone_and_reaches_one(tmp_path: Path) -> None:
    store = _store(tmp_path, os.urandom(32))
    worker = PrimeWorker(store, bits=BITS, count=3)
    seen: list[float] = []
    worker.start()
    while True:
        progress = worker.progress
        ready = worker.ready
        seen.append(progress)
        assert 0.0 <= progress <= 1.0
        assert (progress == 1.0) <= ready  # 1.0 only once ready
        if ready:
            break
        time.sleep(0.001)
    assert worker.wait(0)
    assert worker.progress == 1.0
    assert all(a <= b for a, b in itertools.pairwise(seen))


def test_progress_estimate_is_capped_and_monotone(tmp_path: Path) -> None:
    store = _store(tmp_path, os.urandom(32))
    worker = PrimeWorker(store, bits=BITS, count=2)
    values = []
    for tested in (0, 10, 50, 100, 10_000):
        worker._on_progress(tested, 100.0)
        values.append(worker.progress)
    assert values == sorted(values)
    assert values[-1] < 0.5  # one prime's share, still capped below it
    worker._on_progress(0, 100.0)  # a new search never moves progress back
    assert worker.progress == values[-1]


def test_primes_before_ready_raises(tmp_path: Path) -> None:
    store = _store(tmp_path, os.urandom(32))
    worker = PrimeWorker(store, bits=1536, count=2)
    with pytest.raises(AuxInfoNotReady) as info:
        worker.primes()
    assert isinstance(info.value, ShardvaultError)
    assert info.value.code == "AuxInfoNotReady"
    assert not worker.ready and worker.progress == 0.0
    worker.start()
    with pytest.raises(ShardvaultError) as info2:
        worker.primes()
    assert info2.value.code == "AuxInfoNotReady"
    assert worker.stop(10)
    assert not worker.ready


def test_resume_searches_only_for_the_rest(tmp_path: Path) -> None:
    kek = os.urandom(32)
    first = generate_safe_prime(BITS)
    store = _store(tmp_path, kek)
    store.put_secret(RECORD_NAME, encode_primes([first], BITS))
    worker = PrimeWorker(store, bits=BITS, count=3)
    worker.start()
    assert worker.progress >= 1 / 3
    assert worker.wait(15)
    primes = worker.primes()
    assert primes[0] == first
    _check(primes, 3, BITS)
    assert worker.searched == 2


def test_stop_ends_the_thread_and_keeps_found_primes(tmp_path: Path) -> None:
    kek = os.urandom(32)
    store = _store(tmp_path, kek)
    # 1536-bit windows take ~0.6 s each, so the search cannot finish three primes
    # before stop() takes effect (at most one window runs after the flag is set).
    worker = PrimeWorker(store, bits=1536, count=3)
    worker.start()
    thread = worker._thread
    assert thread is not None and thread.is_alive() and thread.daemon
    t0 = time.monotonic()
    assert worker.stop(10)
    assert time.monotonic() - t0 < 10
    assert not thread.is_alive()
    assert not worker.ready
    assert worker.error is None
    assert not worker.wait(0)
    with pytest.raises(AuxInfoNotReady):
        worker.primes()
    # Whatever was found before the stop is stored and valid.
    stored = store.get_secret(RECORD_NAME)
    if stored is not None:
        for p in decode_primes(stored, 1536):
            assert is_safe_prime(p)


def test_stop_before_start_and_twice(tmp_path: Path) -> None:
    worker = PrimeWorker(_store(tmp_path, os.urandom(32)), bits=BITS)
    assert worker.stop(1)
    worker.start()
    assert worker.wait(15)
    assert worker.stop(1) and worker.stop(1)
    assert worker.ready


def _corrupt_values() -> list[bytes]:
    p = generate_safe_prime(BITS)
    not_safe = p + 2  # odd, same size, not a safe prime
    while is_safe_prime(not_safe):
        not_safe += 2
    return [
        b"",
        b"garbage",
        encode_primes([p], BITS)[:-1],  # truncated
        encode_primes([p], 512 if BITS != 512 else 256),  # another size
        encode_primes([not_safe], BITS),
        encode_primes([p, p], BITS),  # duplicate
        encode_primes([(p - 1) // 2], BITS),  # a (bits-1)-bit value
        bytes([9]) + encode_primes([p], BITS)[1:],  # unknown version
    ]


@pytest.mark.parametrize("index", range(8))
def test_corrupted_stored_primes_are_regenerated(
    tmp_path: Path, index: int, caplog: pytest.LogCaptureFixture
) -> None:
    bad = _corrupt_values()[index]
    store = _store(tmp_path, os.urandom(32))
    store.put_secret(RECORD_NAME, bad)
    worker = PrimeWorker(store, bits=BITS, count=2)
    with caplog.at_level(logging.WARNING, logger="shardvault.signer"):
        worker.start()
    assert any("regenerating" in r.getMessage() for r in caplog.records)
    assert worker.wait(15)
    primes = worker.primes()
    _check(primes, 2, BITS)
    assert worker.searched == 2
    assert store.get_secret(RECORD_NAME) == encode_primes(primes, BITS)


def test_undecryptable_value_is_not_overwritten(tmp_path: Path) -> None:
    store = _store(tmp_path, os.urandom(32))
    store.put_secret(RECORD_NAME, encode_primes([generate_safe_prime(BITS)], BITS))
    store.close()
    wrong_kek = _store(tmp_path, os.urandom(32))
    worker = PrimeWorker(wrong_kek, bits=BITS)
    with pytest.raises(DecryptionError):
        worker.start()
    assert not worker.ready and worker._thread is None


def test_search_failure_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(bits: int, **_: object) -> int:
        raise RuntimeError("no entropy")

    monkeypatch.setattr(aux_primes, "generate_safe_prime", boom)
    worker = PrimeWorker(_store(tmp_path, os.urandom(32)), bits=BITS)
    worker.start()
    assert not worker.wait(5)
    assert isinstance(worker.error, RuntimeError)
    with pytest.raises(AuxInfoNotReady, match="failed"):
        worker.primes()


def test_start_is_idempotent_while_running(tmp_path: Path) -> None:
    worker = PrimeWorker(_store(tmp_path, os.urandom(32)), bits=1536, count=2)
    worker.start()
    thread = worker._thread
    worker.start()
    assert worker._thread is thread
    assert worker.stop(10)


@pytest.mark.parametrize(
    "kwargs", [{"bits": 8}, {"count": 0}, {"workers": 0}, {"bits": True}, {"count": 1.5}]
)
def test_bad_parameters(tmp_path: Path, kwargs: dict[str, object]) -> None:
    with pytest.raises(ShardvaultError):
        PrimeWorker(_store(tmp_path, os.urandom(32)), **kwargs)  # type: ignore[arg-type]


def test_spare_pairs_are_kept_in_memory_only_and_refilled(tmp_path: Path) -> None:
    """The stock of spare pairs for the next refresh epoch (docs/security.md item 28)
    is never written to the store, and an epoch taking one wakes the refill."""
    kek = os.urandom(32)
    store = _store(tmp_path, kek)
    worker = PrimeWorker(store, bits=BITS, count=2, spares=1)
    worker.start()
    assert worker.wait(15)
    deadline = time.monotonic() + 30
    while worker.spare_count < 1:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    persisted = decode_primes(store.get_secret(RECORD_NAME) or b"", BITS)
    pair = worker.take_spare()
    assert pair is not None and worker.spare_count == 0
    _check(pair, 2, BITS)
    assert set(pair).isdisjoint(persisted) and set(pair).isdisjoint(worker.primes())
    # Nothing of the stock is in the store file (only the two persisted primes).
    raw = (tmp_path / "s.sqlite3").read_bytes()
    for p in pair:
        assert p.to_bytes(BITS // 8, "big") not in raw
    assert decode_primes(store.get_secret(RECORD_NAME) or b"", BITS) == persisted
    while worker.spare_count < 1:  # refilled after the take
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert worker.take_spare() != pair
    assert worker.stop(10)
    store.close()


def test_no_spares_means_none(tmp_path: Path) -> None:
    store = _store(tmp_path, os.urandom(32))
    worker = PrimeWorker(store, bits=BITS, count=2)
    worker.start()
    assert worker.wait(15)
    assert worker.take_spare() is None
    with pytest.raises(ShardvaultError):
        worker.add_spares([(7, 7)])
    store.close()
