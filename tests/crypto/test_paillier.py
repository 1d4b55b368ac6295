"""Paillier (CRT) and safe-prime generation for CGGMP24 (docs/security.md items 11, 20, 21).

Moduli come from tests/fixtures/cggmp_primes.json (TEST-ONLY pregenerated safe
primes); fresh generation is exercised at small sizes, and once at 1536 bits
in a test marked ``slow``.
"""

from __future__ import annotations

import inspect
import json
import math
import multiprocessing
import secrets
from pathlib import Path

import gmpy2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rnghelpers import SeededRng

from shardvault.crypto import rng, safeprimes
from shardvault.crypto.paillier import (
    PROTOCOL_MIN_BITS,
    PaillierPublicKey,
    PaillierSecretKey,
    check_modulus_size,
    crt_powmod_sec,
    generate_keypair,
    keypair_from_primes,
    powmod_sec,
)
from shardvault.crypto.safeprimes import (
    expected_candidates,
    generate_safe_prime,
    generate_safe_primes,
    is_safe_prime,
)
from shardvault.errors import InvalidEncoding, InvalidParameters

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "cggmp_primes.json"


def fixture_primes(key: str) -> list[int]:
    return [int(x, 16) for x in json.loads(FIXTURE.read_text())[key]]


P512 = fixture_primes("safe_primes_512")
P1536 = fixture_primes("safe_primes_1536")
PK, SK = keypair_from_primes(P512[0], P512[1])  # 1024-bit N
PK3072, SK3072 = keypair_from_primes(P1536[0], P1536[1])


# -- an independent primality check (pure Python Miller-Rabin) ----------------------------

SMALL = [r for r in range(3, 2000, 2) if all(r % d for d in range(3, math.isqrt(r) + 1, 2))]


def miller_rabin(n: int, rounds: int = 48) -> bool:
    if n < 2:
        return False
    if n in (2, 3):
        return True
    if n % 2 == 0 or any(n % r == 0 for r in SMALL if r < n):
        return n in SMALL
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for _ in range(rounds):
        a = 2 + secrets.randbelow(n - 3)
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


def assert_safe_prime_independently(p: int, rounds: int = 48) -> None:
    q = (p - 1) // 2
    assert p == 2 * q + 1
    assert gmpy2.is_prime(q, 24 + rounds)
    assert gmpy2.is_prime(p, 24 + rounds)
    assert miller_rabin(q, rounds)
    assert miller_rabin(p, rounds)


# -- safe primes ---------------------------------------------------------------------------


def test_miller_rabin_helper_is_sound() -> None:
    assert [n for n in range(60) if miller_rabin(n)] == [
        2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59,
    ]  # fmt: skip
    assert not miller_rabin(561)  # Carmichael
    assert not miller_rabin(P512[0] * P512[1])


@pytest.mark.parametrize("bits", [16, 32, 64, 256, 512])
def test_generated_safe_prime_checks_out_independently(bits: int) -> None:
    seen: list[int] = []
    p = generate_safe_prime(bits, progress=seen.append)
    assert p.bit_length() == bits
    assert p >> (bits - 2) == 0b11  # two top bits set: products have exactly 2*bits bits
    assert p % 4 == 3  # Blum
    assert_safe_prime_independently(p)
    assert is_safe_prime(p)
    assert seen and seen == sorted(seen)


def test_fixture_primes_are_safe_and_sized() -> None:
    doc = json.loads(FIXTURE.read_text())
    assert "TEST ONLY" in doc["_warning"]
    for p in P1536:
        assert p.bit_length() == 1536
        assert_safe_prime_independently(p, rounds=12)
    for p in P512:
        assert p.bit_length() == 512
        assert_safe_prime_independently(p)
    assert len(set(P1536 + P512)) == len(P1536) + len(P512)
    assert (P1536[0] * P1536[1]).bit_length() == 3072


def test_is_safe_prime_rejects() -> None:
    assert is_safe_prime(P512[0])
    non_safe = int(gmpy2.next_prime(P512[0] + 10**6))
    while is_safe_prime(non_safe):
        non_safe = int(gmpy2.next_prime(non_safe))
    assert not is_safe_prime(non_safe)
    assert not is_safe_prime(P512[0] * P512[1])
    # Primes p whose (p - 1)/2 is composite, and non-primes.
    for bad in (-7, 0, 1, 2, 3, 4, 9, 13, 15, 2**127 - 1, 2**521 - 1, (2**127 - 1) * 3):
        assert not is_safe_prime(bad)
    assert [p for p in range(100) if is_safe_prime(p)] == [5, 7, 11, 23, 47, 59, 83]
    assert not is_safe_prime(True)


def test_parallel_generator_returns_distinct_safe_primes() -> None:
    seen: list[int] = []
    primes = generate_safe_primes(3, 256, workers=2, progress=seen.append)
    assert len(primes) == 3 and len(set(primes)) == 3
    for p in primes:
        assert p.bit_length() == 256
        assert_safe_prime_independently(p)
    assert seen and seen == sorted(seen)
    serial = generate_safe_primes(2, 128, workers=1)
    assert len(set(serial)) == 2 and all(is_safe_prime(p) for p in serial)
    # A multi-threaded server passes a fork-safe start method.
    ctx = multiprocessing.get_context("forkserver")
    served = generate_safe_primes(2, 128, workers=2, mp_context=ctx)
    assert len(set(served)) == 2 and all(is_safe_prime(p) for p in served)


def test_generator_input_checks_and_expected_count() -> None:
    with pytest.raises(InvalidParameters):
        generate_safe_prime(8)
    with pytest.raises(InvalidParameters):
        generate_safe_primes(0, 256)
    with pytest.raises(InvalidParameters):
        generate_safe_primes(1, 256, workers=0)
    # Heuristic expectation grows like bits^2 / (sieve factor); 1536 bits needs ~2k tests.
    assert 1000 < expected_candidates(1536) < 4000
    assert expected_candidates(512) < expected_candidates(1536)


def test_generator_uses_only_secrets_for_randomness() -> None:
    # Its only randomness is the rng argument, whose default is the OS CSPRNG (secrets).
    assert "secrets.randbits" in Path(rng.__file__).read_text()
    for fn in (generate_safe_prime, generate_safe_primes, generate_keypair):
        assert inspect.signature(fn).parameters["rng"].default is rng.OS_RNG
    source = Path(safeprimes.__file__).read_text()
    assert "import random" not in source and "secrets" not in source
    # Nothing else is drawn: the same seed gives the same prime.
    assert generate_safe_prime(128, rng=SeededRng(7)) == generate_safe_prime(128, rng=SeededRng(7))
    # A pool scans windows whose starts the caller's rng drew (which windows finish
    # first depends on timing): every prime it returns is the first of such a window.
    pooled = generate_safe_primes(2, 128, workers=2, rng=SeededRng(7))
    replay = SeededRng(7)
    firsts = {
        safeprimes._search_window(128, safeprimes._random_start(128, replay))[0] for _ in range(12)
    }
    assert len(set(pooled)) == 2 and set(pooled) <= firsts


@pytest.mark.slow
def test_real_1536_bit_safe_prime_pair_end_to_end() -> None:
    p, q = generate_safe_primes(2, 1536, workers=2)
    for x in (p, q):
        assert x.bit_length() == 1536
        assert_safe_prime_independently(x)
    pk, sk = keypair_from_primes(p, q)
    check_modulus_size(pk.n)
    assert sk.decrypt(pk.encrypt(42)) == 42


# -- Paillier -------------------------------------------------------------------------------


def textbook_decrypt(p: int, q: int, c: int) -> int:
    n = p * q
    n2 = n * n
    lam = (p - 1) * (q - 1) // math.gcd(p - 1, q - 1)
    mu = pow((pow(n + 1, lam, n2) - 1) // n, -1, n)
    return (pow(c, lam, n2) - 1) // n * mu % n


plaintexts = st.integers(min_value=0, max_value=PK.n - 1)
signed_plaintexts = st.integers(min_value=-(PK.n // 2), max_value=PK.n // 2)


@settings(max_examples=60)
@given(m=plaintexts)
def test_round_trip_and_crt_matches_textbook(m: int) -> None:
    c = PK.encrypt(m)
    assert PK.is_valid_ciphertext(c)
    assert SK.decrypt(c) == m
    assert textbook_decrypt(SK.p, SK.q, c) == m


@settings(max_examples=40)
@given(m=signed_plaintexts)
def test_signed_plaintexts(m: int) -> None:
    c, r = SK.encrypt_with_nonce(m)
    assert PK.encrypt(m, r) == c  # CRT encryption == public encryption
    assert SK.decrypt_signed(c) == m
    assert SK.decrypt(c) == m % PK.n


@settings(max_examples=40)
@given(m1=plaintexts, m2=plaintexts, k=st.integers(min_value=-(2**300), max_value=2**300))
def test_homomorphisms(m1: int, m2: int, k: int) -> None:
    n = PK.n
    c1, c2 = PK.encrypt(m1), PK.encrypt(m2)
    assert SK.decrypt(PK.add(c1, c2)) == (m1 + m2) % n
    assert SK.decrypt(PK.add_plain(c1, m2)) == (m1 + m2) % n
    assert SK.decrypt(PK.mul(c1, k)) == k * m1 % n
    assert SK.decrypt(PK.neg(c1)) == -m1 % n
    c3 = PK.rerandomize(c1)
    assert c3 != c1 and SK.decrypt(c3) == m1


def test_encryption_with_explicit_nonce_is_deterministic() -> None:
    r = PK.sample_nonce()
    assert PK.encrypt(7, r) == PK.encrypt(7, r) == SK.encrypt(7, r)
    assert PK.encrypt(7) != PK.encrypt(7)
    c, r2 = PK.encrypt_with_nonce(7)
    assert c == PK.encrypt(7, r2)
    # Enc(m; r) = (1 + mN) r^N mod N^2, literally.
    assert PK.encrypt(7, r) == (1 + 7 * PK.n) * pow(r, PK.n, PK.n_squared) % PK.n_squared


def test_invalid_ciphertexts_refused() -> None:
    n, n2 = PK.n, PK.n_squared
    bad = [0, -1, n2, n2 + 1, SK.p, SK.q * 5, n, 2 * n, "1", 1.0, True]
    for c in bad:
        assert not PK.is_valid_ciphertext(c)
        with pytest.raises(InvalidEncoding):
            PK.validate_ciphertext(c)  # type: ignore[arg-type]
    for c in bad[:7]:
        with pytest.raises(InvalidEncoding):
            SK.decrypt(c)  # type: ignore[arg-type]
        with pytest.raises(InvalidEncoding):
            PK.add(c, PK.encrypt(1))  # type: ignore[arg-type]
        with pytest.raises(InvalidEncoding):
            PK.mul(c, 3)  # type: ignore[arg-type]


def test_invalid_plaintexts_and_nonces_refused() -> None:
    n = PK.n
    for m in (n, -n, n + 5):
        with pytest.raises(InvalidParameters):
            PK.encrypt(m)
    for r in (0, n, SK.p, -1):
        with pytest.raises(InvalidParameters):
            PK.encrypt(1, r)
    with pytest.raises(InvalidParameters):
        PK.encrypt(True)


def test_secret_key_input_checks() -> None:
    p, q = P512[0], P512[1]
    with pytest.raises(InvalidParameters, match="distinct"):
        PaillierSecretKey(p, p)
    with pytest.raises(InvalidParameters, match="prime"):
        PaillierSecretKey(p, q + 2)
    with pytest.raises(InvalidParameters, match="prime"):
        PaillierSecretKey(p, 3 * 5 * 7 * 11 * 13 * 17 * 19 * 23 * 29 * 31 + 0)
    with pytest.raises(InvalidParameters, match="gcd"):
        PaillierSecretKey(3, 7)  # gcd(21, 12) = 3
    with pytest.raises(InvalidParameters):
        PaillierSecretKey(p, 2)
    assert SK.is_blum and SK3072.is_blum
    assert SK.public_key == PK and hash(SK.public_key) == hash(PK)
    assert PaillierSecretKey(q, p) == SK


def test_repr_hides_primes() -> None:
    for sk in (SK, SK3072):
        text = repr(sk) + str(sk)
        for secret in (sk.p, sk.q, sk.phi):
            assert str(secret) not in text and f"{secret:x}" not in text
        assert "hidden" in text


def test_modulus_size_check() -> None:
    check_modulus_size(PK3072.n)
    assert PK3072.bits == PROTOCOL_MIN_BITS
    with pytest.raises(InvalidParameters, match="3072"):
        check_modulus_size(PK.n)
    with pytest.raises(InvalidParameters):
        check_modulus_size(PK3072.n * 2)
    check_modulus_size(PK.n, min_bits=1024)


def test_public_key_encoding() -> None:
    data = PK3072.to_bytes()
    assert len(data) == 384
    assert PaillierPublicKey.from_bytes(data) == PK3072
    for bad in (b"", b"\x00" + data, data[:-1], (PK3072.n + 1).to_bytes(384, "big")):
        with pytest.raises(InvalidEncoding):
            PaillierPublicKey.from_bytes(bad)
    with pytest.raises(InvalidEncoding):  # too small for protocol use
        PaillierPublicKey.from_bytes(PK.to_bytes())
    assert PaillierPublicKey.from_bytes(PK.to_bytes(), min_bits=1024) == PK
    with pytest.raises(InvalidParameters):
        PaillierPublicKey(100)


def test_3072_bit_round_trip_and_homomorphism() -> None:
    m1, m2 = secrets.randbelow(PK3072.n), -(2**256)
    c1 = SK3072.encrypt(m1)
    c2 = PK3072.encrypt(m2)
    assert SK3072.decrypt(c1) == m1
    assert SK3072.decrypt_signed(c2) == m2
    assert SK3072.decrypt(PK3072.add(c1, c2)) == (m1 + m2) % PK3072.n
    assert textbook_decrypt(SK3072.p, SK3072.q, c1) == m1


def test_generate_keypair_small() -> None:
    pk, sk = generate_keypair(512, workers=1)
    assert pk.bits == 512 and sk.p != sk.q
    assert is_safe_prime(sk.p) and is_safe_prime(sk.q)
    assert sk.decrypt(pk.encrypt(99)) == 99
    with pytest.raises(InvalidParameters):
        generate_keypair(1001)


@settings(max_examples=30)
@given(
    base=st.integers(min_value=1, max_value=2**1024),
    exp=st.integers(min_value=-(2**2000), max_value=2**2000),
)
def test_powmod_helpers_match_builtin_pow(base: int, exp: int) -> None:
    n = PK.n
    if math.gcd(base, n) != 1:
        return
    assert powmod_sec(base, exp, n) == pow(base, exp, n)
    assert SK.pow_mod_n(base, exp) == pow(base, exp, n)
    assert crt_powmod_sec(base, exp, SK.p, SK.q, pow(SK.p, -1, SK.q)) == pow(base, exp, n)
