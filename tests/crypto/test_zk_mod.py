"""Π_mod, the Paillier-Blum modulus proof (docs/security.md items 11 and 14).

Honest moduli use TEST-ONLY pregenerated safe primes (tests/fixtures/cggmp_primes.json).
Bad moduli are built here and "proved" by a best-effort cheating prover that
knows the factorization and answers every challenge it can.
"""

from __future__ import annotations

import dataclasses
import json
import math
import secrets
from functools import reduce
from pathlib import Path

import gmpy2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shardvault.crypto.paillier import keypair_from_primes
from shardvault.crypto.zk import ITERATIONS, InvalidProof, mod
from shardvault.crypto.zk.mod import ModProof
from shardvault.errors import InvalidEncoding, InvalidParameters

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "cggmp_primes.json"
PRIMES = json.loads(FIXTURE.read_text())
P512 = [int(x, 16) for x in PRIMES["safe_primes_512"]]
P1536 = [int(x, 16) for x in PRIMES["safe_primes_1536"]]

SID = b"aux-info/session-1/rho-0123"
PID = 3

_, SK = keypair_from_primes(P512[0], P512[1])
N = SK.n
PROOF = mod.prove(SK, session_id=SID, prover_id=PID)

FOURTH_ROOT = "pi-mod: x_i^4 = (-1)^a_i w^b_i y_i"
NTH_ROOT = "pi-mod: z_i^N = y_i"


def rejected(n: int, proof: ModProof, sid: bytes = SID, pid: int = PID) -> str:
    with pytest.raises(InvalidProof) as info:
        mod.verify(n, proof, session_id=sid, prover_id=pid)
    assert info.value.check.startswith("pi-mod: ")
    assert info.value.blame == ()
    return info.value.check


# -- a best-effort cheating prover ----------------------------------------------------------


def sqrt_mod(a: int, p: int) -> int | None:
    """A square root of a mod the odd prime p (Tonelli-Shanks), or None."""
    a %= p
    if a == 0:
        return 0
    if gmpy2.legendre(a, p) != 1:
        return None
    if p % 4 == 3:
        return int(gmpy2.powmod(a, (p + 1) // 4, p))
    q, s = p - 1, 0
    while q % 2 == 0:
        q, s = q // 2, s + 1
    z = 2
    while gmpy2.legendre(z, p) != -1:
        z += 1
    m, c = s, int(gmpy2.powmod(z, q, p))
    t, r = int(gmpy2.powmod(a, q, p)), int(gmpy2.powmod(a, (q + 1) // 2, p))
    while t != 1:
        i, t2 = 0, t
        while t2 != 1:
            t2, i = t2 * t2 % p, i + 1
        b = int(gmpy2.powmod(c, 1 << (m - i - 1), p))
        m, c, t, r = i, b * b % p, t * b * b % p, r * b % p
    return r


def fourth_root_mod(a: int, p: int) -> int | None:
    r = sqrt_mod(a, p)
    if r is None:
        return None
    for root in (r, (p - r) % p):
        x = sqrt_mod(root, p)
        if x is not None:
            return x
    return None


def crt(residues: list[int], moduli: list[int]) -> int:
    n = math.prod(moduli)
    return sum(r * (n // m) * pow(n // m, -1, m) for r, m in zip(residues, moduli, strict=True)) % n


def cheating_prove(primes: list[int], exponents: list[int] | None = None) -> ModProof:
    """Answer as well as possible for N = prod(p_i^e_i), knowing the factors."""
    powers = exponents or [1] * len(primes)
    n = math.prod(p**e for p, e in zip(primes, powers, strict=True))
    squarefree = all(e == 1 for e in powers)
    while True:
        w = secrets.randbelow(n)
        if gmpy2.jacobi(w, n) == -1:
            break
    ys = mod.derive_challenge(n, w, session_id=SID, prover_id=PID)
    lam = reduce(lambda u, v: u * v // math.gcd(u, v), [p - 1 for p in primes])
    d = pow(n, -1, lam) if math.gcd(n, lam) == 1 else 1
    xs, as_, bs, zs = [], [], [], []
    for y in ys:
        x, a, b = 1, 0, 0
        if squarefree:
            for a_, b_ in ((0, 0), (1, 0), (0, 1), (1, 1)):
                y_prime = (-1) ** a_ * pow(w, b_, n) * y % n
                roots = [fourth_root_mod(y_prime, p) for p in primes]
                if all(r is not None for r in roots):
                    x = crt([r for r in roots if r is not None], primes)
                    a, b = a_, b_
                    break
        xs.append(x)
        as_.append(a)
        bs.append(b)
        zs.append(
            int(gmpy2.powmod(y, d, n))
        )  # right mod each prime, wrong mod p^2 for prime powers
    return ModProof(w, tuple(xs), tuple(as_), tuple(bs), tuple(zs))


def random_prime(bits: int, residue: int) -> int:
    """A random prime = residue mod 4."""
    while True:
        p = int(gmpy2.next_prime(secrets.randbits(bits) | (1 << (bits - 1))))
        if p % 4 == residue:
            return p


def test_cheating_prover_helpers() -> None:
    for p in (13, 17, 41, 97, 101, 7, 11):  # p = 1 mod 4 and 3 mod 4
        for a in range(1, p):
            x = fourth_root_mod(a, p)
            has_root = any(pow(c, 4, p) == a for c in range(1, p))
            assert (x is not None) == has_root
            if x is not None:
                assert pow(x, 4, p) == a
    # On an honest modulus the cheating prover is just an honest prover.
    proof = cheating_prove([P512[0], P512[1]])
    mod.verify(N, proof, session_id=SID, prover_id=PID)


# -- honest provers -------------------------------------------------------------------------


def test_honest_proof_verifies() -> None:
    assert len(PROOF.x) == len(PROOF.z) == ITERATIONS == 128
    assert gmpy2.jacobi(PROOF.w, N) == -1
    mod.verify(N, PROOF, session_id=SID, prover_id=PID)
    # The x_i are principal (quadratic-residue) fourth roots.
    for x in PROOF.x[:8]:
        assert gmpy2.legendre(x, SK.p) == 1 and gmpy2.legendre(x, SK.q) == 1


def test_challenges_are_units_and_bound_to_inputs() -> None:
    ys = mod.derive_challenge(N, PROOF.w, session_id=SID, prover_id=PID)
    assert len(ys) == ITERATIONS and len(set(ys)) == ITERATIONS
    assert all(0 < y < N and math.gcd(y, N) == 1 for y in ys)
    assert ys != mod.derive_challenge(N, PROOF.w + 1, session_id=SID, prover_id=PID)
    assert ys != mod.derive_challenge(N + 2, PROOF.w, session_id=SID, prover_id=PID)
    assert ys != mod.derive_challenge(N, PROOF.w, session_id=SID, prover_id=PID + 1)
    assert ys != mod.derive_challenge(N, PROOF.w, session_id=SID[:-1], prover_id=PID)


def test_full_size_3072_bit_round() -> None:
    _, sk = keypair_from_primes(P1536[0], P1536[1])
    assert sk.n.bit_length() == 3072
    proof = mod.prove(sk, session_id=SID, prover_id=PID)
    data = proof.to_bytes(sk.n)
    assert len(data) == 384 + 128 * (2 * 384 + 1)
    decoded = ModProof.from_bytes(data, sk.n)
    mod.verify(sk.n, decoded, session_id=SID, prover_id=PID)
    assert rejected(sk.n, decoded, sid=b"other session") == NTH_ROOT


def test_honest_prover_refuses_non_blum_primes() -> None:
    p1 = random_prime(512, 1)
    _, sk = keypair_from_primes(p1, P512[0])
    assert not sk.is_blum
    with pytest.raises(InvalidParameters, match="Blum"):
        mod.prove(sk, session_id=SID, prover_id=PID)


# -- bad moduli -----------------------------------------------------------------------------


def test_prime_congruent_1_mod_4_fails() -> None:
    primes = [random_prime(512, 1), P512[2]]
    assert rejected(math.prod(primes), cheating_prove(primes)) == FOURTH_ROOT
    primes = [random_prime(512, 1), random_prime(512, 1)]
    assert rejected(math.prod(primes), cheating_prove(primes)) == FOURTH_ROOT


def test_three_prime_modulus_fails() -> None:
    primes = [P512[2], P512[3], P512[4]]  # all Blum, but three of them
    assert rejected(math.prod(primes), cheating_prove(primes)) == FOURTH_ROOT


def test_prime_power_modulus_fails() -> None:
    p = P512[5]
    assert rejected(p**3, cheating_prove([p], [3])) == NTH_ROOT
    assert rejected(p**2 * P512[6], cheating_prove([p, P512[6]], [2, 1])) == NTH_ROOT


def test_square_and_prime_and_even_moduli_fail() -> None:
    p = P512[5]
    assert rejected(p, PROOF) == "pi-mod: N not prime"
    assert rejected(N + 1, PROOF) == "pi-mod: N odd"
    assert rejected(1, PROOF) == "pi-mod: N odd"
    assert rejected(-N, PROOF) == "pi-mod: N odd"
    # p^2 (a Blum prime squared, Jacobi symbols all +1): no w with (w/N) = -1 exists.
    assert rejected(p * p, dataclasses.replace(PROOF, w=PROOF.w % (p * p))) in (
        "pi-mod: jacobi(w, N) = -1",
        "pi-mod: w range",
    )


def test_proof_for_another_modulus_fails() -> None:
    _, other = keypair_from_primes(P512[2], P512[3])
    assert rejected(other.n, PROOF).startswith("pi-mod: ")


# -- w, flags, ranges, gcds -----------------------------------------------------------------


def test_w_checks() -> None:
    plus_one = next(v for v in range(2, 1000) if gmpy2.jacobi(v, N) == 1)
    assert rejected(N, dataclasses.replace(PROOF, w=plus_one)) == "pi-mod: jacobi(w, N) = -1"
    assert rejected(N, dataclasses.replace(PROOF, w=SK.p)) == "pi-mod: jacobi(w, N) = -1"
    for w in (0, N, N + PROOF.w, -PROOF.w):
        assert rejected(N, dataclasses.replace(PROOF, w=w)) == "pi-mod: w range"
    # A different valid-looking w changes every challenge.
    minus_one = next(v for v in range(2, 1000) if gmpy2.jacobi(v, N) == -1)
    assert rejected(N, dataclasses.replace(PROOF, w=minus_one)) == NTH_ROOT


def test_range_and_gcd_checks() -> None:
    def with_item(field: str, i: int, value: int) -> ModProof:
        items = list(getattr(PROOF, field))
        items[i] = value
        changes: dict[str, object] = {field: tuple(items)}
        return dataclasses.replace(PROOF, **changes)  # type: ignore[arg-type]

    for bad in (0, N, N + PROOF.x[5], -1, SK.p, 2 * SK.q):
        assert rejected(N, with_item("x", 5, bad)) == "pi-mod: x_i range/gcd"
        assert rejected(N, with_item("z", 5, bad)) == "pi-mod: z_i range/gcd"
    for bad in (2, -1):
        assert rejected(N, with_item("a", 9, bad)) == "pi-mod: flags"
        assert rejected(N, with_item("b", 9, bad)) == "pi-mod: flags"
    short = ModProof(PROOF.w, PROOF.x[:-1], PROOF.a[:-1], PROOF.b[:-1], PROOF.z[:-1])
    assert rejected(N, short) == "pi-mod: iteration count"


@pytest.mark.parametrize("i", [0, 64, ITERATIONS - 1])
def test_each_tampered_response_fails(i: int) -> None:
    def with_item(field: str, value: int) -> ModProof:
        items = list(getattr(PROOF, field))
        items[i] = value
        changes: dict[str, object] = {field: tuple(items)}
        return dataclasses.replace(PROOF, **changes)  # type: ignore[arg-type]

    assert rejected(N, with_item("x", PROOF.x[i] + 1)) == FOURTH_ROOT
    assert rejected(N, with_item("z", PROOF.z[i] + 1)) == NTH_ROOT
    assert rejected(N, with_item("a", 1 - PROOF.a[i])) == FOURTH_ROOT
    assert rejected(N, with_item("b", 1 - PROOF.b[i])) == FOURTH_ROOT


def test_wrong_session_or_prover_fails() -> None:
    assert rejected(N, PROOF, sid=SID + b"x") == NTH_ROOT
    assert rejected(N, PROOF, pid=PID + 1) == NTH_ROOT
    assert rejected(N, PROOF, pid=0) == NTH_ROOT


# -- encoding -------------------------------------------------------------------------------


def test_encoding_round_trip_and_exact_length() -> None:
    data = PROOF.to_bytes(N)
    assert len(data) == ModProof.encoded_length(N) == 128 + 128 * 257
    assert ModProof.from_bytes(data, N) == PROOF
    for bad in (data[:-1], data + b"\x00", b""):
        with pytest.raises(InvalidEncoding):
            ModProof.from_bytes(bad, N)
    flags_at = 128 + 2 * 128  # first flags byte
    bad_flags = data[:flags_at] + b"\x04" + data[flags_at + 1 :]
    with pytest.raises(InvalidEncoding, match="flags"):
        ModProof.from_bytes(bad_flags, N)
    with pytest.raises(InvalidEncoding):
        ModProof.from_bytes(N.to_bytes(128, "big") + data[128:], N)
    with pytest.raises(InvalidEncoding):
        dataclasses.replace(PROOF, a=(2, *PROOF.a[1:])).to_bytes(N)
    with pytest.raises(InvalidParameters):
        dataclasses.replace(PROOF, x=PROOF.x[1:]).to_bytes(N)


@settings(max_examples=10)
@given(index=st.integers(0, 128 + 128 * 257 - 1), flip=st.integers(1, 255))
def test_byte_flips_are_refused_or_rejected(index: int, flip: int) -> None:
    data = bytearray(PROOF.to_bytes(N))
    data[index] ^= flip
    try:
        proof = ModProof.from_bytes(bytes(data), N)
    except InvalidEncoding:
        return
    with pytest.raises(InvalidProof):
        mod.verify(N, proof, session_id=SID, prover_id=PID)


@settings(max_examples=25)
@given(data=st.binary(max_size=300))
def test_fuzzed_encodings_are_refused(data: bytes) -> None:
    with pytest.raises(InvalidEncoding):
        ModProof.from_bytes(data, N)
