"""Π_enc-elg: Paillier encryption in range with El-Gamal commitment (CGGMP24,
2024-10-21 revision, Section A.2, Fig. 24; the Renc-elg relation), over secp256k1,
against the VERIFIER's ring-Pedersen parameters ``(N̂, s, t)``. The 2024
presigning's replacement for Π_enc.

Statement ``(N0, C, A, B, X)``; witness ``(x, rho, b)`` with ``C = enc_N0(x; rho)``,
``|x| <= 2^ell``, ``B = b G`` and ``X = b A + x G`` (``G`` the generator); with
``A = a G`` that is ``X = (a b + x) G``. ``a`` itself is not needed by the prover
(``A`` enters only as a public base). Soundness: ``C`` encrypts some ``x`` with
``|x| <= 2^(ell+eps)`` and ``X - x G = b A`` with ``b = log_G B``. Parameters
(``level``, by default): ``ell = 256``, ``eps = 512``, challenge ``e`` uniform in ``+-q``.

* prover samples ``alpha <- +-2^(ell+eps)``, ``mu <- +-2^ell N̂``, ``r <- Z_N0^*``,
  ``beta <- F_q``, ``gamma <- +-2^(ell+eps) N̂`` and sends ``S = s^x t^mu mod N̂``,
  ``T = s^alpha t^gamma mod N̂``, ``D = (1 + N0)^alpha r^N0 mod N0^2``,
  ``Y = beta A + alpha G``, ``Z = beta G``;
* challenge ``e`` (Fiat-Shamir, see below);
* prover: ``z1 = alpha + e x``, ``w = beta + e b mod q``, ``z2 = r rho^e mod N0``,
  ``z3 = gamma + e mu``;
* verifier: ``z1 in +-2^(ell+eps)`` (inclusive, the paper's range check),
  ``(1 + N0)^z1 z2^N0 = D C^e mod N0^2``, ``w A + z1 G = Y + e X``,
  ``w G = Z + e B``, ``s^z1 t^z3 = T S^e mod N̂``.

Followed: NillionNetwork/paillier-zk ``src/paillier_encryption_in_range_with_el_gamal.rs``
(a fork of Lockness paillier-zk carrying the 2024 proofs), cross-checked with
entropyxyz/synedrion ``sigma/enc_elg.rs`` ("Section A.2, Fig. 24"); both give
exactly these messages, responses and equations.

Verification order, cheapest first: parameter, statement and element checks, the
``w`` and ``z3`` sizes, the paper's ``z1`` range check, then the two group
equations, the ring-Pedersen equation and last the ``N0^2`` equation.

Extra verifier checks (never violated by an honest prover), as in Π_enc and Π_log*:
``N̂, s, t`` valid; ``N0 > 2^(ell+eps+1)``; ``C, D`` in ``Z_{N0^2}^*``; ``S, T`` in
``Z_N̂^*``; ``z2`` in ``Z_N0^*``; ``w`` an integer in ``[0, q)``; ``|z3|`` at most
its honest maximum. ``A``, ``B``, ``X``, ``Y`` and ``Z`` must be valid secp256k1
points (re-decoded: on the curve, not the identity). The honest prover draws
``beta`` nonzero and redraws in the probability-``1/q`` case ``Y`` = identity.

Fiat-Shamir transcript (domain ``shardvault/cggmp24/pi-enc-elg/v1``): session-id,
prover-id, ell, eps, q, curve, N̂, s, t, N0, C, A, B, X, S, T, D, Y, Z (points as
33-byte compressed SEC1); ``e`` uniform in ``[-q, q]`` by rejection sampling.

Encoding: ``S || T`` on ``width(N̂)`` bytes each, ``D`` on ``width(N0^2)``,
``Y || Z`` (33 bytes each), ``z2`` on ``width(N0)``, ``w`` (32 bytes, ``< q``), then
``z1``, ``z3`` two's-complement on the widths of their bounds (exact total length).
"""

from __future__ import annotations

from dataclasses import dataclass

import gmpy2

from shardvault.crypto.groups import SECP256K1, Point
from shardvault.crypto.paillier import PaillierPublicKey, PaillierSecretKey, sample_unit
from shardvault.crypto.ring_pedersen import RingPedersenParams
from shardvault.crypto.rng import OS_RNG, Rng
from shardvault.crypto.zk.checks import is_unit, sample_pm
from shardvault.crypto.zk.codec import (
    Reader,
    encode_signed,
    encode_unsigned,
    signed_width,
    unsigned_width,
)
from shardvault.crypto.zk.enc import (
    Bounds,
    check_statement_key,
    check_witness,
    paillier_encrypt,
    response_nonce,
)
from shardvault.crypto.zk.errors import InvalidProof
from shardvault.crypto.zk.params import DEFAULT_LEVEL, SecurityLevel
from shardvault.crypto.zk.transcript import ChallengeStream, proof_transcript
from shardvault.errors import InvalidEncoding, InvalidParameters, InvalidPoint

__all__ = ["PROOF_NAME", "Bounds", "EncElgProof", "derive_challenge", "prove", "verify"]

PROOF_NAME = "pi-enc-elg"

_POINT_SIZE = SECP256K1.element_size
_SCALAR_SIZE = SECP256K1.scalar_size
#: The group order: ``w`` is a scalar.
_Q = SECP256K1.order


def _widths(n0: int, n_hat: int, level: SecurityLevel) -> tuple[int, int, int, int, int]:
    """Bytes of (S/T, D, z2, z1, z3)."""
    b = Bounds.of(n_hat, level)
    return (
        unsigned_width(n_hat),
        unsigned_width(n0 * n0),
        unsigned_width(n0),
        signed_width(b.z1),
        signed_width(b.z3),
    )


def _encode_scalar(value: int) -> bytes:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < _Q:
        raise InvalidEncoding("pi-enc-elg proof: w must be an integer in [0, q)")
    return value.to_bytes(_SCALAR_SIZE, "big")


@dataclass(frozen=True, slots=True)
class EncElgProof:
    """``((S, T, D, Y, Z), (z1, w, z2, z3))``."""

    S: int
    T: int
    D: int
    Y: Point
    Z: Point
    z1: int
    w: int
    z2: int
    z3: int

    @staticmethod
    def encoded_length(n0: int, n_hat: int, *, level: SecurityLevel = DEFAULT_LEVEL) -> int:
        rw, dw, zw, z1w, z3w = _widths(n0, n_hat, level)
        return 2 * rw + dw + 2 * _POINT_SIZE + zw + _SCALAR_SIZE + z1w + z3w

    def to_bytes(self, n0: int, n_hat: int, *, level: SecurityLevel = DEFAULT_LEVEL) -> bytes:
        """Fixed-width encoding for statement modulus ``n0`` and verifier modulus ``n_hat``."""
        rw, dw, zw, z1w, z3w = _widths(n0, n_hat, level)
        return b"".join(
            (
                encode_unsigned(self.S, rw),
                encode_unsigned(self.T, rw),
                encode_unsigned(self.D, dw),
                self.Y.encode(),
                self.Z.encode(),
                encode_unsigned(self.z2, zw),
                _encode_scalar(self.w),
                encode_signed(self.z1, z1w),
                encode_signed(self.z3, z3w),
            )
        )

    @classmethod
    def from_bytes(
        cls, data: bytes, n0: int, n_hat: int, *, level: SecurityLevel = DEFAULT_LEVEL
    ) -> EncElgProof:
        rw, dw, zw, z1w, z3w = _widths(n0, n_hat, level)
        r = Reader(data, cls.encoded_length(n0, n_hat, level=level), "pi-enc-elg proof")
        big_s = r.unsigned(rw, n_hat, "S")
        big_t = r.unsigned(rw, n_hat, "T")
        big_d = r.unsigned(dw, n0 * n0, "D")
        big_y = SECP256K1.decode_point(r.take(_POINT_SIZE))
        big_z = SECP256K1.decode_point(r.take(_POINT_SIZE))
        z2 = r.unsigned(zw, n0, "z2")
        w = r.unsigned(_SCALAR_SIZE, _Q, "w")
        z1 = r.signed(z1w)
        z3 = r.signed(z3w)
        r.finish()
        return cls(S=big_s, T=big_t, D=big_d, Y=big_y, Z=big_z, z1=z1, w=w, z2=z2, z3=z3)


def derive_challenge(
    n0: int,
    verifier: RingPedersenParams,
    ciphertext: int,
    A: Point,
    B: Point,
    X: Point,
    commitment: tuple[int, int, int, Point, Point],
    *,
    session_id: bytes,
    prover_id: int,
    level: SecurityLevel = DEFAULT_LEVEL,
) -> int:
    """The challenge ``e`` in ``[-q, q]`` for statement ``(n0, ciphertext, A, B, X)``
    and ``commitment = (S, T, D, Y, Z)`` (Fig. 24, Fiat-Shamir)."""
    big_s, big_t, big_d, big_y, big_z = commitment
    tr = proof_transcript(PROOF_NAME, session_id, prover_id)
    tr.append_int("ell", level.ell)
    tr.append_int("epsilon", level.epsilon)
    tr.append_int("q", level.q)
    tr.append("curve", SECP256K1.name.encode())
    tr.append_int("N-hat", verifier.n)
    tr.append_int("s", verifier.s)
    tr.append_int("t", verifier.t)
    tr.append_int("N0", n0)
    tr.append_int("C", ciphertext)
    tr.append("A", A.encode())
    tr.append("B", B.encode())
    tr.append("X", X.encode())
    tr.append_int("S", big_s)
    tr.append_int("T", big_t)
    tr.append_int("D", big_d)
    tr.append("Y", big_y.encode())
    tr.append("Z", big_z.encode())
    return ChallengeStream(tr).signed(level.q)


def _valid_point(p: object) -> Point | None:
    """``p`` re-decoded by the group (on the curve, not the identity), or None."""
    if not isinstance(p, Point) or p.group is not SECP256K1:
        return None
    try:
        return SECP256K1.decode_point(p.data)
    except InvalidPoint:
        return None


def _is_scalar(value: object, low: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value < _Q


def prove(
    key: PaillierPublicKey | PaillierSecretKey,
    verifier: RingPedersenParams,
    ciphertext: int,
    A: Point,
    B: Point,
    X: Point,
    x: int,
    nonce: int,
    b: int,
    *,
    session_id: bytes,
    prover_id: int,
    level: SecurityLevel = DEFAULT_LEVEL,
    rng: Rng = OS_RNG,
) -> EncElgProof:
    """Prove that ``ciphertext = enc(x; nonce)`` under ``key`` with ``|x| <= 2^ell``,
    ``B = b G`` and ``X = b A + x G``, for a verifier whose ring-Pedersen parameters
    are ``verifier`` (Fig. 24, the prover; its samples drawn from ``rng``). A secret
    key makes the prover use CRT encryption.

    Raises ``InvalidParameters`` for unusable inputs (``x`` outside ``+-2^ell``,
    ``b`` outside ``[1, q)``, ``B != b G``, ``X != b A + x G``, invalid points...).
    The ciphertext is not re-derived from the witness: a mismatched witness gives
    a proof that fails verification.
    """
    check_witness(key, verifier, ciphertext, x, nonce, level)
    points = []
    for name, p in (("A", A), ("B", B), ("X", X)):
        valid = _valid_point(p)
        if valid is None:
            raise InvalidParameters(
                f"{name} must be a valid secp256k1 point other than the identity"
            )
        points.append(valid)
    big_a, big_b, big_x = points
    if not _is_scalar(b, 1):
        raise InvalidParameters("b must be an integer in [1, q)")
    if SECP256K1.mul_base(b) != big_b:
        raise InvalidParameters("B is not b G")
    if SECP256K1.add(SECP256K1.mul(big_a, b), SECP256K1.mul_base(x)) != big_x:
        raise InvalidParameters("X is not b A + x G")
    n0 = key.n
    bounds = Bounds.of(verifier.n, level)
    alpha = sample_pm(bounds.z1, rng)
    while True:
        beta = SECP256K1.random_scalar(rng)  # nonzero: Z is never the identity
        big_y = SECP256K1.add(SECP256K1.mul(big_a, beta), SECP256K1.mul_base(alpha))
        if not big_y.is_identity():
            break
        alpha = sample_pm(bounds.z1, rng)
    mu = sample_pm(bounds.mu, rng)
    r = sample_unit(n0, rng)
    gamma = sample_pm(bounds.gamma, rng)
    big_s = verifier.commit_secret(x, mu)
    big_t = verifier.commit_secret(alpha, gamma)
    big_d = paillier_encrypt(key, alpha, r)
    big_z = SECP256K1.mul_base(beta)
    e = derive_challenge(
        n0,
        verifier,
        ciphertext,
        big_a,
        big_b,
        big_x,
        (big_s, big_t, big_d, big_y, big_z),
        session_id=session_id,
        prover_id=prover_id,
        level=level,
    )
    return EncElgProof(
        S=big_s,
        T=big_t,
        D=big_d,
        Y=big_y,
        Z=big_z,
        z1=alpha + e * x,
        w=(beta + e * b) % _Q,
        z2=response_nonce(r, nonce, e, n0),
        z3=gamma + e * mu,
    )


def _fail(check: str, message: str) -> InvalidProof:
    return InvalidProof(f"Π_enc-elg rejected: {message}", check=f"pi-enc-elg: {check}")


def verify(
    key: PaillierPublicKey,
    verifier: RingPedersenParams,
    ciphertext: int,
    A: Point,
    B: Point,
    X: Point,
    proof: EncElgProof,
    *,
    session_id: bytes,
    prover_id: int,
    level: SecurityLevel = DEFAULT_LEVEL,
) -> None:
    """Raise :class:`InvalidProof` (``check="pi-enc-elg: ..."``) unless ``proof`` shows
    that ``ciphertext`` encrypts under ``key`` some ``x`` in ``+-2^(ell+eps)`` with
    ``X = b A + x G`` for ``b = log_G B`` (Fig. 24, the verifier). ``verifier`` are
    the verifying party's OWN ring-Pedersen parameters."""
    try:
        verifier.validate()
    except InvalidParameters as exc:
        raise _fail("parameters", exc.message) from None
    if not isinstance(key, PaillierPublicKey):
        raise _fail("N0", "N0 must be a Paillier public key")
    problem = check_statement_key(key.n, level)
    if problem is not None:
        raise _fail("N0", problem)
    n0, n0_sq = key.n, key.n_squared
    n_hat = verifier.n
    if not key.is_valid_ciphertext(ciphertext):
        raise _fail("C", "C is not in Z_{N0^2}^*")
    points = []
    for name, p in (("A", A), ("B", B), ("X", X)):
        valid = _valid_point(p)
        if valid is None:
            raise _fail(name, f"{name} is not a valid secp256k1 point other than the identity")
        points.append(valid)
    big_a, big_b, big_x = points
    if not is_unit(proof.S, n_hat):
        raise _fail("S range", "S is not in Z_N̂^*")
    if not is_unit(proof.T, n_hat):
        raise _fail("T range", "T is not in Z_N̂^*")
    if not is_unit(proof.D, n0_sq):
        raise _fail("D range", "D is not in Z_{N0^2}^*")
    big_y, big_z = _valid_point(proof.Y), _valid_point(proof.Z)
    if big_y is None:
        raise _fail("Y", "Y is not a valid secp256k1 point other than the identity")
    if big_z is None:
        raise _fail("Z", "Z is not a valid secp256k1 point other than the identity")
    if not is_unit(proof.z2, n0):
        raise _fail("z2 range", "z2 is not in Z_N0^*")
    if not _is_scalar(proof.w, 0):
        raise _fail("w range", "w is not an integer in [0, q)")
    bounds = Bounds.of(n_hat, level)
    if not isinstance(proof.z3, int) or abs(proof.z3) > bounds.z3:
        raise _fail("z3 size", "|z3| exceeds its honest bound")
    # The paper's range check: z1 in +-2^(ell+eps).
    if not isinstance(proof.z1, int) or abs(proof.z1) > bounds.z1:
        raise _fail("z1 range", "z1 is outside +-2^(ell+eps)")
    e = derive_challenge(
        n0,
        verifier,
        ciphertext,
        big_a,
        big_b,
        big_x,
        (proof.S, proof.T, proof.D, big_y, big_z),
        session_id=session_id,
        prover_id=prover_id,
        level=level,
    )
    # Cheapest equations first: group (~0.1 ms each), mod N̂ (~15 ms), mod N0^2 (~30 ms).
    if SECP256K1.mul_base(proof.w) != SECP256K1.add(big_z, SECP256K1.mul(big_b, e)):
        raise _fail("w G = Z + e B", "group equation for B does not hold")
    lhs = SECP256K1.add(SECP256K1.mul(big_a, proof.w), SECP256K1.mul_base(proof.z1))
    if lhs != SECP256K1.add(big_y, SECP256K1.mul(big_x, e)):
        raise _fail("w A + z1 G = Y + e X", "group equation for X does not hold")
    lhs_rp = verifier.commit(proof.z1, proof.z3)
    if lhs_rp != proof.T * gmpy2.powmod(proof.S, e, n_hat) % n_hat:
        raise _fail("s^z1 t^z3 = T S^e", "ring-Pedersen equation does not hold")
    lhs_enc = paillier_encrypt(key, proof.z1, proof.z2)
    if lhs_enc != proof.D * gmpy2.powmod(ciphertext, e, n0_sq) % n0_sq:
        raise _fail("enc(z1; z2) = D C^e", "Paillier equation does not hold")
