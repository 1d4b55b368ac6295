"""Π_elog, discrete log with El-Gamal commitment over secp256k1 (docs/security.md items 5,
7 and 14). A pure group proof: no Paillier modulus, so no size question arises.
"""

from __future__ import annotations

import dataclasses
import secrets
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shardvault.crypto.groups import ED25519, SECP256K1, Point
from shardvault.crypto.zk import InvalidProof, Q, elog
from shardvault.crypto.zk.elog import ElogProof
from shardvault.errors import InvalidEncoding, InvalidParameters

SID = b"presign/session-17/round-2"
PID = 5
GEN = SECP256K1.generator

Y_SECRET = SECP256K1.random_scalar()
LAM = SECP256K1.random_scalar()
X = SECP256K1.mul_base(SECP256K1.random_scalar())  # the El-Gamal public key
H = SECP256K1.mul_base(SECP256K1.random_scalar())  # the base of Y (Gamma in presigning)
L = GEN * LAM
M = GEN * Y_SECRET + X * LAM
Y = H * Y_SECRET
PROOF = elog.prove(L, M, X, Y, Y_SECRET, LAM, h=H, session_id=SID, prover_id=PID)

EQ_L = "pi-elog: z G = A + e L"
EQ_M = "pi-elog: u G + z X = N + e M"
EQ_Y = "pi-elog: u h = B + e Y"
BAD_POINT = Point(SECP256K1, b"\x02" + (5).to_bytes(32, "big"))  # x = 5 is not on the curve
STATEMENT = {"L": L, "M": M, "X": X, "Y": Y, "h": H}


def rejected(
    proof: ElogProof, points: dict[str, Point] | None = None, *, sid: bytes = SID, pid: int = PID
) -> str:
    st_ = {**STATEMENT, **(points or {})}
    with pytest.raises(InvalidProof) as info:
        elog.verify(
            st_["L"], st_["M"], st_["X"], st_["Y"], proof, h=st_["h"], session_id=sid, prover_id=pid
        )
    assert info.value.check.startswith("pi-elog: ")
    assert info.value.blame == ()
    return info.value.check


def accepted(proof: ElogProof, points: dict[str, Point] | None = None) -> None:
    st_ = {**STATEMENT, **(points or {})}
    elog.verify(
        st_["L"], st_["M"], st_["X"], st_["Y"], proof, h=st_["h"], session_id=SID, prover_id=PID
    )


def algorithm_prove(
    l_pt: Point, m_pt: Point, x_pt: Point, y_pt: Point, h: Point, y: int, lam: int
) -> ElogProof:
    """The paper's prover, written out independently and without the witness checks
    of ``elog.prove`` (so it also runs on mismatched witnesses)."""
    alpha, m = secrets.randbelow(Q - 1) + 1, secrets.randbelow(Q - 1) + 1
    big_a, big_n, big_b = GEN * alpha, GEN * m + x_pt * alpha, h * m
    e = elog.derive_challenge(
        l_pt, m_pt, x_pt, y_pt, h, (big_a, big_n, big_b), session_id=SID, prover_id=PID
    )
    return ElogProof(big_a, big_n, big_b, (alpha + e * lam) % Q, (m + e * y) % Q)


def replaced(proof: ElogProof, field: str, value: object) -> ElogProof:
    changes: dict[str, Any] = {field: value}
    return dataclasses.replace(proof, **changes)


# -- honest provers -------------------------------------------------------------------------


def test_honest_proofs_verify() -> None:
    accepted(PROOF)
    accepted(algorithm_prove(L, M, X, Y, H, Y_SECRET, LAM))
    # h = G (Y = y G), and the extreme scalars.
    for y, lam in ((1, 1), (Q - 1, Q - 1), (Y_SECRET, 1)):
        pts = {"L": GEN * lam, "M": GEN * y + X * lam, "X": X, "Y": GEN * y, "h": GEN}
        proof = elog.prove(
            pts["L"], pts["M"], X, pts["Y"], y, lam, h=GEN, session_id=SID, prover_id=PID
        )
        accepted(proof, pts)


@settings(max_examples=10)
@given(y=st.integers(1, Q - 1), lam=st.integers(1, Q - 1), k=st.integers(1, Q - 1))
def test_honest_proofs_verify_for_any_witness(y: int, lam: int, k: int) -> None:
    x_pt = GEN * k
    m_pt = GEN * y + x_pt * lam
    if m_pt.is_identity():
        return
    pts = {"L": GEN * lam, "M": m_pt, "X": x_pt, "Y": H * y, "h": H}
    proof = elog.prove(pts["L"], m_pt, x_pt, pts["Y"], y, lam, h=H, session_id=SID, prover_id=PID)
    accepted(proof, pts)
    assert ElogProof.from_bytes(proof.to_bytes()) == proof


def test_challenge_is_in_zq_and_bound_to_every_input() -> None:
    com = (PROOF.A, PROOF.N, PROOF.B)
    other = SECP256K1.mul_base(7)

    def ch(
        pts: dict[str, Point] | None = None,
        commitment: tuple[Point, Point, Point] = com,
        sid: bytes = SID,
        pid: int = PID,
    ) -> int:
        p = {**STATEMENT, **(pts or {})}
        return elog.derive_challenge(
            p["L"], p["M"], p["X"], p["Y"], p["h"], commitment, session_id=sid, prover_id=pid
        )

    e = ch()
    assert 0 <= e < Q
    variants = [ch({name: other}) for name in STATEMENT]
    variants += [
        ch({"L": M, "M": L}),
        ch({"Y": H, "h": Y}),
        ch(commitment=(other, com[1], com[2])),
        ch(commitment=(com[0], other, com[2])),
        ch(commitment=(com[0], com[1], other)),
        ch(commitment=(com[1], com[0], com[2])),
        ch(sid=SID + b"x"),
        ch(pid=PID + 1),
    ]
    assert e not in variants
    assert len(set(variants)) == len(variants)


# -- prover refusals ------------------------------------------------------------------------


def test_prover_refuses_bad_or_inconsistent_witnesses() -> None:
    def refuses(y: int = Y_SECRET, lam: int = LAM, points: dict[str, Point] | None = None) -> None:
        p = {**STATEMENT, **(points or {})}
        with pytest.raises(InvalidParameters):
            elog.prove(
                p["L"], p["M"], p["X"], p["Y"], y, lam, h=p["h"], session_id=SID, prover_id=PID
            )

    refuses(y=Y_SECRET + 1)  # M and Y do not match
    refuses(lam=LAM + 1)  # L does not match
    refuses(points={"Y": Y + GEN})
    refuses(points={"M": M + GEN})
    for bad_scalar in (0, Q, -1, Q + Y_SECRET):
        refuses(y=bad_scalar)
        refuses(lam=bad_scalar)
    for bad in (BAD_POINT, SECP256K1.identity, ED25519.generator):
        for name in STATEMENT:
            refuses(points={name: bad})
    with pytest.raises(InvalidParameters):
        elog.prove(L, M, X, Y, Y_SECRET, LAM, h=H, session_id=b"", prover_id=PID)
    with pytest.raises(InvalidParameters):
        elog.prove(L, M, X, Y, Y_SECRET, LAM, h=H, session_id=SID, prover_id=-1)


# -- verifier checks ------------------------------------------------------------------------


def test_points_must_be_valid() -> None:
    for bad in (BAD_POINT, SECP256K1.identity, ED25519.generator):
        for name in STATEMENT:
            assert rejected(PROOF, {name: bad}) == f"pi-elog: {name}"
        for field in ("A", "N", "B"):
            assert rejected(replaced(PROOF, field, bad)) == f"pi-elog: {field}"


def test_responses_must_be_canonical_scalars() -> None:
    for value in (-1, Q, Q + PROOF.z, 2**256):
        assert rejected(dataclasses.replace(PROOF, z=value)) == "pi-elog: z range"
        assert rejected(dataclasses.replace(PROOF, u=value)) == "pi-elog: u range"


@pytest.mark.parametrize(
    ("field", "check"),
    [("A", EQ_L), ("N", EQ_L), ("B", EQ_L), ("z", EQ_L), ("u", EQ_M)],
)
def test_each_tampered_field_fails(field: str, check: str) -> None:
    value = getattr(PROOF, field)
    tampered = [(value + 1) % Q, (value - 1) % Q] if field in "zu" else [value + GEN, -value]
    for t in tampered:
        assert rejected(replaced(PROOF, field, t)) == check


def test_wrong_session_prover_statement_fails() -> None:
    assert rejected(PROOF, sid=SID + b"x") == EQ_L
    assert rejected(PROOF, pid=PID + 1) == EQ_L
    for name in STATEMENT:
        assert rejected(PROOF, {name: STATEMENT[name] + GEN}) == EQ_L
    # A consistent statement for another h (Y' = y h') is still a different statement.
    h2 = SECP256K1.mul_base(11)
    assert rejected(PROOF, {"Y": h2 * Y_SECRET, "h": h2}) == EQ_L


def test_witness_mismatches_fail_their_equation() -> None:
    # The prover does not know lambda: the L equation fails.
    assert rejected(algorithm_prove(L, M, X, Y, H, Y_SECRET, LAM + 1)) == EQ_L
    # M encrypts another y than Y's: whichever y the prover uses, one equation fails.
    m_other = GEN * (Y_SECRET + 1) + X * LAM
    assert rejected(algorithm_prove(L, m_other, X, Y, H, Y_SECRET, LAM), {"M": m_other}) == EQ_M
    proof = algorithm_prove(L, m_other, X, Y, H, Y_SECRET + 1, LAM)
    assert rejected(proof, {"M": m_other}) == EQ_Y


# -- encoding -------------------------------------------------------------------------------


def test_encoding_round_trip_and_exact_length() -> None:
    data = PROOF.to_bytes()
    assert len(data) == ElogProof.encoded_length() == 3 * 33 + 2 * 32 == 163
    assert ElogProof.from_bytes(data) == PROOF
    for bad in (data[:-1], data + b"\x00", b""):
        with pytest.raises(InvalidEncoding):
            ElogProof.from_bytes(bad)
    for at in (0, 33, 66):
        for p in (b"\x00" * 33, b"\x04" + bytes(32), BAD_POINT.data, b"\x02" + b"\xff" * 32):
            with pytest.raises(InvalidEncoding):
                ElogProof.from_bytes(data[:at] + p + data[at + 33 :])
    for at in (99, 131):
        with pytest.raises(InvalidEncoding):
            ElogProof.from_bytes(data[:at] + Q.to_bytes(32, "big") + data[at + 32 :])
    for bad_proof in (
        dataclasses.replace(PROOF, A=SECP256K1.identity),
        dataclasses.replace(PROOF, z=Q),
        dataclasses.replace(PROOF, u=-1),
    ):
        with pytest.raises(InvalidEncoding):
            bad_proof.to_bytes()


@settings(max_examples=60)
@given(data=st.one_of(st.binary(max_size=400), st.binary(min_size=163, max_size=163)))
def test_from_bytes_fuzz_raises_only_invalid_encoding(data: bytes) -> None:
    try:
        ElogProof.from_bytes(data)
    except InvalidEncoding:
        pass


@settings(max_examples=30)
@given(index=st.integers(0, 10_000), flip=st.integers(1, 255))
def test_byte_flips_are_refused_or_rejected(index: int, flip: int) -> None:
    data = bytearray(PROOF.to_bytes())
    data[index % len(data)] ^= flip
    try:
        proof = ElogProof.from_bytes(bytes(data))
    except InvalidEncoding:
        return
    with pytest.raises(InvalidProof):
        accepted(proof)
