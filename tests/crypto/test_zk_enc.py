"""Π_enc, Paillier encryption in range against the verifier's ring-Pedersen parameters
(docs/security.md items 13 and 14).

Moduli use TEST-ONLY pregenerated safe primes (tests/fixtures/cggmp_primes.json).
Most cases run on 1024-bit moduli (512-bit fixture primes): every check under test
(the z1 range, unit and size checks, both equations, the transcript binding) is
the same code at any size, and the range statement only needs N0 > 2^(ell+eps+1),
which 1024 bits satisfy. What the size buys is hardness (factoring N̂ breaks
soundness, factoring N0 breaks privacy), which no test can observe. One full
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

from shardvault.crypto.paillier import PaillierPublicKey, keypair_from_primes, sample_unit
from shardvault.crypto.ring_pedersen import RingPedersenParams, generate_ring_pedersen
from shardvault.crypto.zk import ELL, EPSILON, InvalidProof, Q, enc
from shardvault.crypto.zk.enc import Bounds, EncProof
from shardvault.errors import InvalidEncoding, InvalidParameters

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "cggmp_primes.json"
PRIMES = json.loads(FIXTURE.read_text())
P512 = [int(x, 16) for x in PRIMES["safe_primes_512"]]
P1536 = [int(x, 16) for x in PRIMES["safe_primes_1536"]]

SID = b"presign/session-17"
PID = 2

PK, SK = keypair_from_primes(P512[0], P512[1])  # prover, 1024-bit N0
RP = generate_ring_pedersen(P512[2], P512[3]).params  # the verifier's own parameters
K_PLAIN = secrets.randbelow(Q)
K, RHO = PK.encrypt_with_nonce(K_PLAIN)
PROOF = enc.prove(SK, RP, K, K_PLAIN, RHO, session_id=SID, prover_id=PID)

# Verification order: the ring-Pedersen equation (cheaper) before the Paillier one, so a
# proof checked under a different challenge fails EQ_RP first.
EQ_RP = "pi-enc: s^z1 t^z3 = C S^e"
EQ_ENC = "pi-enc: enc(z1; z2) = A K^e"


def rejected(
    proof: EncProof,
    *,
    key: PaillierPublicKey = PK,
    params: RingPedersenParams = RP,
    ciphertext: int = K,
    sid: bytes = SID,
    pid: int = PID,
) -> str:
    with pytest.raises(InvalidProof) as info:
        enc.verify(key, params, ciphertext, proof, session_id=sid, prover_id=pid)
    assert info.value.check.startswith("pi-enc: ")
    assert info.value.blame == ()
    return info.value.check


def accepted(proof: EncProof, ciphertext: int = K, key: PaillierPublicKey = PK) -> None:
    enc.verify(key, RP, ciphertext, proof, session_id=SID, prover_id=PID)


def pm(bound: int) -> int:
    return secrets.randbelow(2 * bound + 1) - bound


def algorithm_prove(
    key: PaillierPublicKey, params: RingPedersenParams, ciphertext: int, k: int, rho: int
) -> EncProof:
    """The paper's prover, written out independently and without the witness checks
    of ``enc.prove`` (so it also runs on out-of-range witnesses)."""
    n0, n0_sq = key.n, key.n_squared
    b = Bounds.of(params.n)
    alpha, mu, gamma = pm(b.z1), pm(b.mu), pm(b.gamma)
    r = sample_unit(n0)
    big_s = params.commit(k, mu)
    big_a = (1 + alpha % n0 * n0) * int(gmpy2.powmod(r, n0, n0_sq)) % n0_sq
    big_c = params.commit(alpha, gamma)
    e = enc.derive_challenge(
        n0, params, ciphertext, (big_s, big_a, big_c), session_id=SID, prover_id=PID
    )
    z2 = r * int(gmpy2.powmod(rho, e, n0)) % n0
    return EncProof(big_s, big_a, big_c, alpha + e * k, z2, gamma + e * mu)


def equations_hold(proof: EncProof, ciphertext: int = K) -> bool:
    """Both verification equations, without any range check."""
    n0, n0_sq, n_hat = PK.n, PK.n_squared, RP.n
    e = enc.derive_challenge(
        n0, RP, ciphertext, (proof.S, proof.A, proof.C), session_id=SID, prover_id=PID
    )
    lhs1 = (1 + proof.z1 % n0 * n0) * int(gmpy2.powmod(proof.z2, n0, n0_sq)) % n0_sq
    rhs1 = proof.A * int(gmpy2.powmod(ciphertext, e, n0_sq)) % n0_sq
    rhs2 = proof.C * int(gmpy2.powmod(proof.S, e, n_hat)) % n_hat
    return lhs1 == rhs1 and RP.commit(proof.z1, proof.z3) == rhs2


# -- honest provers -------------------------------------------------------------------------


def test_honest_proofs_verify() -> None:
    accepted(PROOF)
    for k in (0, 1, -1, Q - 1, 2**ELL, -(2**ELL)):
        c, rho = PK.encrypt_with_nonce(k)
        accepted(enc.prove(SK, RP, c, k, rho, session_id=SID, prover_id=PID), c)  # CRT
        accepted(enc.prove(PK, RP, c, k, rho, session_id=SID, prover_id=PID), c)  # public key
    # The test's independent prover agrees with the module's verifier.
    accepted(algorithm_prove(PK, RP, K, K_PLAIN, RHO))


@settings(max_examples=8)
@given(k=st.integers(-(2**ELL), 2**ELL))
def test_honest_proofs_verify_for_any_plaintext_in_range(k: int) -> None:
    c, rho = PK.encrypt_with_nonce(k)
    accepted(enc.prove(SK, RP, c, k, rho, session_id=SID, prover_id=PID), c)


def test_full_size_3072_bit_round() -> None:
    pk3, sk3 = keypair_from_primes(P1536[0], P1536[1])
    rp3 = generate_ring_pedersen(P1536[2], P1536[3]).params
    assert pk3.n.bit_length() == rp3.n.bit_length() == 3072
    k = secrets.randbelow(Q)
    c, rho = sk3.encrypt_with_nonce(k)
    proof = enc.prove(sk3, rp3, c, k, rho, session_id=SID, prover_id=PID)
    data = proof.to_bytes(pk3.n, rp3.n)
    assert len(data) == EncProof.encoded_length(pk3.n, rp3.n) == 2 * 384 + 768 + 384 + 97 + 481
    decoded = EncProof.from_bytes(data, pk3.n, rp3.n)
    assert decoded == proof
    enc.verify(pk3, rp3, c, decoded, session_id=SID, prover_id=PID)
    with pytest.raises(InvalidProof) as info:
        enc.verify(pk3, rp3, c, decoded, session_id=SID, prover_id=PID + 1)
    assert info.value.check == EQ_RP
    assert abs(proof.z1).bit_length() <= ELL + EPSILON


def test_bounds_are_the_papers() -> None:
    b = Bounds.of(RP.n)
    assert (ELL, EPSILON) == (256, 512)
    assert b.z1 == 2 ** (ELL + EPSILON)
    assert b.mu == 2**ELL * RP.n
    assert b.gamma == 2 ** (ELL + EPSILON) * RP.n
    assert b.z3 == b.gamma + Q * b.mu
    assert enc.MIN_N0 == 2 ** (ELL + EPSILON + 1)


def test_challenge_is_in_plus_minus_q_and_bound_to_every_input() -> None:
    com = (PROOF.S, PROOF.A, PROOF.C)

    def ch(
        n0: int = PK.n,
        params: RingPedersenParams = RP,
        c: int = K,
        commitment: tuple[int, int, int] = com,
        sid: bytes = SID,
        pid: int = PID,
    ) -> int:
        return enc.derive_challenge(n0, params, c, commitment, session_id=sid, prover_id=pid)

    e = ch()
    assert -Q <= e <= Q
    variants = [
        ch(n0=PK.n + 2),
        ch(params=RingPedersenParams(RP.n + 2, RP.s, RP.t)),
        ch(params=RingPedersenParams(RP.n, RP.t, RP.s)),
        ch(params=RingPedersenParams(RP.n, RP.s, RP.t + 1)),
        ch(c=K + 1),
        ch(commitment=(com[0] + 1, com[1], com[2])),
        ch(commitment=(com[0], com[1] + 1, com[2])),
        ch(commitment=(com[0], com[1], com[2] + 1)),
        ch(sid=SID + b"x"),
        ch(pid=PID + 1),
    ]
    assert e not in variants
    assert len(set(variants)) == len(variants)


# -- ranges ---------------------------------------------------------------------------------


def test_prover_refuses_a_plaintext_outside_2_to_ell() -> None:
    for k in (2**ELL + 1, -(2**ELL) - 1, 2 ** (ELL + EPSILON) + 1):
        c, rho = PK.encrypt_with_nonce(k)
        with pytest.raises(InvalidParameters):
            enc.prove(SK, RP, c, k, rho, session_id=SID, prover_id=PID)


@pytest.mark.parametrize(
    "k", [2 ** (ELL + EPSILON) + 1, -(2 ** (ELL + EPSILON)) - 1, 2**900, -(2**1000)]
)
def test_out_of_range_plaintext_fails_the_z1_range_check(k: int) -> None:
    c, rho = PK.encrypt_with_nonce(k)
    proof = algorithm_prove(PK, RP, c, k, rho)
    assert rejected(proof, ciphertext=c) == "pi-enc: z1 range"
    # The equations hold: only the paper's range check catches it.
    assert equations_hold(proof, c)


def test_the_slack_epsilon_is_real() -> None:
    # The proof guarantees |k| <= 2^(ell+eps), not 2^ell: a plaintext of ell + 100 bits
    # still passes (|e k| <= 2^612 hides in alpha's 2^768 range).
    k = 2 ** (ELL + 100)
    c, rho = PK.encrypt_with_nonce(k)
    accepted(algorithm_prove(PK, RP, c, k, rho), c)


def test_range_boundaries_are_inclusive_and_exact() -> None:
    bound = 2 ** (ELL + EPSILON)
    for value in (bound + 1, -bound - 1, 2**5000):
        assert rejected(dataclasses.replace(PROOF, z1=value)) == "pi-enc: z1 range"
    # At the bound the range check passes and the equations decide.
    assert rejected(dataclasses.replace(PROOF, z1=bound)) == EQ_RP
    assert rejected(dataclasses.replace(PROOF, z1=-bound)) == EQ_RP


def test_z3_size_cap() -> None:
    b = Bounds.of(RP.n)
    for value in (b.z3 + 1, -b.z3 - 1):
        assert rejected(dataclasses.replace(PROOF, z3=value)) == "pi-enc: z3 size"
    assert rejected(dataclasses.replace(PROOF, z3=b.z3)) == EQ_RP


def test_elements_must_be_units() -> None:
    n0, n_hat = PK.n, RP.n
    for field in "SC":
        for value in (0, n_hat, n_hat + 1, -1, P512[2], P512[3] * 5):
            assert rejected(dataclasses.replace(PROOF, **{field: value})) == (
                f"pi-enc: {field} range"
            )
    for value in (0, PK.n_squared, -1, P512[0], n0 * 7):
        assert rejected(dataclasses.replace(PROOF, A=value)) == "pi-enc: A range"
    for value in (0, n0, n0 + 1, -1, P512[1]):
        assert rejected(dataclasses.replace(PROOF, z2=value)) == "pi-enc: z2 range"
    for value in (0, PK.n_squared, P512[0] * 3, -K):
        assert rejected(PROOF, ciphertext=value) == "pi-enc: K"


# -- tampering, binding ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "check"),
    [("S", EQ_RP), ("A", EQ_RP), ("C", EQ_RP), ("z1", EQ_RP), ("z2", EQ_ENC), ("z3", EQ_RP)],
)
def test_each_tampered_field_fails(field: str, check: str) -> None:
    value = getattr(PROOF, field)
    for delta in (1, -1):
        assert rejected(dataclasses.replace(PROOF, **{field: value + delta})) == check


def test_wrong_session_prover_verifier_or_ciphertext_fails() -> None:
    assert rejected(PROOF, sid=SID + b"x") == EQ_RP
    assert rejected(PROOF, sid=SID[:-1]) == EQ_RP
    assert rejected(PROOF, pid=PID + 1) == EQ_RP
    # Another verifier's parameters: same modulus with fresh s, t, or another modulus.
    same_modulus = generate_ring_pedersen(P512[2], P512[3]).params
    assert rejected(PROOF, params=same_modulus) == EQ_RP
    other = generate_ring_pedersen(P512[4], P512[5]).params
    # S, C are residues mod the verifier's N̂ and z3's bound scales with N̂: any may
    # fail first under another modulus, depending on the random proof.
    assert rejected(PROOF, params=other) in (
        EQ_RP,
        "pi-enc: S range",
        "pi-enc: C range",
        "pi-enc: z3 size",
    )
    # Another ciphertext: same plaintext re-randomized, another plaintext, another key.
    assert rejected(PROOF, ciphertext=PK.rerandomize(K)) == EQ_RP
    assert rejected(PROOF, ciphertext=PK.encrypt(K_PLAIN + 1)) == EQ_RP
    other_pk, _ = keypair_from_primes(P512[6], P512[7])
    assert rejected(PROOF, key=other_pk, ciphertext=other_pk.encrypt(K_PLAIN)) in (
        EQ_RP,
        "pi-enc: A range",
        "pi-enc: z2 range",
    )


def test_wrong_witness_fails() -> None:
    wrong_k = enc.prove(SK, RP, K, K_PLAIN + 1, RHO, session_id=SID, prover_id=PID)
    assert rejected(wrong_k) == EQ_ENC  # S commits to the wrong k consistently
    wrong_rho = enc.prove(SK, RP, K, K_PLAIN, sample_unit(PK.n), session_id=SID, prover_id=PID)
    assert rejected(wrong_rho) == EQ_ENC


def test_parameter_and_input_checks() -> None:
    bad = RingPedersenParams(RP.n, RP.n - 1, RP.t)
    assert rejected(PROOF, params=bad) == "pi-enc: parameters"
    small = PaillierPublicKey(P512[0] * 3)  # 514 bits: N0 <= 2^(ell+eps+1)
    assert rejected(PROOF, key=small, ciphertext=2) == "pi-enc: N0"
    with pytest.raises(InvalidProof) as info:
        enc.verify(PK.n, RP, K, PROOF, session_id=SID, prover_id=PID)  # type: ignore[arg-type]
    assert info.value.check == "pi-enc: N0"
    kw = {"session_id": SID, "prover_id": PID}
    cases = [
        (SK, bad, K, K_PLAIN, RHO, kw),
        (SK, RP, K, K_PLAIN, RHO, {"session_id": b"", "prover_id": PID}),
        (SK, RP, K, K_PLAIN, RHO, {"session_id": SID, "prover_id": -1}),
        (SK, RP, 0, K_PLAIN, RHO, kw),
        (SK, RP, K, K_PLAIN, 0, kw),
        (SK, RP, K, K_PLAIN, P512[0], kw),
        (SK, RP, K, True, RHO, kw),
        (small, RP, 2, K_PLAIN, 1, kw),
    ]
    for key, params, c, k, rho, kwargs in cases:
        with pytest.raises(InvalidParameters):
            enc.prove(key, params, c, k, rho, **kwargs)  # type: ignore[arg-type]


def test_errors_do_not_reveal_the_witness() -> None:
    k = 2**ELL + 12345
    c, rho = PK.encrypt_with_nonce(k)
    with pytest.raises(InvalidParameters) as info:
        enc.prove(SK, RP, c, k, rho, session_id=SID, prover_id=PID)
    assert str(k) not in str(info.value) and hex(k)[2:] not in str(info.value)


# -- encoding -------------------------------------------------------------------------------


def test_encoding_round_trip_and_exact_length() -> None:
    n0, n_hat = PK.n, RP.n
    data = PROOF.to_bytes(n0, n_hat)
    assert len(data) == EncProof.encoded_length(n0, n_hat) == 2 * 128 + 256 + 128 + 97 + 225
    assert EncProof.from_bytes(data, n0, n_hat) == PROOF
    for bad in (data[:-1], data + b"\x00", b""):
        with pytest.raises(InvalidEncoding):
            EncProof.from_bytes(bad, n0, n_hat)
    with pytest.raises(InvalidEncoding):  # S >= N-hat
        EncProof.from_bytes(n_hat.to_bytes(128, "big") + data[128:], n0, n_hat)
    with pytest.raises(InvalidEncoding):  # A >= N0^2
        EncProof.from_bytes(data[:256] + PK.n_squared.to_bytes(256, "big") + data[512:], n0, n_hat)
    with pytest.raises(InvalidEncoding):  # z2 >= N0
        EncProof.from_bytes(data[:512] + n0.to_bytes(128, "big") + data[640:], n0, n_hat)
    with pytest.raises(InvalidEncoding):  # does not fit its field
        dataclasses.replace(PROOF, z1=2**800).to_bytes(n0, n_hat)
    with pytest.raises(InvalidEncoding):
        dataclasses.replace(PROOF, A=-1).to_bytes(n0, n_hat)
    with pytest.raises(InvalidEncoding):
        EncProof.from_bytes(bytearray(data), n0, n_hat)  # type: ignore[arg-type]


def test_negative_extremes_survive_encoding() -> None:
    b = Bounds.of(RP.n)
    for z1, z3 in ((-b.z1, -b.z3), (b.z1, b.z3)):
        extreme = dataclasses.replace(PROOF, z1=z1, z3=z3)
        assert EncProof.from_bytes(extreme.to_bytes(PK.n, RP.n), PK.n, RP.n) == extreme


@settings(max_examples=40)
@given(data=st.binary(max_size=1200))
def test_from_bytes_fuzz_raises_only_invalid_encoding(data: bytes) -> None:
    try:
        EncProof.from_bytes(data, PK.n, RP.n)
    except InvalidEncoding:
        pass


@settings(max_examples=15)
@given(data=st.binary(min_size=962, max_size=962))
def test_random_proofs_of_the_right_length_are_refused_or_rejected(data: bytes) -> None:
    try:
        proof = EncProof.from_bytes(data, PK.n, RP.n)
    except InvalidEncoding:
        return
    with pytest.raises(InvalidProof):
        accepted(proof)


@settings(max_examples=15)
@given(index=st.integers(0, 10_000), flip=st.integers(1, 255))
def test_byte_flips_are_refused_or_rejected(index: int, flip: int) -> None:
    data = bytearray(PROOF.to_bytes(PK.n, RP.n))
    data[index % len(data)] ^= flip
    try:
        proof = EncProof.from_bytes(bytes(data), PK.n, RP.n)
    except InvalidEncoding:
        return
    with pytest.raises(InvalidProof):
        accepted(proof)
