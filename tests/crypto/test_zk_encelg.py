"""Π_enc-elg, Paillier encryption in range with El-Gamal commitment, over secp256k1,
against the verifier's ring-Pedersen parameters (docs/security.md items 5, 13 and 14).

Moduli use TEST-ONLY pregenerated safe primes (tests/fixtures/cggmp_primes.json).
Most cases run on 1024-bit moduli (512-bit fixture primes): the checks under test
do not depend on the modulus size (the range statement only needs
N0 > 2^(ell+eps+1)); the size only buys hardness, which no test observes. One full
round runs at 3072 bits (1536-bit fixture primes).
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
from shardvault.crypto.zk import ELL, EPSILON, InvalidProof, Q, encelg
from shardvault.crypto.zk.encelg import Bounds, EncElgProof
from shardvault.errors import InvalidEncoding, InvalidParameters

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "cggmp_primes.json"
PRIMES = json.loads(FIXTURE.read_text())
P512 = [int(x, 16) for x in PRIMES["safe_primes_512"]]
P1536 = [int(x, 16) for x in PRIMES["safe_primes_1536"]]

SID = b"presign/session-17/round-1"
PID = 3
GEN = SECP256K1.generator

PK, SK = keypair_from_primes(P512[0], P512[1])  # prover, 1024-bit N0
RP = generate_ring_pedersen(P512[2], P512[3]).params  # the verifier's own parameters
A_SCALAR = SECP256K1.random_scalar()
B_SCALAR = SECP256K1.random_scalar()
A = SECP256K1.mul_base(A_SCALAR)
B = SECP256K1.mul_base(B_SCALAR)
X_PLAIN = SECP256K1.random_scalar() >> 1  # < 2^ell
C, RHO = PK.encrypt_with_nonce(X_PLAIN)
X = SECP256K1.mul_base(A_SCALAR * B_SCALAR + X_PLAIN)
PROOF = encelg.prove(SK, RP, C, A, B, X, X_PLAIN, RHO, B_SCALAR, session_id=SID, prover_id=PID)

# Verification order, cheapest first: w G, w A + z1 G, ring-Pedersen, Paillier; a proof
# checked under a different challenge fails EQ_B first.
EQ_B = "pi-enc-elg: w G = Z + e B"
EQ_X = "pi-enc-elg: w A + z1 G = Y + e X"
EQ_RP = "pi-enc-elg: s^z1 t^z3 = T S^e"
EQ_ENC = "pi-enc-elg: enc(z1; z2) = D C^e"
BAD_POINT = Point(SECP256K1, b"\x02" + (5).to_bytes(32, "big"))  # x = 5 is not on the curve


def x_point(a: int, b: int, x: int) -> Point:
    return SECP256K1.mul_base(a * b + x)


def rejected(
    proof: EncElgProof,
    *,
    key: PaillierPublicKey = PK,
    params: RingPedersenParams = RP,
    ciphertext: int = C,
    a: Point = A,
    b: Point = B,
    x: Point = X,
    sid: bytes = SID,
    pid: int = PID,
) -> str:
    with pytest.raises(InvalidProof) as info:
        encelg.verify(key, params, ciphertext, a, b, x, proof, session_id=sid, prover_id=pid)
    assert info.value.check.startswith("pi-enc-elg: ")
    assert info.value.blame == ()
    return info.value.check


def accepted(
    proof: EncElgProof, ciphertext: int = C, a: Point = A, b: Point = B, x: Point = X
) -> None:
    encelg.verify(PK, RP, ciphertext, a, b, x, proof, session_id=SID, prover_id=PID)


def pm(bound: int) -> int:
    return secrets.randbelow(2 * bound + 1) - bound


def algorithm_prove(
    ciphertext: int, a_pt: Point, b_pt: Point, x_pt: Point, x: int, rho: int, b: int
) -> EncElgProof:
    """The paper's prover, written out independently and without the witness checks
    of ``encelg.prove`` (so it also runs on out-of-range or mismatched witnesses)."""
    n0, n0_sq = PK.n, PK.n_squared
    bd = Bounds.of(RP.n)
    alpha, mu, gamma = pm(bd.z1), pm(bd.mu), pm(bd.gamma)
    r = sample_unit(n0)
    beta = secrets.randbelow(Q - 1) + 1
    big_s = RP.commit(x, mu)
    big_t = RP.commit(alpha, gamma)
    big_d = (1 + alpha % n0 * n0) * int(gmpy2.powmod(r, n0, n0_sq)) % n0_sq
    big_y = a_pt * beta + GEN * (alpha % Q)
    big_z = GEN * beta
    e = encelg.derive_challenge(
        n0,
        RP,
        ciphertext,
        a_pt,
        b_pt,
        x_pt,
        (big_s, big_t, big_d, big_y, big_z),
        session_id=SID,
        prover_id=PID,
    )
    z2 = r * int(gmpy2.powmod(rho, e, n0)) % n0
    return EncElgProof(
        big_s, big_t, big_d, big_y, big_z, alpha + e * x, (beta + e * b) % Q, z2, gamma + e * mu
    )


def equations_hold(proof: EncElgProof, ciphertext: int, x_pt: Point) -> bool:
    """The four verification equations, without any range check."""
    n0, n0_sq, n_hat = PK.n, PK.n_squared, RP.n
    e = encelg.derive_challenge(
        n0,
        RP,
        ciphertext,
        A,
        B,
        x_pt,
        (proof.S, proof.T, proof.D, proof.Y, proof.Z),
        session_id=SID,
        prover_id=PID,
    )
    lhs1 = (1 + proof.z1 % n0 * n0) * int(gmpy2.powmod(proof.z2, n0, n0_sq)) % n0_sq
    eq1 = lhs1 == proof.D * int(gmpy2.powmod(ciphertext, e, n0_sq)) % n0_sq
    eq2 = A * proof.w + GEN * (proof.z1 % Q) == proof.Y + x_pt * (e % Q)
    eq3 = GEN * proof.w == proof.Z + B * (e % Q)
    eq4 = RP.commit(proof.z1, proof.z3) == proof.T * int(gmpy2.powmod(proof.S, e, n_hat)) % n_hat
    return eq1 and eq2 and eq3 and eq4


# -- honest provers -------------------------------------------------------------------------


def test_honest_proofs_verify() -> None:
    accepted(PROOF)
    for x in (0, 1, 2**ELL, -(2**ELL), -5):
        c, rho = PK.encrypt_with_nonce(x)
        xp = x_point(A_SCALAR, B_SCALAR, x)
        for key in (SK, PK):
            proof = encelg.prove(
                key, RP, c, A, B, xp, x, rho, B_SCALAR, session_id=SID, prover_id=PID
            )
            accepted(proof, c, x=xp)
    accepted(algorithm_prove(C, A, B, X, X_PLAIN, RHO, B_SCALAR))


@settings(max_examples=5, deadline=None)
@given(a=st.integers(1, Q - 1), b=st.integers(1, Q - 1), x=st.integers(-(2**ELL), 2**ELL))
def test_honest_proofs_verify_for_any_witness(a: int, b: int, x: int) -> None:
    a_pt, b_pt, xp = SECP256K1.mul_base(a), SECP256K1.mul_base(b), x_point(a, b, x)
    if xp.is_identity():
        return
    c, rho = PK.encrypt_with_nonce(x)
    proof = encelg.prove(SK, RP, c, a_pt, b_pt, xp, x, rho, b, session_id=SID, prover_id=PID)
    accepted(proof, c, a_pt, b_pt, xp)


def test_full_size_3072_bit_round() -> None:
    pk3, sk3 = keypair_from_primes(P1536[0], P1536[1])
    rp3 = generate_ring_pedersen(P1536[2], P1536[3]).params
    assert pk3.n.bit_length() == rp3.n.bit_length() == 3072
    x = SECP256K1.random_scalar() >> 1
    c, rho = sk3.encrypt_with_nonce(x)
    xp = x_point(A_SCALAR, B_SCALAR, x)
    proof = encelg.prove(sk3, rp3, c, A, B, xp, x, rho, B_SCALAR, session_id=SID, prover_id=PID)
    data = proof.to_bytes(pk3.n, rp3.n)
    assert (
        len(data)
        == EncElgProof.encoded_length(pk3.n, rp3.n)
        == 2 * 384 + 768 + 2 * 33 + 384 + 32 + 97 + 481
    )
    decoded = EncElgProof.from_bytes(data, pk3.n, rp3.n)
    assert decoded == proof
    encelg.verify(pk3, rp3, c, A, B, xp, decoded, session_id=SID, prover_id=PID)
    with pytest.raises(InvalidProof) as info:
        encelg.verify(pk3, rp3, c, A, B, xp, decoded, session_id=SID + b"!", prover_id=PID)
    assert info.value.check == EQ_B


def test_challenge_is_in_plus_minus_q_and_bound_to_every_input() -> None:
    com = (PROOF.S, PROOF.T, PROOF.D, PROOF.Y, PROOF.Z)
    other = SECP256K1.mul_base(7)

    def ch(
        n0: int = PK.n,
        params: RingPedersenParams = RP,
        c: int = C,
        a: Point = A,
        b: Point = B,
        x: Point = X,
        commitment: tuple[int, int, int, Point, Point] = com,
        sid: bytes = SID,
        pid: int = PID,
    ) -> int:
        return encelg.derive_challenge(
            n0, params, c, a, b, x, commitment, session_id=sid, prover_id=pid
        )

    e = ch()
    assert -Q <= e <= Q
    s_, t_, d_, y_, z_ = com
    variants = [
        ch(n0=PK.n + 2),
        ch(params=RingPedersenParams(RP.n + 2, RP.s, RP.t)),
        ch(params=RingPedersenParams(RP.n, RP.t, RP.s)),
        ch(c=C + 1),
        ch(a=other),
        ch(b=other),
        ch(x=other),
        ch(a=B, b=A),
        ch(commitment=(s_ + 1, t_, d_, y_, z_)),
        ch(commitment=(s_, t_ + 1, d_, y_, z_)),
        ch(commitment=(s_, t_, d_ + 1, y_, z_)),
        ch(commitment=(s_, t_, d_, other, z_)),
        ch(commitment=(s_, t_, d_, y_, other)),
        ch(commitment=(s_, t_, d_, z_, y_)),
        ch(sid=SID + b"x"),
        ch(pid=PID + 1),
    ]
    assert e not in variants
    assert len(set(variants)) == len(variants)


# -- ranges ---------------------------------------------------------------------------------


def test_prover_refuses_out_of_range_or_inconsistent_witnesses() -> None:
    def refuses(**kw: object) -> None:
        args: dict[str, object] = {
            "key": SK,
            "verifier": RP,
            "ciphertext": C,
            "A": A,
            "B": B,
            "X": X,
            "x": X_PLAIN,
            "nonce": RHO,
            "b": B_SCALAR,
        }
        args.update(kw)
        with pytest.raises(InvalidParameters):
            encelg.prove(**args, session_id=SID, prover_id=PID)  # type: ignore[arg-type]

    for x in (2**ELL + 1, -(2**ELL) - 1):
        c, rho = PK.encrypt_with_nonce(x)
        refuses(ciphertext=c, x=x, nonce=rho, X=x_point(A_SCALAR, B_SCALAR, x))
    refuses(x=X_PLAIN + 1)  # X != b A + x G
    refuses(b=B_SCALAR + 1)  # B != b G
    for b in (0, Q, -1, True):
        refuses(b=b)
    for bad in (BAD_POINT, SECP256K1.identity, ED25519.generator):
        refuses(A=bad)
        refuses(B=bad)
        refuses(X=bad)
    refuses(nonce=0)
    refuses(verifier=RingPedersenParams(RP.n, 1, RP.t))
    with pytest.raises(InvalidParameters):
        encelg.prove(SK, RP, C, A, B, X, X_PLAIN, RHO, B_SCALAR, session_id=b"", prover_id=PID)


@pytest.mark.parametrize("x", [2 ** (ELL + EPSILON) + 1, -(2 ** (ELL + EPSILON)) - 1, 2**900])
def test_out_of_range_witness_fails_the_z1_range_check(x: int) -> None:
    c, rho = PK.encrypt_with_nonce(x)
    xp = x_point(A_SCALAR, B_SCALAR, x)
    proof = algorithm_prove(c, A, B, xp, x, rho, B_SCALAR)
    assert rejected(proof, ciphertext=c, x=xp) == "pi-enc-elg: z1 range"
    # All four equations hold: only the paper's range check catches it.
    assert equations_hold(proof, c, xp)


def test_slack_witness_still_passes() -> None:
    # What the proof guarantees is |x| <= 2^(ell+eps), not 2^ell (the slack eps).
    x = 2 ** (ELL + 100)
    c, rho = PK.encrypt_with_nonce(x)
    xp = x_point(A_SCALAR, B_SCALAR, x)
    accepted(algorithm_prove(c, A, B, xp, x, rho, B_SCALAR), c, x=xp)


def test_range_boundaries_are_inclusive_and_exact() -> None:
    bound = 2 ** (ELL + EPSILON)
    for value in (bound + 1, -bound - 1, 2**5000):
        assert rejected(dataclasses.replace(PROOF, z1=value)) == "pi-enc-elg: z1 range"
    assert rejected(dataclasses.replace(PROOF, z1=bound)) == EQ_X
    assert rejected(dataclasses.replace(PROOF, z1=-bound)) == EQ_X


def test_z3_size_cap_and_w_range() -> None:
    bd = Bounds.of(RP.n)
    for value in (bd.z3 + 1, -bd.z3 - 1):
        assert rejected(dataclasses.replace(PROOF, z3=value)) == "pi-enc-elg: z3 size"
    assert rejected(dataclasses.replace(PROOF, z3=-bd.z3)) == EQ_RP
    for value in (-1, Q, Q + PROOF.w, 2**256):
        assert rejected(dataclasses.replace(PROOF, w=value)) == "pi-enc-elg: w range"


def test_elements_must_be_units_and_points_valid() -> None:
    n0, n_hat = PK.n, RP.n
    for value in (0, n_hat, -1, P512[2], P512[3] * 3):
        assert rejected(dataclasses.replace(PROOF, S=value)) == "pi-enc-elg: S range"
        assert rejected(dataclasses.replace(PROOF, T=value)) == "pi-enc-elg: T range"
    for value in (0, PK.n_squared, P512[0], n0 * 3):
        assert rejected(dataclasses.replace(PROOF, D=value)) == "pi-enc-elg: D range"
    for value in (0, n0, -1, P512[1]):
        assert rejected(dataclasses.replace(PROOF, z2=value)) == "pi-enc-elg: z2 range"
    for value in (0, PK.n_squared, P512[0] * 5):
        assert rejected(PROOF, ciphertext=value) == "pi-enc-elg: C"
    for bad in (BAD_POINT, SECP256K1.identity, ED25519.generator):
        assert rejected(dataclasses.replace(PROOF, Y=bad)) == "pi-enc-elg: Y"
        assert rejected(dataclasses.replace(PROOF, Z=bad)) == "pi-enc-elg: Z"
        assert rejected(PROOF, a=bad) == "pi-enc-elg: A"
        assert rejected(PROOF, b=bad) == "pi-enc-elg: B"
        assert rejected(PROOF, x=bad) == "pi-enc-elg: X"


# -- tampering, binding ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "check"),
    [
        ("S", EQ_B),
        ("T", EQ_B),
        ("D", EQ_B),
        ("z1", EQ_X),
        ("w", EQ_B),
        ("z2", EQ_ENC),
        ("z3", EQ_RP),
    ],
)
def test_each_tampered_field_fails(field: str, check: str) -> None:
    value = getattr(PROOF, field)
    for delta in (1, -1):
        tampered = value + delta
        if field == "w":
            tampered %= Q
        assert rejected(dataclasses.replace(PROOF, **{field: tampered})) == check


def test_tampered_points_fail() -> None:
    for field in ("Y", "Z"):
        value = getattr(PROOF, field)
        for tampered in (value + GEN, -value):
            assert rejected(dataclasses.replace(PROOF, **{field: tampered})) == EQ_B


def test_wrong_session_prover_verifier_statement_fails() -> None:
    assert rejected(PROOF, sid=SID + b"x") == EQ_B
    assert rejected(PROOF, pid=PID - 1) == EQ_B
    same_modulus = generate_ring_pedersen(P512[2], P512[3]).params
    assert rejected(PROOF, params=same_modulus) == EQ_B
    other = generate_ring_pedersen(P512[4], P512[5]).params
    # S, T are residues mod the verifier's N̂ and z3's bound scales with N̂.
    assert rejected(PROOF, params=other) in (
        EQ_B,
        "pi-enc-elg: S range",
        "pi-enc-elg: T range",
        "pi-enc-elg: z3 size",
    )
    other_key = PaillierPublicKey(P512[6] * P512[7])
    # C, D and z2 are residues mod the prover's N0: any may fall outside the other key's.
    assert rejected(PROOF, key=other_key) in (
        EQ_B,
        "pi-enc-elg: C",
        "pi-enc-elg: D range",
        "pi-enc-elg: z2 range",
    )
    assert rejected(PROOF, a=A + GEN) == EQ_B
    assert rejected(PROOF, b=B + GEN) == EQ_B
    assert rejected(PROOF, x=X + GEN) == EQ_B
    assert rejected(PROOF, a=B, b=A) == EQ_B  # X = (ab + x) G is symmetric in a, b
    assert rejected(PROOF, ciphertext=PK.rerandomize(C)) == EQ_B
    assert rejected(PROOF, ciphertext=PK.encrypt(X_PLAIN)) == EQ_B


def test_witness_mismatches_fail_their_equation() -> None:
    # C encrypts x + 1 while X = (ab + x) G: the group and Paillier equations cannot
    # both hold; the prover's side is consistent with X, so Paillier fails.
    c_other, rho_other = PK.encrypt_with_nonce(X_PLAIN + 1)
    proof = encelg.prove(
        SK, RP, c_other, A, B, X, X_PLAIN, rho_other, B_SCALAR, session_id=SID, prover_id=PID
    )
    assert rejected(proof, ciphertext=c_other) == EQ_ENC
    # The Paillier side matches x + 1 but X = (ab + x) G.
    proof = algorithm_prove(c_other, A, B, X, X_PLAIN + 1, rho_other, B_SCALAR)
    assert rejected(proof, ciphertext=c_other) == EQ_X
    # A prover that does not know b (uses b + 1) fails the B equation.
    proof = algorithm_prove(C, A, B, X, X_PLAIN, RHO, B_SCALAR + 1)
    assert rejected(proof) == EQ_B


def test_parameter_and_key_checks() -> None:
    bad = RingPedersenParams(RP.n, 1, RP.t)
    assert rejected(PROOF, params=bad) == "pi-enc-elg: parameters"
    small = PaillierPublicKey(P512[0] * 3)
    assert rejected(PROOF, key=small) == "pi-enc-elg: N0"


# -- encoding -------------------------------------------------------------------------------


def test_encoding_round_trip_and_exact_length() -> None:
    n0, n_hat = PK.n, RP.n
    data = PROOF.to_bytes(n0, n_hat)
    length = EncElgProof.encoded_length(n0, n_hat)
    assert len(data) == length == 2 * 128 + 256 + 2 * 33 + 128 + 32 + 97 + 225
    assert EncElgProof.from_bytes(data, n0, n_hat) == PROOF
    for bad in (data[:-1], data + b"\x00", b""):
        with pytest.raises(InvalidEncoding):
            EncElgProof.from_bytes(bad, n0, n_hat)
    y_at = 2 * 128 + 256
    for at in (y_at, y_at + 33):
        for p in (b"\x00" * 33, b"\x04" + bytes(32), BAD_POINT.data, b"\x02" + b"\xff" * 32):
            with pytest.raises(InvalidEncoding):
                EncElgProof.from_bytes(data[:at] + p + data[at + 33 :], n0, n_hat)
    with pytest.raises(InvalidEncoding):  # T >= N-hat
        EncElgProof.from_bytes(data[:128] + n_hat.to_bytes(128, "big") + data[256:], n0, n_hat)
    w_at = y_at + 66 + 128
    with pytest.raises(InvalidEncoding):  # w >= q
        EncElgProof.from_bytes(data[:w_at] + Q.to_bytes(32, "big") + data[w_at + 32 :], n0, n_hat)
    for bad_proof in (
        dataclasses.replace(PROOF, Y=SECP256K1.identity),
        dataclasses.replace(PROOF, Z=SECP256K1.identity),
        dataclasses.replace(PROOF, z3=2**3000),
        dataclasses.replace(PROOF, w=Q),
        dataclasses.replace(PROOF, w=-1),
    ):
        with pytest.raises(InvalidEncoding):
            bad_proof.to_bytes(n0, n_hat)


@settings(max_examples=40)
@given(data=st.one_of(st.binary(max_size=1200), st.binary(min_size=1060, max_size=1060)))
def test_from_bytes_fuzz_raises_only_invalid_encoding(data: bytes) -> None:
    try:
        EncElgProof.from_bytes(data, PK.n, RP.n)
    except InvalidEncoding:
        pass


@settings(max_examples=15, deadline=None)
@given(index=st.integers(0, 10_000), flip=st.integers(1, 255))
def test_byte_flips_are_refused_or_rejected(index: int, flip: int) -> None:
    data = bytearray(PROOF.to_bytes(PK.n, RP.n))
    data[index % len(data)] ^= flip
    try:
        proof = EncElgProof.from_bytes(bytes(data), PK.n, RP.n)
    except InvalidEncoding:
        return
    with pytest.raises(InvalidProof):
        accepted(proof)
