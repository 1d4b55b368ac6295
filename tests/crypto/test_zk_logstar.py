"""Π_log*, group element vs Paillier encryption in range, over secp256k1 with an
arbitrary base point, against the verifier's ring-Pedersen parameters (docs/security.md
items 5, 13 and 14).

Moduli use TEST-ONLY pregenerated safe primes (tests/fixtures/cggmp_primes.json).
Most cases run on 1024-bit moduli (512-bit fixture primes): the checks under test
do not depend on the modulus size (the range statement only needs
N0 > 2^(ell+eps+1)); the size only buys hardness, which no test observes. One full
round runs at 3072 bits.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
from pathlib import Path

import gmpy2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shardvault.crypto.groups import ED25519, SECP256K1, Point
from shardvault.crypto.paillier import PaillierPublicKey, keypair_from_primes, sample_unit
from shardvault.crypto.ring_pedersen import RingPedersenParams, generate_ring_pedersen
from shardvault.crypto.zk import ELL, EPSILON, InvalidProof, Q, logstar
from shardvault.crypto.zk.logstar import Bounds, LogStarProof
from shardvault.errors import InvalidEncoding, InvalidParameters

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "cggmp_primes.json"
PRIMES = json.loads(FIXTURE.read_text())
P512 = [int(x, 16) for x in PRIMES["safe_primes_512"]]
P1536 = [int(x, 16) for x in PRIMES["safe_primes_1536"]]

SID = b"presign/session-17/round-3"
PID = 3

PK, SK = keypair_from_primes(P512[0], P512[1])  # prover, 1024-bit N0
RP = generate_ring_pedersen(P512[2], P512[3]).params  # the verifier's own parameters
G = SECP256K1.mul_base(SECP256K1.random_scalar())  # an arbitrary base (Gamma in presigning)
X_PLAIN = SECP256K1.random_scalar()
C, RHO = PK.encrypt_with_nonce(X_PLAIN)
X = SECP256K1.mul(G, X_PLAIN)
PROOF = logstar.prove(SK, RP, C, X, X_PLAIN, RHO, g=G, session_id=SID, prover_id=PID)

# Verification order, cheapest first: group, ring-Pedersen, Paillier; a proof checked
# under a different challenge fails EQ_GROUP first.
EQ_GROUP = "pi-log*: z1 g = Y + e X"
EQ_RP = "pi-log*: s^z1 t^z3 = D S^e"
EQ_ENC = "pi-log*: enc(z1; z2) = A C^e"
BAD_POINT = Point(SECP256K1, b"\x02" + (5).to_bytes(32, "big"))  # x = 5 is not on the curve


def rejected(
    proof: LogStarProof,
    *,
    key: PaillierPublicKey = PK,
    params: RingPedersenParams = RP,
    ciphertext: int = C,
    x_point: Point = X,
    g: Point = G,
    sid: bytes = SID,
    pid: int = PID,
) -> str:
    with pytest.raises(InvalidProof) as info:
        logstar.verify(key, params, ciphertext, x_point, proof, g=g, session_id=sid, prover_id=pid)
    assert info.value.check.startswith("pi-log*: ")
    assert info.value.blame == ()
    return info.value.check


def accepted(proof: LogStarProof, ciphertext: int = C, x_point: Point = X, g: Point = G) -> None:
    logstar.verify(PK, RP, ciphertext, x_point, proof, g=g, session_id=SID, prover_id=PID)


def pm(bound: int) -> int:
    return secrets.randbelow(2 * bound + 1) - bound


def algorithm_prove(ciphertext: int, x_point: Point, g: Point, x: int, rho: int) -> LogStarProof:
    """The paper's prover, written out independently and without the witness checks
    of ``logstar.prove`` (so it also runs on out-of-range witnesses)."""
    n0, n0_sq = PK.n, PK.n_squared
    b = Bounds.of(RP.n)
    alpha, mu, gamma = pm(b.z1), pm(b.mu), pm(b.gamma)
    r = sample_unit(n0)
    big_s = RP.commit(x, mu)
    big_a = (1 + alpha % n0 * n0) * int(gmpy2.powmod(r, n0, n0_sq)) % n0_sq
    big_y = g * (alpha % Q)
    big_d = RP.commit(alpha, gamma)
    e = logstar.derive_challenge(
        n0, RP, ciphertext, x_point, g, (big_s, big_a, big_y, big_d), session_id=SID, prover_id=PID
    )
    z2 = r * int(gmpy2.powmod(rho, e, n0)) % n0
    return LogStarProof(big_s, big_a, big_y, big_d, alpha + e * x, z2, gamma + e * mu)


def equations_hold(proof: LogStarProof, ciphertext: int, x_point: Point) -> bool:
    """The three verification equations, without any range check."""
    n0, n0_sq, n_hat = PK.n, PK.n_squared, RP.n
    e = logstar.derive_challenge(
        n0,
        RP,
        ciphertext,
        x_point,
        G,
        (proof.S, proof.A, proof.Y, proof.D),
        session_id=SID,
        prover_id=PID,
    )
    lhs1 = (1 + proof.z1 % n0 * n0) * int(gmpy2.powmod(proof.z2, n0, n0_sq)) % n0_sq
    rhs1 = proof.A * int(gmpy2.powmod(ciphertext, e, n0_sq)) % n0_sq
    eq2 = G * (proof.z1 % Q) == proof.Y + x_point * (e % Q)
    rhs3 = proof.D * int(gmpy2.powmod(proof.S, e, n_hat)) % n_hat
    return lhs1 == rhs1 and eq2 and RP.commit(proof.z1, proof.z3) == rhs3


# -- honest provers -------------------------------------------------------------------------


def test_honest_proofs_verify() -> None:
    accepted(PROOF)
    for x in (1, Q - 1, 2**ELL, -(2**ELL), -5):
        c, rho = PK.encrypt_with_nonce(x)
        xp = G * (x % Q)
        accepted(logstar.prove(SK, RP, c, xp, x, rho, g=G, session_id=SID, prover_id=PID), c, xp)
        accepted(logstar.prove(PK, RP, c, xp, x, rho, g=G, session_id=SID, prover_id=PID), c, xp)
    # With the generator as base (Gamma_i = gamma_i G in presigning).
    gen = SECP256K1.generator
    xp = SECP256K1.mul_base(X_PLAIN)
    proof = logstar.prove(SK, RP, C, xp, X_PLAIN, RHO, g=gen, session_id=SID, prover_id=PID)
    accepted(proof, C, xp, gen)
    accepted(algorithm_prove(C, X, G, X_PLAIN, RHO))


@settings(max_examples=6)
@given(x=st.integers(1, Q - 1), base=st.integers(1, Q - 1))
def test_honest_proofs_verify_for_any_witness_and_base(x: int, base: int) -> None:
    g = SECP256K1.mul_base(base)
    c, rho = PK.encrypt_with_nonce(x)
    xp = g * x
    proof = logstar.prove(SK, RP, c, xp, x, rho, g=g, session_id=SID, prover_id=PID)
    accepted(proof, c, xp, g)


def test_full_size_3072_bit_round() -> None:
    pk3, sk3 = keypair_from_primes(P1536[0], P1536[1])
    rp3 = generate_ring_pedersen(P1536[2], P1536[3]).params
    assert pk3.n.bit_length() == rp3.n.bit_length() == 3072
    x = SECP256K1.random_scalar()
    c, rho = sk3.encrypt_with_nonce(x)
    xp = G * x
    proof = logstar.prove(sk3, rp3, c, xp, x, rho, g=G, session_id=SID, prover_id=PID)
    data = proof.to_bytes(pk3.n, rp3.n)
    assert (
        len(data)
        == LogStarProof.encoded_length(pk3.n, rp3.n)
        == 2 * 384 + 768 + 33 + 384 + 97 + 481
    )
    decoded = LogStarProof.from_bytes(data, pk3.n, rp3.n)
    assert decoded == proof
    logstar.verify(pk3, rp3, c, xp, decoded, g=G, session_id=SID, prover_id=PID)
    with pytest.raises(InvalidProof) as info:
        logstar.verify(pk3, rp3, c, xp, decoded, g=G, session_id=SID + b"!", prover_id=PID)
    assert info.value.check == EQ_GROUP


def test_challenge_is_in_plus_minus_q_and_bound_to_every_input() -> None:
    com = (PROOF.S, PROOF.A, PROOF.Y, PROOF.D)
    other_point = SECP256K1.mul_base(7)

    def ch(
        n0: int = PK.n,
        params: RingPedersenParams = RP,
        c: int = C,
        x_point: Point = X,
        g: Point = G,
        commitment: tuple[int, int, Point, int] = com,
        sid: bytes = SID,
        pid: int = PID,
    ) -> int:
        return logstar.derive_challenge(
            n0, params, c, x_point, g, commitment, session_id=sid, prover_id=pid
        )

    e = ch()
    assert -Q <= e <= Q
    variants = [
        ch(n0=PK.n + 2),
        ch(params=RingPedersenParams(RP.n + 2, RP.s, RP.t)),
        ch(params=RingPedersenParams(RP.n, RP.t, RP.s)),
        ch(c=C + 1),
        ch(x_point=other_point),
        ch(g=other_point),
        ch(x_point=G, g=X),
        ch(commitment=(com[0] + 1, com[1], com[2], com[3])),
        ch(commitment=(com[0], com[1] + 1, com[2], com[3])),
        ch(commitment=(com[0], com[1], other_point, com[3])),
        ch(commitment=(com[0], com[1], com[2], com[3] + 1)),
        ch(sid=SID + b"x"),
        ch(pid=PID + 1),
    ]
    assert e not in variants
    assert len(set(variants)) == len(variants)


# -- ranges ---------------------------------------------------------------------------------


def test_prover_refuses_out_of_range_or_inconsistent_witnesses() -> None:
    for x in (2**ELL + 1, -(2**ELL) - 1):
        c, rho = PK.encrypt_with_nonce(x)
        with pytest.raises(InvalidParameters):
            logstar.prove(SK, RP, c, G * x, x, rho, g=G, session_id=SID, prover_id=PID)
    with pytest.raises(InvalidParameters):  # X is not x * g
        logstar.prove(SK, RP, C, X, X_PLAIN + 1, RHO, g=G, session_id=SID, prover_id=PID)
    for bad in (BAD_POINT, SECP256K1.identity, ED25519.generator):
        with pytest.raises(InvalidParameters):
            logstar.prove(SK, RP, C, X, X_PLAIN, RHO, g=bad, session_id=SID, prover_id=PID)
        with pytest.raises(InvalidParameters):
            logstar.prove(SK, RP, C, bad, X_PLAIN, RHO, g=G, session_id=SID, prover_id=PID)


@pytest.mark.parametrize("x", [2 ** (ELL + EPSILON) + 1, -(2 ** (ELL + EPSILON)) - 1, 2**900])
def test_out_of_range_witness_fails_the_z1_range_check(x: int) -> None:
    c, rho = PK.encrypt_with_nonce(x)
    xp = G * (x % Q)
    proof = algorithm_prove(c, xp, G, x, rho)
    assert rejected(proof, ciphertext=c, x_point=xp) == "pi-log*: z1 range"
    # All three equations hold: only the paper's range check catches it.
    assert equations_hold(proof, c, xp)


def test_range_boundaries_are_inclusive_and_exact() -> None:
    bound = 2 ** (ELL + EPSILON)
    for value in (bound + 1, -bound - 1, 2**5000):
        assert rejected(dataclasses.replace(PROOF, z1=value)) == "pi-log*: z1 range"
    assert rejected(dataclasses.replace(PROOF, z1=bound)) == EQ_GROUP
    assert rejected(dataclasses.replace(PROOF, z1=-bound)) == EQ_GROUP


def test_z3_size_cap() -> None:
    b = Bounds.of(RP.n)
    for value in (b.z3 + 1, -b.z3 - 1):
        assert rejected(dataclasses.replace(PROOF, z3=value)) == "pi-log*: z3 size"
    assert rejected(dataclasses.replace(PROOF, z3=-b.z3)) == EQ_RP


def test_elements_must_be_units_and_points_valid() -> None:
    n0, n_hat = PK.n, RP.n
    for value in (0, n_hat, -1, P512[2], P512[3] * 3):
        assert rejected(dataclasses.replace(PROOF, S=value)) == "pi-log*: S range"
        assert rejected(dataclasses.replace(PROOF, D=value)) == "pi-log*: D range"
    for value in (0, PK.n_squared, P512[0], n0 * 3):
        assert rejected(dataclasses.replace(PROOF, A=value)) == "pi-log*: A range"
    for value in (0, n0, -1, P512[1]):
        assert rejected(dataclasses.replace(PROOF, z2=value)) == "pi-log*: z2 range"
    for value in (0, PK.n_squared, P512[0] * 5):
        assert rejected(PROOF, ciphertext=value) == "pi-log*: C"
    for bad in (BAD_POINT, SECP256K1.identity, ED25519.generator):
        assert rejected(dataclasses.replace(PROOF, Y=bad)) == "pi-log*: Y"
        assert rejected(PROOF, x_point=bad) == "pi-log*: X"
        assert rejected(PROOF, g=bad) == "pi-log*: g"


# -- tampering, binding ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "check"),
    [
        ("S", EQ_GROUP),
        ("A", EQ_GROUP),
        ("D", EQ_GROUP),
        ("z1", EQ_GROUP),
        ("z2", EQ_ENC),
        ("z3", EQ_RP),
    ],
)
def test_each_tampered_field_fails(field: str, check: str) -> None:
    value = getattr(PROOF, field)
    for delta in (1, -1):
        assert rejected(dataclasses.replace(PROOF, **{field: value + delta})) == check


def test_tampered_y_fails() -> None:
    assert rejected(dataclasses.replace(PROOF, Y=PROOF.Y + G)) == EQ_GROUP
    assert rejected(dataclasses.replace(PROOF, Y=-PROOF.Y)) == EQ_GROUP


def test_wrong_session_prover_verifier_statement_fails() -> None:
    assert rejected(PROOF, sid=SID + b"x") == EQ_GROUP
    assert rejected(PROOF, pid=PID - 1) == EQ_GROUP
    same_modulus = generate_ring_pedersen(P512[2], P512[3]).params
    assert rejected(PROOF, params=same_modulus) == EQ_GROUP
    other = generate_ring_pedersen(P512[4], P512[5]).params
    # S, D are residues mod the verifier's N̂ and z3's bound scales with N̂.
    assert rejected(PROOF, params=other) in (
        EQ_GROUP,
        "pi-log*: S range",
        "pi-log*: D range",
        "pi-log*: z3 size",
    )
    # Wrong X, wrong g (even consistent ones: X' = x g' with another g'), wrong ciphertext.
    assert rejected(PROOF, x_point=X + G) == EQ_GROUP
    assert rejected(PROOF, g=G + G) == EQ_GROUP
    g2 = SECP256K1.mul_base(11)
    assert rejected(PROOF, x_point=g2 * X_PLAIN, g=g2) == EQ_GROUP
    assert rejected(PROOF, ciphertext=PK.rerandomize(C)) == EQ_GROUP
    assert rejected(PROOF, ciphertext=PK.encrypt(X_PLAIN)) == EQ_GROUP


def test_witness_mismatches_fail_their_equation() -> None:
    # C encrypts x + 1 while X = x g: the group and Paillier equations cannot both hold.
    c_other, rho_other = PK.encrypt_with_nonce(X_PLAIN + 1)
    proof = logstar.prove(
        SK, RP, c_other, X, X_PLAIN, rho_other, g=G, session_id=SID, prover_id=PID
    )
    assert rejected(proof, ciphertext=c_other) == EQ_ENC
    # The Paillier side matches x + 1 (honest algorithm on x + 1) but X = x g.
    proof = algorithm_prove(c_other, X, G, X_PLAIN + 1, rho_other)
    assert rejected(proof, ciphertext=c_other) == EQ_GROUP


def test_parameter_and_input_checks() -> None:
    bad = RingPedersenParams(RP.n, 1, RP.t)
    assert rejected(PROOF, params=bad) == "pi-log*: parameters"
    small = PaillierPublicKey(P512[0] * 3)
    assert rejected(PROOF, key=small) == "pi-log*: N0"
    with pytest.raises(InvalidParameters):
        logstar.prove(SK, bad, C, X, X_PLAIN, RHO, g=G, session_id=SID, prover_id=PID)
    with pytest.raises(InvalidParameters):
        logstar.prove(SK, RP, C, X, X_PLAIN, RHO, g=G, session_id=b"", prover_id=PID)
    with pytest.raises(InvalidParameters):
        logstar.prove(SK, RP, C, X, X_PLAIN, 0, g=G, session_id=SID, prover_id=PID)


# -- encoding -------------------------------------------------------------------------------


def test_encoding_round_trip_and_exact_length() -> None:
    n0, n_hat = PK.n, RP.n
    data = PROOF.to_bytes(n0, n_hat)
    length = LogStarProof.encoded_length(n0, n_hat)
    assert len(data) == length == 2 * 128 + 256 + 33 + 128 + 97 + 225
    assert LogStarProof.from_bytes(data, n0, n_hat) == PROOF
    for bad in (data[:-1], data + b"\x00", b""):
        with pytest.raises(InvalidEncoding):
            LogStarProof.from_bytes(bad, n0, n_hat)
    y_at = 2 * 128 + 256
    for y in (b"\x00" * 33, b"\x04" + bytes(32), BAD_POINT.data, b"\x02" + b"\xff" * 32):
        with pytest.raises(InvalidEncoding):
            LogStarProof.from_bytes(data[:y_at] + y + data[y_at + 33 :], n0, n_hat)
    with pytest.raises(InvalidEncoding):  # D >= N-hat
        LogStarProof.from_bytes(data[:128] + n_hat.to_bytes(128, "big") + data[256:], n0, n_hat)
    with pytest.raises(InvalidEncoding):
        dataclasses.replace(PROOF, Y=SECP256K1.identity).to_bytes(n0, n_hat)
    with pytest.raises(InvalidEncoding):
        dataclasses.replace(PROOF, z3=2**3000).to_bytes(n0, n_hat)


@settings(max_examples=40)
@given(data=st.binary(max_size=1200))
def test_from_bytes_fuzz_raises_only_invalid_encoding(data: bytes) -> None:
    try:
        LogStarProof.from_bytes(data, PK.n, RP.n)
    except InvalidEncoding:
        pass


@settings(max_examples=15)
@given(index=st.integers(0, 10_000), flip=st.integers(1, 255))
def test_byte_flips_are_refused_or_rejected(index: int, flip: int) -> None:
    data = bytearray(PROOF.to_bytes(PK.n, RP.n))
    data[index % len(data)] ^= flip
    try:
        proof = LogStarProof.from_bytes(bytes(data), PK.n, RP.n)
    except InvalidEncoding:
        return
    with pytest.raises(InvalidProof):
        accepted(proof)
