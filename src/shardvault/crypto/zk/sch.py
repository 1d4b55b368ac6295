"""Π_sch: Schnorr proof of knowledge of a discrete logarithm over secp256k1 (CGGMP24,
2024-10-21 revision, Fig. 22: the Π_sch of key generation and key refresh),
non-interactive by Fiat-Shamir.

Statement ``(X, g)``; witness ``x`` in ``[1, q)`` with ``X = x g`` (``g`` defaults
to the group generator).

* prover samples ``alpha <- F_q^*`` and sends ``A = alpha g``;
* challenge ``e`` uniform in ``F_q = [0, q)`` (Fiat-Shamir, see below);
* prover: ``z = alpha + e x mod q``;
* verifier: ``z g = A + e X``.

Two ways to run it:

* :func:`prove` / :func:`verify`: the whole proof ``(A, z)`` in one message.
* Commit first, respond later, as CGGMP key generation and refresh do (``A`` is
  fixed, and hash-committed, in round 1; ``z`` is sent in round 3 once the joint
  randomness ``rid`` is known): :func:`commit` returns a single-use
  :class:`SchNonce` whose :attr:`SchNonce.commitment` (``A``) is sent first;
  :func:`respond` later turns it into the response ``z`` (the challenge binds
  everything known at that point, so pass ``rid`` inside ``session_id``);
  :func:`verify_response` checks ``(A, z)``. A nonce answers exactly one
  challenge: a second :func:`respond` raises ``NonceReused`` (two responses to one
  ``A`` reveal ``x``), and nonces cannot be copied or pickled.

Verifier checks, in order: ``g``, ``X``, ``A`` valid points (re-decoded by the
group: on the curve, not the identity), ``z`` an integer in ``[0, q)``, then
``z g = A + e X``.

Fiat-Shamir transcript (domain ``shardvault/cggmp24/pi-sch/v1``): session-id,
prover-id, curve, g, X, A (points as 33-byte compressed SEC1); ``e`` uniform in
``[0, q)`` by rejection sampling.

Encoding: :class:`SchProof` is ``A || z`` (33 + 32 bytes), :class:`SchCommitment`
``A`` (33), :class:`SchResponse` ``z`` (32, canonical: ``z < q``).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import NoReturn

from shardvault.crypto.groups import SECP256K1, Point
from shardvault.crypto.rng import OS_RNG, Rng
from shardvault.crypto.zk.errors import InvalidProof
from shardvault.crypto.zk.transcript import ChallengeStream, proof_transcript
from shardvault.errors import InvalidEncoding, InvalidParameters, InvalidPoint, NonceReused

__all__ = [
    "PROOF_NAME",
    "SchCommitment",
    "SchNonce",
    "SchProof",
    "SchResponse",
    "commit",
    "derive_challenge",
    "prove",
    "respond",
    "verify",
    "verify_response",
]

PROOF_NAME = "pi-sch"

_Q = SECP256K1.order
_POINT_SIZE = SECP256K1.element_size
_SCALAR_SIZE = SECP256K1.scalar_size


@dataclass(frozen=True, slots=True)
class SchCommitment:
    """The prover's first message ``A``."""

    A: Point

    def to_bytes(self) -> bytes:
        return self.A.encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> SchCommitment:
        if not isinstance(data, bytes):
            raise InvalidEncoding("pi-sch commitment: expected bytes")
        return cls(SECP256K1.decode_point(data))


@dataclass(frozen=True, slots=True)
class SchResponse:
    """The prover's response ``z`` in ``[0, q)``."""

    z: int

    def to_bytes(self) -> bytes:
        return _encode_z(self.z)

    @classmethod
    def from_bytes(cls, data: bytes) -> SchResponse:
        if not isinstance(data, bytes):
            raise InvalidEncoding("pi-sch response: expected bytes")
        return cls(SECP256K1.decode_scalar(data))


@dataclass(frozen=True, slots=True)
class SchProof:
    """``(A, z)``."""

    A: Point
    z: int

    ENCODED_LENGTH = _POINT_SIZE + _SCALAR_SIZE

    def to_bytes(self) -> bytes:
        return self.A.encode() + _encode_z(self.z)

    @classmethod
    def from_bytes(cls, data: bytes) -> SchProof:
        if not isinstance(data, bytes) or len(data) != cls.ENCODED_LENGTH:
            raise InvalidEncoding(f"pi-sch proof: expected {cls.ENCODED_LENGTH} bytes")
        big_a = SECP256K1.decode_point(data[:_POINT_SIZE])
        return cls(big_a, SECP256K1.decode_scalar(data[_POINT_SIZE:]))

    @classmethod
    def from_parts(cls, commitment: SchCommitment, response: SchResponse) -> SchProof:
        return cls(commitment.A, response.z)


def _encode_z(z: int) -> bytes:
    if not isinstance(z, int) or isinstance(z, bool) or not 0 <= z < _Q:
        raise InvalidEncoding("pi-sch: z must be an integer in [0, q)")
    return z.to_bytes(_SCALAR_SIZE, "big")


def derive_challenge(X: Point, A: Point, *, g: Point, session_id: bytes, prover_id: int) -> int:
    """The challenge ``e`` in ``[0, q)`` for statement ``(X, g)`` and commitment ``A``
    (Fig. 22, Fiat-Shamir)."""
    tr = proof_transcript(PROOF_NAME, session_id, prover_id)
    tr.append("curve", SECP256K1.name.encode())
    tr.append("g", g.encode())
    tr.append("X", X.encode())
    tr.append("A", A.encode())
    return ChallengeStream(tr).below(_Q)


def _valid_point(p: object) -> Point | None:
    """``p`` re-decoded by the group (on the curve, not the identity), or None."""
    if not isinstance(p, Point) or p.group is not SECP256K1:
        return None
    try:
        return SECP256K1.decode_point(p.data)
    except InvalidPoint:
        return None


def _base(g: Point) -> Point:
    base = _valid_point(g)
    if base is None:
        raise InvalidParameters("g must be a valid secp256k1 point other than the identity")
    return base


def _check_secret(x: int) -> None:
    if not isinstance(x, int) or isinstance(x, bool) or not 0 < x < _Q:
        raise InvalidParameters("the secret must be an integer in [1, q)")


def _mul(base: Point, k: int) -> Point:
    # The generator goes through libsecp256k1's ecmult_gen (constant time, faster).
    return SECP256K1.mul_base(k) if base == SECP256K1.generator else SECP256K1.mul(base, k)


class SchNonce:
    """The prover's secret ``alpha`` and public ``A = alpha g``: answers ONE challenge.

    ``repr`` hides ``alpha``; copying and pickling are refused.
    """

    __slots__ = ("_alpha", "_commitment", "_g", "_lock")

    def __init__(self, g: Point, rng: Rng = OS_RNG) -> None:
        self._g = _base(g)
        self._alpha: int | None = SECP256K1.random_scalar(rng)  # nonzero
        self._commitment = SchCommitment(_mul(self._g, self._alpha))
        self._lock = threading.Lock()

    @property
    def commitment(self) -> SchCommitment:
        """``A``: the message to send (or hash-commit to) first."""
        return self._commitment

    @property
    def g(self) -> Point:
        return self._g

    @property
    def used(self) -> bool:
        return self._alpha is None

    def _take(self) -> int:
        with self._lock:
            alpha, self._alpha = self._alpha, None
        if alpha is None:
            raise NonceReused(
                "Π_sch nonce already answered a challenge", check="pi-sch: nonce reuse"
            )
        return alpha

    def __repr__(self) -> str:
        state = "used" if self.used else "unused"
        return f"SchNonce(A={self._commitment.A.data.hex()}, {state}, secret hidden)"

    def __reduce__(self) -> NoReturn:
        raise TypeError("SchNonce is single-use and cannot be copied or pickled")


def commit(*, g: Point = SECP256K1.generator, rng: Rng = OS_RNG) -> SchNonce:
    """First step (Fig. 22, the prover's ``alpha <- F_q``, ``A = alpha g``): a fresh
    single-use nonce drawn from ``rng``; send ``nonce.commitment`` (``A``)."""
    return SchNonce(g, rng)


def respond(nonce: SchNonce, x: int, *, session_id: bytes, prover_id: int) -> SchResponse:
    """Second step (Fig. 22, the prover's response): ``z = alpha + e x mod q`` for
    ``X = x g`` (``g`` as in :func:`commit`).

    Consumes ``nonce``: a second call raises ``NonceReused``. Input errors
    (``InvalidParameters``) are raised before the nonce is consumed.
    """
    if not isinstance(nonce, SchNonce):
        raise InvalidParameters("nonce must come from pi-sch commit()")
    _check_secret(x)
    statement = _mul(nonce.g, x)
    e = derive_challenge(
        statement, nonce.commitment.A, g=nonce.g, session_id=session_id, prover_id=prover_id
    )
    alpha = nonce._take()
    return SchResponse((alpha + e * x) % _Q)


def prove(
    x: int,
    *,
    g: Point = SECP256K1.generator,
    session_id: bytes,
    prover_id: int,
    rng: Rng = OS_RNG,
) -> SchProof:
    """Non-interactive proof of knowledge of ``x`` in ``[1, q)`` with ``X = x g``
    (Fig. 22: :func:`commit` then :func:`respond`)."""
    _check_secret(x)
    nonce = commit(g=g, rng=rng)
    response = respond(nonce, x, session_id=session_id, prover_id=prover_id)
    return SchProof(nonce.commitment.A, response.z)


def _fail(check: str, message: str) -> InvalidProof:
    return InvalidProof(f"Π_sch rejected: {message}", check=f"pi-sch: {check}")


def verify(
    X: Point,
    proof: SchProof,
    *,
    g: Point = SECP256K1.generator,
    session_id: bytes,
    prover_id: int,
) -> None:
    """Raise :class:`InvalidProof` (``check="pi-sch: ..."``) unless ``proof`` shows
    knowledge of the discrete log of ``X`` to the base ``g`` (Fig. 22, the verifier)."""
    base, statement, big_a = _valid_point(g), _valid_point(X), _valid_point(proof.A)
    if base is None:
        raise _fail("g", "g is not a valid secp256k1 point other than the identity")
    if statement is None:
        raise _fail("X", "X is not a valid secp256k1 point other than the identity")
    if big_a is None:
        raise _fail("A", "A is not a valid secp256k1 point other than the identity")
    z = proof.z
    if not isinstance(z, int) or isinstance(z, bool) or not 0 <= z < _Q:
        raise _fail("z range", "z is not in [0, q)")
    e = derive_challenge(statement, big_a, g=base, session_id=session_id, prover_id=prover_id)
    if _mul(base, z) != SECP256K1.add(big_a, SECP256K1.mul(statement, e)):
        raise _fail("z g = A + e X", "Schnorr equation does not hold")


def verify_response(
    X: Point,
    commitment: SchCommitment,
    response: SchResponse,
    *,
    g: Point = SECP256K1.generator,
    session_id: bytes,
    prover_id: int,
) -> None:
    """:func:`verify` for a commitment received first and a response received later."""
    verify(
        X,
        SchProof.from_parts(commitment, response),
        g=g,
        session_id=session_id,
        prover_id=prover_id,
    )
