"""Π_sch, Schnorr proof of knowledge over secp256k1: non-interactive and commit-first
(docs/security.md items 5, 6, 8, 14 and 21)."""

from __future__ import annotations

import copy
import dataclasses
import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shardvault.crypto.groups import ED25519, SECP256K1, Point
from shardvault.crypto.zk import InvalidProof, Q, sch
from shardvault.crypto.zk.sch import SchCommitment, SchNonce, SchProof, SchResponse
from shardvault.errors import InvalidEncoding, InvalidParameters, NonceReused

SID = b"keygen/session-4/rid-0123456789abcdef"
PID = 1
GEN = SECP256K1.generator
X_SECRET = SECP256K1.random_scalar()
X = SECP256K1.mul_base(X_SECRET)
PROOF = sch.prove(X_SECRET, session_id=SID, prover_id=PID)
EQ = "pi-sch: z g = A + e X"
BAD_POINT = Point(SECP256K1, b"\x02" + (5).to_bytes(32, "big"))  # x = 5 is not on the curve


def rejected(
    proof: SchProof,
    *,
    x_point: Point = X,
    g: Point = GEN,
    sid: bytes = SID,
    pid: int = PID,
) -> str:
    with pytest.raises(InvalidProof) as info:
        sch.verify(x_point, proof, g=g, session_id=sid, prover_id=pid)
    assert info.value.check.startswith("pi-sch: ")
    assert info.value.blame == ()
    return info.value.check


# -- honest provers -------------------------------------------------------------------------


def test_honest_proof_verifies() -> None:
    sch.verify(X, PROOF, session_id=SID, prover_id=PID)
    assert SchProof.from_bytes(PROOF.to_bytes()) == PROOF
    assert len(PROOF.to_bytes()) == SchProof.ENCODED_LENGTH == 65


@settings(max_examples=25)
@given(x=st.integers(1, Q - 1), base=st.integers(1, Q - 1), pid=st.integers(0, 2**32 - 1))
def test_honest_proofs_verify_for_any_secret_and_base(x: int, base: int, pid: int) -> None:
    g = SECP256K1.mul_base(base)
    proof = sch.prove(x, g=g, session_id=SID, prover_id=pid)
    sch.verify(g * x, proof, g=g, session_id=SID, prover_id=pid)
    assert rejected(proof, x_point=g * x, g=g, pid=pid ^ 1) == EQ


def test_commit_first_then_respond() -> None:
    nonce = sch.commit()
    sent_first = nonce.commitment.to_bytes()  # round 1: A (or a hash of it)
    assert len(sent_first) == 33
    # ... later rounds fix rid, so the challenge binds it through the session id.
    response = sch.respond(nonce, X_SECRET, session_id=SID + b"/rid", prover_id=PID)
    sent_later = response.to_bytes()
    assert len(sent_later) == 32
    commitment = SchCommitment.from_bytes(sent_first)
    received = SchResponse.from_bytes(sent_later)
    sch.verify_response(X, commitment, received, session_id=SID + b"/rid", prover_id=PID)
    proof = SchProof.from_parts(commitment, received)
    sch.verify(X, proof, session_id=SID + b"/rid", prover_id=PID)
    assert rejected(proof) == EQ  # the session id without rid


def test_commit_first_with_another_base() -> None:
    g = SECP256K1.mul_base(12345)
    nonce = sch.commit(g=g)
    assert nonce.g == g
    response = sch.respond(nonce, X_SECRET, session_id=SID, prover_id=PID)
    sch.verify_response(
        g * X_SECRET, nonce.commitment, response, g=g, session_id=SID, prover_id=PID
    )
    with pytest.raises(InvalidProof):  # the generator is not the base the nonce committed to
        sch.verify_response(X, nonce.commitment, response, session_id=SID, prover_id=PID)


def test_a_nonce_answers_exactly_one_challenge() -> None:
    nonce = sch.commit()
    assert not nonce.used
    sch.respond(nonce, X_SECRET, session_id=SID, prover_id=PID)
    assert nonce.used
    with pytest.raises(NonceReused) as info:
        sch.respond(nonce, X_SECRET, session_id=SID + b"2", prover_id=PID)
    assert info.value.check == "pi-sch: nonce reuse"
    # Input errors do not consume the nonce.
    fresh = sch.commit()
    for bad in (0, Q, -1, True):
        with pytest.raises(InvalidParameters):
            sch.respond(fresh, bad, session_id=SID, prover_id=PID)
    with pytest.raises(InvalidParameters):
        sch.respond(fresh, X_SECRET, session_id=b"", prover_id=PID)
    assert not fresh.used
    sch.respond(fresh, X_SECRET, session_id=SID, prover_id=PID)


def test_nonce_secret_is_hidden_and_not_copyable() -> None:
    nonce = sch.commit()
    alpha = nonce._alpha
    assert alpha is not None
    text = repr(nonce)
    assert "secret hidden" in text
    assert str(alpha) not in text and f"{alpha:x}" not in text and f"{alpha:064x}" not in text
    for clone in (copy.copy, copy.deepcopy, pickle.dumps):
        with pytest.raises(TypeError):
            clone(nonce)
    with pytest.raises(InvalidParameters):
        sch.respond(object(), X_SECRET, session_id=SID, prover_id=PID)  # type: ignore[arg-type]


def test_two_responses_to_one_commitment_would_reveal_the_secret() -> None:
    # Why single use matters: z1 - z2 = (e1 - e2) x. Simulated here with the internals.
    nonce = sch.commit()
    alpha = nonce._alpha
    assert alpha is not None
    a = nonce.commitment.A
    e1 = sch.derive_challenge(X, a, g=GEN, session_id=SID, prover_id=PID)
    e2 = sch.derive_challenge(X, a, g=GEN, session_id=SID + b"'", prover_id=PID)
    z1, z2 = (alpha + e1 * X_SECRET) % Q, (alpha + e2 * X_SECRET) % Q
    assert (z1 - z2) * pow(e1 - e2, -1, Q) % Q == X_SECRET


def test_prover_input_checks() -> None:
    for bad in (0, Q, Q + 1, -1, True):
        with pytest.raises(InvalidParameters):
            sch.prove(bad, session_id=SID, prover_id=PID)
    for g in (SECP256K1.identity, BAD_POINT, ED25519.generator):
        with pytest.raises(InvalidParameters):
            sch.prove(X_SECRET, g=g, session_id=SID, prover_id=PID)
        with pytest.raises(InvalidParameters):
            sch.commit(g=g)
    with pytest.raises(InvalidParameters):
        sch.prove(X_SECRET, session_id=SID, prover_id=2**32)
    with pytest.raises(InvalidParameters):
        SchNonce(SECP256K1.identity)


# -- verifier checks ------------------------------------------------------------------------


def test_challenge_is_in_f_q_and_bound_to_every_input() -> None:
    a = PROOF.A
    other = SECP256K1.mul_base(99)
    e = sch.derive_challenge(X, a, g=GEN, session_id=SID, prover_id=PID)
    assert 0 <= e < Q
    variants = [
        sch.derive_challenge(other, a, g=GEN, session_id=SID, prover_id=PID),
        sch.derive_challenge(X, other, g=GEN, session_id=SID, prover_id=PID),
        sch.derive_challenge(X, a, g=other, session_id=SID, prover_id=PID),
        sch.derive_challenge(a, X, g=GEN, session_id=SID, prover_id=PID),
        sch.derive_challenge(X, a, g=GEN, session_id=SID + b"x", prover_id=PID),
        sch.derive_challenge(X, a, g=GEN, session_id=SID, prover_id=PID + 1),
    ]
    assert e not in variants
    assert len(set(variants)) == len(variants)


def test_tampered_proof_fails() -> None:
    for z in ((PROOF.z + 1) % Q, (PROOF.z - 1) % Q, 0):
        assert rejected(dataclasses.replace(PROOF, z=z)) == EQ
    assert rejected(dataclasses.replace(PROOF, A=PROOF.A + GEN)) == EQ
    assert rejected(dataclasses.replace(PROOF, A=-PROOF.A)) == EQ


def test_wrong_session_prover_statement_or_base_fails() -> None:
    assert rejected(PROOF, sid=SID + b"x") == EQ
    assert rejected(PROOF, pid=PID + 1) == EQ
    assert rejected(PROOF, x_point=X + GEN) == EQ
    assert rejected(PROOF, x_point=-X) == EQ
    g2 = SECP256K1.mul_base(3)
    assert rejected(PROOF, x_point=g2 * X_SECRET, g=g2) == EQ


def test_points_and_scalars_are_validated() -> None:
    for bad in (SECP256K1.identity, BAD_POINT, ED25519.generator):
        assert rejected(PROOF, g=bad) == "pi-sch: g"
        assert rejected(PROOF, x_point=bad) == "pi-sch: X"
        assert rejected(dataclasses.replace(PROOF, A=bad)) == "pi-sch: A"
    for z in (Q, Q + PROOF.z, -1, PROOF.z - Q, True):
        assert rejected(dataclasses.replace(PROOF, z=z)) == "pi-sch: z range"


def test_known_answer_forgery_without_the_secret_fails() -> None:
    # Classic forgery attempt: pick z, e' and set A = z g - e' X; the real challenge differs.
    z = SECP256K1.random_scalar()
    forged = SchProof(SECP256K1.mul_base(z) - X * 5, z)
    assert rejected(forged) == EQ


# -- encoding -------------------------------------------------------------------------------


def test_encodings_are_exact() -> None:
    data = PROOF.to_bytes()
    assert data == PROOF.A.data + PROOF.z.to_bytes(32, "big")
    for bad in (data[:-1], data + b"\x00", b"", bytes(65)):
        with pytest.raises(InvalidEncoding):
            SchProof.from_bytes(bad)
    with pytest.raises(InvalidEncoding):  # z = q is not canonical
        SchProof.from_bytes(data[:33] + Q.to_bytes(32, "big"))
    with pytest.raises(InvalidEncoding):
        SchProof.from_bytes(BAD_POINT.data + data[33:])
    with pytest.raises(InvalidEncoding):
        SchProof.from_bytes(bytearray(data))  # type: ignore[arg-type]
    for z in (Q, -1):
        with pytest.raises(InvalidEncoding):
            dataclasses.replace(PROOF, z=z).to_bytes()
        with pytest.raises(InvalidEncoding):
            SchResponse(z).to_bytes()
    with pytest.raises(InvalidEncoding):
        dataclasses.replace(PROOF, A=SECP256K1.identity).to_bytes()
    with pytest.raises(InvalidEncoding):
        SchCommitment.from_bytes(b"\x02" + bytes(31))
    with pytest.raises(InvalidEncoding):
        SchResponse.from_bytes(Q.to_bytes(32, "big"))
    with pytest.raises(InvalidEncoding):
        SchResponse.from_bytes("00" * 32)  # type: ignore[arg-type]


@settings(max_examples=60)
@given(data=st.binary(max_size=80))
def test_from_bytes_fuzz_raises_only_invalid_encoding(data: bytes) -> None:
    for decode in (SchProof.from_bytes, SchCommitment.from_bytes, SchResponse.from_bytes):
        try:
            decode(data)
        except InvalidEncoding:
            pass


@settings(max_examples=40)
@given(data=st.binary(min_size=65, max_size=65))
def test_random_proofs_are_refused_or_rejected(data: bytes) -> None:
    try:
        proof = SchProof.from_bytes(data)
    except InvalidEncoding:
        return
    assert rejected(proof) == EQ


@settings(max_examples=30)
@given(index=st.integers(0, 64), flip=st.integers(1, 255))
def test_byte_flips_are_refused_or_rejected(index: int, flip: int) -> None:
    data = bytearray(PROOF.to_bytes())
    data[index] ^= flip
    try:
        proof = SchProof.from_bytes(bytes(data))
    except InvalidEncoding:
        return
    assert rejected(proof) == EQ
