"""Π_elog: discrete log with El-Gamal commitment (CGGMP24, 2024-10-21 revision,
Section A.1, Fig. 23; the Relog relation), over secp256k1. Pure group proof: no
Paillier modulus, no ring-Pedersen parameters, no range.

Statement ``(L, M, X, Y, h)``; witness ``(y, lambda)`` in ``F_q`` with
``L = lambda G``, ``M = y G + lambda X`` and ``Y = y h`` (``G`` the generator). I.e.
``(L, M)`` is an El-Gamal encryption of ``y G`` under the public key ``X`` with
randomness ``lambda``, and ``Y`` is the ``h``-multiple of the same ``y``.

* prover samples ``alpha, m <- F_q`` and sends ``A = alpha G``,
  ``N = m G + alpha X``, ``B = m h``;
* challenge ``e`` uniform in ``F_q = [0, q)`` (Fiat-Shamir, see below);
* prover: ``z = alpha + e lambda mod q``, ``u = m + e y mod q``;
* verifier: ``z G = A + e L``, ``u G + z X = N + e M``, ``u h = B + e Y``.

Followed: NillionNetwork/paillier-zk ``src/dlog_with_el_gamal_commitment.rs`` (a
fork of Lockness paillier-zk carrying the 2024 proofs), cross-checked with
entropyxyz/synedrion ``sigma/elog.rs`` ("Section A.1, Fig. 23"); both give exactly
these messages and equations, with a scalar challenge.

Verifier checks, in order: ``L, M, X, Y, h`` (statement points) and ``A, N, B``
valid secp256k1 points (re-decoded: on the curve, not the identity); ``z``, ``u``
integers in ``[0, q)`` (canonical); then the three equations in the order above.

Prover-side refusals (``InvalidParameters``): invalid points, ``y`` or ``lambda``
not in ``[1, q)`` (a zero would make ``Y`` or ``L`` the identity), and a witness
that does not match the statement. ``alpha, m`` are nonzero (``random_scalar``) and
redrawn in the probability-``1/q`` case ``N`` = identity, so every commitment point
has an encoding.

Fiat-Shamir transcript (domain ``shardvault/cggmp24/pi-elog/v1``): session-id,
prover-id, q, curve, L, M, X, Y, h, A, N, B (points as 33-byte compressed SEC1);
``e`` uniform in ``[0, q)`` by rejection sampling.

Encoding: ``A || N || B`` (33 bytes each, full point validation) ``|| z || u``
(32 bytes each, canonical ``< q``): 163 bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

from shardvault.crypto.groups import SECP256K1, Point
from shardvault.crypto.rng import OS_RNG, Rng
from shardvault.crypto.zk.codec import Reader
from shardvault.crypto.zk.errors import InvalidProof
from shardvault.crypto.zk.transcript import ChallengeStream, proof_transcript
from shardvault.errors import InvalidEncoding, InvalidParameters, InvalidPoint

__all__ = ["PROOF_NAME", "ElogProof", "derive_challenge", "prove", "verify"]

PROOF_NAME = "pi-elog"

#: The group order: challenges and responses are scalars.
Q = SECP256K1.order

_POINT_SIZE = SECP256K1.element_size
_SCALAR_SIZE = SECP256K1.scalar_size


def _encode_scalar(value: int) -> bytes:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < Q:
        raise InvalidEncoding("pi-elog proof: scalar must be an integer in [0, q)")
    return value.to_bytes(_SCALAR_SIZE, "big")


@dataclass(frozen=True, slots=True)
class ElogProof:
    """``((A, N, B), (z, u))``."""

    A: Point
    N: Point
    B: Point
    z: int
    u: int

    @staticmethod
    def encoded_length() -> int:
        return 3 * _POINT_SIZE + 2 * _SCALAR_SIZE

    def to_bytes(self) -> bytes:
        """Fixed-width encoding (163 bytes)."""
        return b"".join(
            (
                self.A.encode(),
                self.N.encode(),
                self.B.encode(),
                _encode_scalar(self.z),
                _encode_scalar(self.u),
            )
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> ElogProof:
        r = Reader(data, cls.encoded_length(), "pi-elog proof")
        big_a = SECP256K1.decode_point(r.take(_POINT_SIZE))
        big_n = SECP256K1.decode_point(r.take(_POINT_SIZE))
        big_b = SECP256K1.decode_point(r.take(_POINT_SIZE))
        z = r.unsigned(_SCALAR_SIZE, Q, "z")
        u = r.unsigned(_SCALAR_SIZE, Q, "u")
        r.finish()
        return cls(A=big_a, N=big_n, B=big_b, z=z, u=u)


def derive_challenge(
    L: Point,
    M: Point,
    X: Point,
    Y: Point,
    h: Point,
    commitment: tuple[Point, Point, Point],
    *,
    session_id: bytes,
    prover_id: int,
) -> int:
    """The challenge ``e`` in ``[0, q)`` for statement ``(L, M, X, Y, h)`` and
    ``commitment = (A, N, B)`` (Fig. 23, Fiat-Shamir)."""
    tr = proof_transcript(PROOF_NAME, session_id, prover_id)
    tr.append_int("q", Q)
    tr.append("curve", SECP256K1.name.encode())
    for label, point in zip(("L", "M", "X", "Y", "h"), (L, M, X, Y, h), strict=True):
        tr.append(label, point.encode())
    for label, point in zip(("A", "N", "B"), commitment, strict=True):
        tr.append(label, point.encode())
    return ChallengeStream(tr).below(Q)


def _valid_point(p: object) -> Point | None:
    """``p`` re-decoded by the group (on the curve, not the identity), or None."""
    if not isinstance(p, Point) or p.group is not SECP256K1:
        return None
    try:
        return SECP256K1.decode_point(p.data)
    except InvalidPoint:
        return None


def _is_scalar(value: object, low: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value < Q


def _statement(
    L: Point, M: Point, X: Point, Y: Point, h: Point
) -> tuple[Point, Point, Point, Point, Point] | str:
    """The re-decoded statement points, or the name of the first invalid one."""
    out = []
    for name, p in (("L", L), ("M", M), ("X", X), ("Y", Y), ("h", h)):
        valid = _valid_point(p)
        if valid is None:
            return name
        out.append(valid)
    return out[0], out[1], out[2], out[3], out[4]


def prove(
    L: Point,
    M: Point,
    X: Point,
    Y: Point,
    y: int,
    lam: int,
    *,
    h: Point,
    session_id: bytes,
    prover_id: int,
    rng: Rng = OS_RNG,
) -> ElogProof:
    """Prove knowledge of ``y, lam`` with ``L = lam G``, ``M = y G + lam X`` and
    ``Y = y h`` (Fig. 23, the prover; ``alpha`` and ``m`` drawn from ``rng``).

    Raises ``InvalidParameters`` for unusable inputs (invalid points, ``y`` or
    ``lam`` outside ``[1, q)``, a witness that does not match the statement);
    messages never name secret values.
    """
    st = _statement(L, M, X, Y, h)
    if isinstance(st, str):
        raise InvalidParameters(f"{st} must be a valid secp256k1 point other than the identity")
    big_l, big_m, big_x, big_y, base = st
    if not _is_scalar(y, 1) or not _is_scalar(lam, 1):
        raise InvalidParameters("y and lambda must be integers in [1, q)")
    if SECP256K1.mul_base(lam) != big_l:
        raise InvalidParameters("L is not lambda G")
    if SECP256K1.add(SECP256K1.mul_base(y), SECP256K1.mul(big_x, lam)) != big_m:
        raise InvalidParameters("M is not y G + lambda X")
    if SECP256K1.mul(base, y) != big_y:
        raise InvalidParameters("Y is not y h")
    while True:
        alpha = SECP256K1.random_scalar(rng)  # nonzero
        m = SECP256K1.random_scalar(rng)
        big_n = SECP256K1.add(SECP256K1.mul_base(m), SECP256K1.mul(big_x, alpha))
        if not big_n.is_identity():
            break
    big_a = SECP256K1.mul_base(alpha)
    big_b = SECP256K1.mul(base, m)
    e = derive_challenge(
        big_l,
        big_m,
        big_x,
        big_y,
        base,
        (big_a, big_n, big_b),
        session_id=session_id,
        prover_id=prover_id,
    )
    return ElogProof(A=big_a, N=big_n, B=big_b, z=(alpha + e * lam) % Q, u=(m + e * y) % Q)


def _fail(check: str, message: str) -> InvalidProof:
    return InvalidProof(f"Π_elog rejected: {message}", check=f"pi-elog: {check}")


def verify(
    L: Point,
    M: Point,
    X: Point,
    Y: Point,
    proof: ElogProof,
    *,
    h: Point,
    session_id: bytes,
    prover_id: int,
) -> None:
    """Raise :class:`InvalidProof` (``check="pi-elog: ..."``) unless ``proof`` shows
    knowledge of ``y, lambda`` with ``L = lambda G``, ``M = y G + lambda X`` and
    ``Y = y h`` (Fig. 23, the verifier)."""
    st = _statement(L, M, X, Y, h)
    if isinstance(st, str):
        raise _fail(st, f"{st} is not a valid secp256k1 point other than the identity")
    big_l, big_m, big_x, big_y, base = st
    commitment = []
    for name in ("A", "N", "B"):
        valid = _valid_point(getattr(proof, name))
        if valid is None:
            raise _fail(name, f"{name} is not a valid secp256k1 point other than the identity")
        commitment.append(valid)
    big_a, big_n, big_b = commitment
    if not _is_scalar(proof.z, 0):
        raise _fail("z range", "z is not an integer in [0, q)")
    if not _is_scalar(proof.u, 0):
        raise _fail("u range", "u is not an integer in [0, q)")
    e = derive_challenge(
        big_l,
        big_m,
        big_x,
        big_y,
        base,
        (big_a, big_n, big_b),
        session_id=session_id,
        prover_id=prover_id,
    )
    if SECP256K1.mul_base(proof.z) != SECP256K1.add(big_a, SECP256K1.mul(big_l, e)):
        raise _fail("z G = A + e L", "first group equation does not hold")
    lhs = SECP256K1.add(SECP256K1.mul_base(proof.u), SECP256K1.mul(big_x, proof.z))
    if lhs != SECP256K1.add(big_n, SECP256K1.mul(big_m, e)):
        raise _fail("u G + z X = N + e M", "second group equation does not hold")
    if SECP256K1.mul(base, proof.u) != SECP256K1.add(big_b, SECP256K1.mul(big_y, e)):
        raise _fail("u h = B + e Y", "third group equation does not hold")
