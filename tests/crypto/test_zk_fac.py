"""Π_fac, the no-small-factor proof against the verifier's ring-Pedersen parameters
(docs/security.md items 11, 13 and 14).

Moduli use TEST-ONLY pregenerated safe primes (tests/fixtures/cggmp_primes.json).
The soundness tests need full-size moduli: with ell + eps = 768 the proof only
says something about factors of a modulus bigger than 2^1536.
"""

from __future__ import annotations

import dataclasses
import json
import math
import secrets
from pathlib import Path

import gmpy2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shardvault.crypto.paillier import keypair_from_primes
from shardvault.crypto.ring_pedersen import RingPedersenParams, generate_ring_pedersen
from shardvault.crypto.zk import ELL, EPSILON, InvalidProof, Q, fac
from shardvault.crypto.zk.fac import Bounds, FacProof
from shardvault.errors import InvalidEncoding, InvalidParameters

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "cggmp_primes.json"
PRIMES = json.loads(FIXTURE.read_text())
P512 = [int(x, 16) for x in PRIMES["safe_primes_512"]]
P1536 = [int(x, 16) for x in PRIMES["safe_primes_1536"]]

SID = b"aux-info/session-9/rho-abcd"
PID = 1

_, SK = keypair_from_primes(P512[0], P512[1])  # prover, 1024-bit N0
VERIFIER = generate_ring_pedersen(P512[2], P512[3])  # the verifier's own parameters
RP = VERIFIER.params
PROOF = fac.prove(SK, RP, session_id=SID, prover_id=PID)

_, SK3 = keypair_from_primes(P1536[0], P1536[1])  # 3072-bit prover
RP3 = generate_ring_pedersen(P1536[2], P1536[3]).params  # 3072-bit verifier

EQ1 = "pi-fac: s^z1 t^w1 = A P^e"
EQ2 = "pi-fac: s^z2 t^w2 = B Q^e"
EQ3 = "pi-fac: Q^z1 t^v = T R^e"


def rejected(
    n0: int,
    proof: FacProof,
    params: RingPedersenParams = RP,
    sid: bytes = SID,
    pid: int = PID,
) -> str:
    with pytest.raises(InvalidProof) as info:
        fac.verify(n0, params, proof, session_id=sid, prover_id=pid)
    assert info.value.check.startswith("pi-fac: ")
    assert info.value.blame == ()
    return info.value.check


def pm(bound: int) -> int:
    return secrets.randbelow(2 * bound + 1) - bound


def cheating_prove(
    p: int, q: int, params: RingPedersenParams, *, alpha_scale: int = 1, beta_scale: int = 1
) -> FacProof:
    """The prover's algorithm for N0 = p*q with arbitrary (not necessarily prime or
    balanced) p, q; the scales widen the alpha/beta ranges beyond the paper's."""
    n0, n_hat, t = p * q, params.n, params.t
    b = Bounds.of(n0, n_hat)
    alpha, beta = pm(b.z * alpha_scale), pm(b.z * beta_scale)
    mu, nu, r = pm(b.mu), pm(b.mu), pm(b.r)
    x, y = pm(b.xy), pm(b.xy)
    big_p, big_q = params.commit(p, mu), params.commit(q, nu)
    big_a, big_b = params.commit(alpha, x), params.commit(beta, y)
    big_t = int(gmpy2.powmod(big_q, alpha, n_hat) * gmpy2.powmod(t, r, n_hat) % n_hat)
    e = fac.derive_challenge(
        n0, params, (big_p, big_q, big_a, big_b, big_t), session_id=SID, prover_id=PID
    )
    return FacProof(
        big_p,
        big_q,
        big_a,
        big_b,
        big_t,
        alpha + e * p,
        beta + e * q,
        x + e * mu,
        y + e * nu,
        r - e * nu * p,
    )


# -- honest provers -------------------------------------------------------------------------


def test_honest_proof_verifies() -> None:
    fac.verify(SK.n, RP, PROOF, session_id=SID, prover_id=PID)
    # The cheating prover is the honest algorithm when given honest inputs.
    fac.verify(SK.n, RP, cheating_prove(SK.p, SK.q, RP), session_id=SID, prover_id=PID)


def test_full_size_3072_bit_round() -> None:
    assert SK3.n.bit_length() == RP3.n.bit_length() == 3072
    proof = fac.prove(SK3, RP3, session_id=SID, prover_id=PID)
    data = proof.to_bytes(SK3.n, RP3.n)
    assert len(data) == FacProof.encoded_length(SK3.n, RP3.n)
    decoded = FacProof.from_bytes(data, SK3.n, RP3.n)
    assert decoded == proof
    fac.verify(SK3.n, RP3, decoded, session_id=SID, prover_id=PID)
    assert rejected(SK3.n, decoded, RP3, pid=PID + 1) == EQ1


def test_bounds_are_the_papers() -> None:
    n0, n_hat = SK3.n, RP3.n
    b = Bounds.of(n0, n_hat)
    le = ELL + EPSILON
    assert (ELL, EPSILON, le) == (256, 512, 768)
    # z bound = floor(2^(ell+eps) * sqrt(N0)) exactly.
    assert b.z**2 <= n0 * 4**le < (b.z + 1) ** 2
    assert b.mu == 2**ELL * n_hat
    assert b.r == 2**le * n0 * n_hat
    assert b.xy == 2**le * n_hat
    assert b.w == b.xy + Q * b.mu
    assert b.v == b.r + Q * b.mu * n0
    assert not hasattr(b, "sigma")


# -- the 2024 revision (ePrint 2021/060, 2024-10-21, Fig. 26): no sigma ---------------------


def test_2024_form_has_no_sigma_and_r_is_s_to_the_n0() -> None:
    """The 2021 figure had a public sigma, v = r + e(sigma - nu p) and R = s^N0 t^sigma;
    the 2024 figure drops sigma: v = r - e nu p and R = s^N0."""
    names = [f.name for f in dataclasses.fields(FacProof)]
    assert names == ["P", "Q", "A", "B", "T", "z1", "z2", "w1", "w2", "v"]
    n_hat, s, t = RP.n, RP.s, RP.t
    e = fac.derive_challenge(
        SK.n,
        RP,
        (PROOF.P, PROOF.Q, PROOF.A, PROOF.B, PROOF.T),
        session_id=SID,
        prover_id=PID,
    )
    big_r = pow(s, SK.n, n_hat)
    lhs = pow(PROOF.Q, PROOF.z1, n_hat) * pow(t, PROOF.v, n_hat) % n_hat
    assert lhs == PROOF.T * pow(big_r, e, n_hat) % n_hat


def test_2021_form_response_with_sigma_is_rejected() -> None:
    """A 2021-style v = r + e(sigma - nu p) with sigma != 0 fails Q^z1 t^v = T s^(N0 e)."""
    n0, n_hat, t = SK.n, RP.n, RP.t
    b = Bounds.of(n0, n_hat)
    alpha, beta, mu, nu, r = pm(b.z), pm(b.z), pm(b.mu), pm(b.mu), pm(b.r)
    x, y = pm(b.xy), pm(b.xy)
    sigma = 1 + secrets.randbelow(2**ELL * n0 * n_hat)  # the 2021 range, nonzero
    big_p, big_q = RP.commit(SK.p, mu), RP.commit(SK.q, nu)
    big_a, big_b = RP.commit(alpha, x), RP.commit(beta, y)
    big_t = int(gmpy2.powmod(big_q, alpha, n_hat) * gmpy2.powmod(t, r, n_hat) % n_hat)
    e = fac.derive_challenge(
        n0, RP, (big_p, big_q, big_a, big_b, big_t), session_id=SID, prover_id=PID
    )
    assert e != 0
    z1, z2, w1, w2 = alpha + e * SK.p, beta + e * SK.q, x + e * mu, y + e * nu
    ok = FacProof(big_p, big_q, big_a, big_b, big_t, z1, z2, w1, w2, r - e * nu * SK.p)
    fac.verify(n0, RP, ok, session_id=SID, prover_id=PID)
    old = dataclasses.replace(ok, v=r + e * (sigma - nu * SK.p))
    assert rejected(n0, old) == EQ3


def test_challenge_is_in_plus_minus_q_and_bound_to_inputs() -> None:
    commitment = (PROOF.P, PROOF.Q, PROOF.A, PROOF.B, PROOF.T)
    e = fac.derive_challenge(SK.n, RP, commitment, session_id=SID, prover_id=PID)
    assert -Q <= e <= Q
    variants = [
        fac.derive_challenge(SK.n + 2, RP, commitment, session_id=SID, prover_id=PID),
        fac.derive_challenge(SK.n, RP3, commitment, session_id=SID, prover_id=PID),
        fac.derive_challenge(SK.n, RP, commitment, session_id=SID + b"1", prover_id=PID),
        fac.derive_challenge(SK.n, RP, commitment, session_id=SID, prover_id=PID + 1),
        fac.derive_challenge(
            SK.n, RP, (*commitment[:4], commitment[4] + 1), session_id=SID, prover_id=PID
        ),
    ]
    assert e not in variants


# -- small factors and ranges ---------------------------------------------------------------


def test_modulus_with_a_tiny_factor_fails() -> None:
    big = P1536[4] * P1536[5]
    n0 = 3 * big  # 3074 bits, smallest factor 3
    assert n0.bit_length() >= 3072
    proof = cheating_prove(3, big, RP3)
    assert rejected(n0, proof, RP3) == "pi-fac: z2 range"
    # The equations themselves hold: only the range check catches it.
    relaxed = dataclasses.replace(proof, z2=0)
    assert rejected(n0, relaxed, RP3) == EQ2


def test_modulus_with_a_600_bit_factor_fails() -> None:
    r = int(gmpy2.next_prime(secrets.randbits(600) | (1 << 599)))
    m = P1536[4] * P512[4] * P512[5]
    n0 = r * m
    assert n0.bit_length() >= 3072
    assert rejected(n0, cheating_prove(r, m, RP3), RP3) == "pi-fac: z2 range"
    assert rejected(n0, cheating_prove(m, r, RP3), RP3) == "pi-fac: z1 range"


def test_out_of_range_z_values_fail_even_when_equations_hold() -> None:
    proof = cheating_prove(SK.p, SK.q, RP, alpha_scale=2**64)
    assert rejected(SK.n, proof) == "pi-fac: z1 range"
    proof = cheating_prove(SK.p, SK.q, RP, beta_scale=2**64)
    assert rejected(SK.n, proof) == "pi-fac: z2 range"


def test_range_boundaries_are_inclusive_and_exact() -> None:
    b = Bounds.of(SK.n, RP.n)
    for field in ("z1", "z2"):
        for value in (b.z + 1, -b.z - 1, 2**5000):
            assert rejected(SK.n, dataclasses.replace(PROOF, **{field: value})) == (
                f"pi-fac: {field} range"
            )
    # At the bound the range check passes and the equation decides.
    assert rejected(SK.n, dataclasses.replace(PROOF, z1=b.z)) == EQ1
    assert rejected(SK.n, dataclasses.replace(PROOF, z2=-b.z)) == EQ2


def test_size_checks_on_other_responses() -> None:
    b = Bounds.of(SK.n, RP.n)
    cases = [("w1", b.w), ("w2", b.w), ("v", b.v)]
    for field, bound in cases:
        for value in (bound + 1, -bound - 1):
            assert rejected(SK.n, dataclasses.replace(PROOF, **{field: value})) == (
                f"pi-fac: {field} size"
            )


def test_commitments_must_be_units() -> None:
    for field in "PQABT":
        for value in (0, RP.n, RP.n + 1, -1, P512[2]):
            assert rejected(SK.n, dataclasses.replace(PROOF, **{field: value})) == (
                f"pi-fac: {field} range"
            )


# -- tampering, binding ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "check"),
    [
        ("P", EQ1),
        ("Q", EQ1),
        ("A", EQ1),
        ("B", EQ1),
        ("T", EQ1),
        ("z1", EQ1),
        ("z2", EQ2),
        ("w1", EQ1),
        ("w2", EQ2),
        ("v", EQ3),
    ],
)
def test_each_tampered_field_fails(field: str, check: str) -> None:
    value = getattr(PROOF, field)
    for delta in (1, -1):
        assert rejected(SK.n, dataclasses.replace(PROOF, **{field: value + delta})) == check


def test_wrong_session_prover_modulus_or_verifier_fails() -> None:
    assert rejected(SK.n, PROOF, sid=SID + b"x") == EQ1
    assert rejected(SK.n, PROOF, pid=PID + 1) == EQ1
    _, other = keypair_from_primes(P512[4], P512[5])
    # v's bound and z1, z2's ranges scale with N0: any may fail first under another one.
    assert rejected(other.n, PROOF) in (
        EQ1,
        "pi-fac: v size",
        "pi-fac: z1 range",
        "pi-fac: z2 range",
    )
    # The proof is for the verifier who owns RP: another party's parameters reject it.
    other_verifier = generate_ring_pedersen(P512[2], P512[3]).params
    assert rejected(SK.n, PROOF, other_verifier) == EQ1


def test_parameter_and_input_checks() -> None:
    bad = RingPedersenParams(RP.n, 1, RP.t)
    assert rejected(SK.n, PROOF, bad) == "pi-fac: parameters"
    with pytest.raises(InvalidParameters):
        fac.prove(SK, bad, session_id=SID, prover_id=PID)
    assert rejected(1, PROOF) == "pi-fac: N0"
    with pytest.raises(InvalidParameters):
        fac.prove(SK, RP, session_id=b"", prover_id=PID)


# -- encoding -------------------------------------------------------------------------------


def test_encoding_round_trip_and_exact_length() -> None:
    n0, n_hat = SK.n, RP.n
    data = PROOF.to_bytes(n0, n_hat)
    assert len(data) == FacProof.encoded_length(n0, n_hat)
    assert FacProof.from_bytes(data, n0, n_hat) == PROOF
    for bad in (data[:-1], data + b"\x00", b""):
        with pytest.raises(InvalidEncoding):
            FacProof.from_bytes(bad, n0, n_hat)
    with pytest.raises(InvalidEncoding):  # P >= N-hat
        FacProof.from_bytes(n_hat.to_bytes(128, "big") + data[128:], n0, n_hat)
    with pytest.raises(InvalidEncoding):  # does not fit its field
        dataclasses.replace(PROOF, v=2**20000).to_bytes(n0, n_hat)
    with pytest.raises(InvalidEncoding):
        FacProof.from_bytes(data, n0, RP3.n)  # wrong context: wrong length


def test_negative_values_survive_encoding() -> None:
    b = Bounds.of(SK.n, RP.n)
    extreme = dataclasses.replace(PROOF, z1=-b.z, z2=b.z, w1=-b.w, w2=b.w, v=-b.v)
    data = extreme.to_bytes(SK.n, RP.n)
    assert FacProof.from_bytes(data, SK.n, RP.n) == extreme


@settings(max_examples=15)
@given(index=st.integers(0, 10_000), flip=st.integers(1, 255))
def test_byte_flips_are_refused_or_rejected(index: int, flip: int) -> None:
    data = bytearray(PROOF.to_bytes(SK.n, RP.n))
    data[index % len(data)] ^= flip
    try:
        proof = FacProof.from_bytes(bytes(data), SK.n, RP.n)
    except InvalidEncoding:
        return
    with pytest.raises(InvalidProof):
        fac.verify(SK.n, RP, proof, session_id=SID, prover_id=PID)


def test_sizes_of_a_3072_bit_proof() -> None:
    proof = fac.prove(SK3, RP3, session_id=SID, prover_id=PID)
    sizes = {f: abs(getattr(proof, f)).bit_length() for f in ("z1", "z2", "w1", "v")}
    assert sizes["z1"] <= 768 + 1536 + 1
    # v = r - e nu p is dominated by r <- +-2^(ell+eps) N0 N-hat.
    assert math.isclose(sizes["v"], 768 + 6144, abs_tol=8)
    # 5 commitments of 384 bytes, then z1, z2 (289 bytes), w1, w2 (481), v (865); the
    # 2021 form also carried sigma (801 bytes: 5 126 in all).
    assert FacProof.encoded_length(SK3.n, RP3.n) == 5 * 384 + 2 * 289 + 2 * 481 + 865 == 4325
