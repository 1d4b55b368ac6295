"""Π_log*: knowledge of exponent vs Paillier encryption in range (CGGMP, ePrint
2021/060, Fig. 25 in the 2021 numbering; the Rlog* relation), over secp256k1 with
an arbitrary base point ``g``, against the VERIFIER's ring-Pedersen parameters
``(N̂, s, t)``.

Statement ``(N0, C, X, g)``; witness ``(x, rho)`` with ``C = enc_N0(x; rho)``,
``X = x g`` and ``|x| <= 2^ell``. Soundness: ``C`` encrypts and ``X`` is the
``g``-multiple of the same ``x`` with ``|x| <= 2^(ell+eps)``. Parameters (``level``,
by default): ``ell = 256``, ``eps = 512``, challenge ``e`` uniform in ``+-q``.

* prover samples ``alpha <- +-2^(ell+eps)``, ``mu <- +-2^ell N̂``, ``r <- Z_N0^*``,
  ``gamma <- +-2^(ell+eps) N̂`` and sends ``S = s^x t^mu mod N̂``,
  ``A = (1 + N0)^alpha r^N0 mod N0^2``, ``Y = alpha g``, ``D = s^alpha t^gamma mod N̂``;
* challenge ``e`` (Fiat-Shamir, see below);
* prover: ``z1 = alpha + e x``, ``z2 = r rho^e mod N0``, ``z3 = gamma + e mu``;
* verifier: ``(1 + N0)^z1 z2^N0 = A C^e mod N0^2``, ``z1 g = Y + e X``,
  ``s^z1 t^z3 = D S^e mod N̂`` and ``z1 in +-2^(ell+eps)`` (inclusive, exactly the
  paper's range check).

Verification order, cheapest first: parameter, statement and element checks, the
``z3`` size, the paper's ``z1`` range check, then the group equation, the
ring-Pedersen equation and last the ``N0^2`` equation.

Extra verifier checks (never violated by an honest prover), as in Π_enc: ``N̂, s,
t`` valid; ``N0 > 2^(ell+eps+1)``; ``C, A`` in ``Z_{N0^2}^*``; ``S, D`` in
``Z_N̂^*``; ``z2`` in ``Z_N0^*``; ``|z3|`` at most its honest maximum. ``X``,
``g`` and ``Y`` must be valid secp256k1 points (re-decoded: on the curve, not the
identity). The honest prover redraws ``alpha`` in the probability-``1/q`` case
``alpha = 0 mod q`` so that ``Y`` is never the identity.

Fiat-Shamir transcript (domain ``shardvault/cggmp24/pi-log*/v1``): session-id,
prover-id, ell, eps, q, curve, N̂, s, t, N0, C, X, g, S, A, Y, D (points as 33-byte
compressed SEC1); ``e`` uniform in ``[-q, q]`` by rejection sampling.

Encoding: ``S || D`` on ``width(N̂)`` bytes each, ``A`` on ``width(N0^2)``, ``Y``
(33 bytes), ``z2`` on ``width(N0)``, then ``z1``, ``z3`` two's-complement on the
widths of their bounds (exact total length).
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
from shardvault.errors import InvalidParameters, InvalidPoint

__all__ = ["PROOF_NAME", "Bounds", "LogStarProof", "derive_challenge", "prove", "verify"]

PROOF_NAME = "pi-log*"

_POINT_SIZE = SECP256K1.element_size
#: The group order (``alpha`` is redrawn when ``alpha = 0 mod q``).
_Q = SECP256K1.order


def _widths(n0: int, n_hat: int, level: SecurityLevel) -> tuple[int, int, int, int, int]:
    """Bytes of (S/D, A, z2, z1, z3)."""
    b = Bounds.of(n_hat, level)
    return (
        unsigned_width(n_hat),
        unsigned_width(n0 * n0),
        unsigned_width(n0),
        signed_width(b.z1),
        signed_width(b.z3),
    )


@dataclass(frozen=True, slots=True)
class LogStarProof:
    """``((S, A, Y, D), (z1, z2, z3))``."""

    S: int
    A: int
    Y: Point
    D: int
    z1: int
    z2: int
    z3: int

    @staticmethod
    def encoded_length(n0: int, n_hat: int, *, level: SecurityLevel = DEFAULT_LEVEL) -> int:
        rw, aw, zw, z1w, z3w = _widths(n0, n_hat, level)
        return 2 * rw + aw + _POINT_SIZE + zw + z1w + z3w

    def to_bytes(self, n0: int, n_hat: int, *, level: SecurityLevel = DEFAULT_LEVEL) -> bytes:
        """Fixed-width encoding for statement modulus ``n0`` and verifier modulus ``n_hat``."""
        rw, aw, zw, z1w, z3w = _widths(n0, n_hat, level)
        return b"".join(
            (
                encode_unsigned(self.S, rw),
                encode_unsigned(self.D, rw),
                encode_unsigned(self.A, aw),
                self.Y.encode(),
                encode_unsigned(self.z2, zw),
                encode_signed(self.z1, z1w),
                encode_signed(self.z3, z3w),
            )
        )

    @classmethod
    def from_bytes(
        cls, data: bytes, n0: int, n_hat: int, *, level: SecurityLevel = DEFAULT_LEVEL
    ) -> LogStarProof:
        rw, aw, zw, z1w, z3w = _widths(n0, n_hat, level)
        r = Reader(data, cls.encoded_length(n0, n_hat, level=level), "pi-log* proof")
        big_s = r.unsigned(rw, n_hat, "S")
        big_d = r.unsigned(rw, n_hat, "D")
        big_a = r.unsigned(aw, n0 * n0, "A")
        big_y = SECP256K1.decode_point(r.take(_POINT_SIZE))
        z2 = r.unsigned(zw, n0, "z2")
        z1 = r.signed(z1w)
        z3 = r.signed(z3w)
        r.finish()
        return cls(S=big_s, A=big_a, Y=big_y, D=big_d, z1=z1, z2=z2, z3=z3)


def derive_challenge(
    n0: int,
    verifier: RingPedersenParams,
    ciphertext: int,
    X: Point,
    g: Point,
    commitment: tuple[int, int, Point, int],
    *,
    session_id: bytes,
    prover_id: int,
    level: SecurityLevel = DEFAULT_LEVEL,
) -> int:
    """The challenge ``e`` in ``[-q, q]`` for statement ``(n0, ciphertext, X, g)`` and
    ``commitment = (S, A, Y, D)`` (Fig. 25 of 2021, Fiat-Shamir)."""
    big_s, big_a, big_y, big_d = commitment
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
    tr.append("X", X.encode())
    tr.append("g", g.encode())
    tr.append_int("S", big_s)
    tr.append_int("A", big_a)
    tr.append("Y", big_y.encode())
    tr.append_int("D", big_d)
    return ChallengeStream(tr).signed(level.q)


def _valid_point(p: object) -> Point | None:
    """``p`` re-decoded by the group (on the curve, not the identity), or None."""
    if not isinstance(p, Point) or p.group is not SECP256K1:
        return None
    try:
        return SECP256K1.decode_point(p.data)
    except InvalidPoint:
        return None


def prove(
    key: PaillierPublicKey | PaillierSecretKey,
    verifier: RingPedersenParams,
    ciphertext: int,
    X: Point,
    x: int,
    nonce: int,
    *,
    g: Point,
    session_id: bytes,
    prover_id: int,
    level: SecurityLevel = DEFAULT_LEVEL,
    rng: Rng = OS_RNG,
) -> LogStarProof:
    """Prove that ``ciphertext = enc(x; nonce)`` under ``key`` and ``X = x g`` with
    ``|x| <= 2^ell``, for a verifier whose ring-Pedersen parameters are ``verifier``
    (2021 revision, Fig. 25, the prover). A secret key makes the prover use CRT
    encryption; the samples are drawn from ``rng``.

    Raises ``InvalidParameters`` for unusable inputs (``x`` outside ``+-2^ell``,
    ``X != x g``, invalid points...). The ciphertext is not re-derived from the
    witness: a mismatched witness gives a proof that fails verification.
    """
    check_witness(key, verifier, ciphertext, x, nonce, level)
    base, statement = _valid_point(g), _valid_point(X)
    if base is None:
        raise InvalidParameters("g must be a valid secp256k1 point other than the identity")
    if statement is None:
        raise InvalidParameters("X must be a valid secp256k1 point other than the identity")
    if SECP256K1.mul(base, x) != statement:
        raise InvalidParameters("X is not x * g")
    n0 = key.n
    b = Bounds.of(verifier.n, level)
    while True:
        alpha = sample_pm(b.z1, rng)
        if alpha % _Q:
            break
    mu = sample_pm(b.mu, rng)
    r = sample_unit(n0, rng)
    gamma = sample_pm(b.gamma, rng)
    big_s = verifier.commit_secret(x, mu)
    big_a = paillier_encrypt(key, alpha, r)
    big_y = SECP256K1.mul(base, alpha)
    big_d = verifier.commit_secret(alpha, gamma)
    e = derive_challenge(
        n0,
        verifier,
        ciphertext,
        statement,
        base,
        (big_s, big_a, big_y, big_d),
        session_id=session_id,
        prover_id=prover_id,
        level=level,
    )
    return LogStarProof(
        S=big_s,
        A=big_a,
        Y=big_y,
        D=big_d,
        z1=alpha + e * x,
        z2=response_nonce(r, nonce, e, n0),
        z3=gamma + e * mu,
    )


def _fail(check: str, message: str) -> InvalidProof:
    return InvalidProof(f"Π_log* rejected: {message}", check=f"pi-log*: {check}")


def verify(
    key: PaillierPublicKey,
    verifier: RingPedersenParams,
    ciphertext: int,
    X: Point,
    proof: LogStarProof,
    *,
    g: Point,
    session_id: bytes,
    prover_id: int,
    level: SecurityLevel = DEFAULT_LEVEL,
) -> None:
    """Raise :class:`InvalidProof` (``check="pi-log*: ..."``) unless ``proof`` shows that
    ``ciphertext`` encrypts under ``key`` the discrete log of ``X`` to the base ``g``,
    with that log in ``+-2^(ell+eps)`` (2021 revision, Fig. 25, the verifier).
    ``verifier`` are the verifying party's OWN ring-Pedersen parameters."""
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
    statement, base, big_y = _valid_point(X), _valid_point(g), _valid_point(proof.Y)
    if statement is None:
        raise _fail("X", "X is not a valid secp256k1 point other than the identity")
    if base is None:
        raise _fail("g", "g is not a valid secp256k1 point other than the identity")
    if not is_unit(proof.S, n_hat):
        raise _fail("S range", "S is not in Z_N̂^*")
    if not is_unit(proof.A, n0_sq):
        raise _fail("A range", "A is not in Z_{N0^2}^*")
    if big_y is None:
        raise _fail("Y", "Y is not a valid secp256k1 point other than the identity")
    if not is_unit(proof.D, n_hat):
        raise _fail("D range", "D is not in Z_N̂^*")
    if not is_unit(proof.z2, n0):
        raise _fail("z2 range", "z2 is not in Z_N0^*")
    b = Bounds.of(n_hat, level)
    if not isinstance(proof.z3, int) or abs(proof.z3) > b.z3:
        raise _fail("z3 size", "|z3| exceeds its honest bound")
    # The paper's range check: z1 in +-2^(ell+eps).
    if not isinstance(proof.z1, int) or abs(proof.z1) > b.z1:
        raise _fail("z1 range", "z1 is outside +-2^(ell+eps)")
    e = derive_challenge(
        n0,
        verifier,
        ciphertext,
        statement,
        base,
        (proof.S, proof.A, big_y, proof.D),
        session_id=session_id,
        prover_id=prover_id,
        level=level,
    )
    # Cheapest equation first: group (~0.1 ms), mod N̂ (~15 ms), mod N0^2 (~30 ms).
    if SECP256K1.mul(base, proof.z1) != SECP256K1.add(big_y, SECP256K1.mul(statement, e)):
        raise _fail("z1 g = Y + e X", "group equation does not hold")
    lhs3 = verifier.commit(proof.z1, proof.z3)
    if lhs3 != proof.D * gmpy2.powmod(proof.S, e, n_hat) % n_hat:
        raise _fail("s^z1 t^z3 = D S^e", "ring-Pedersen equation does not hold")
    lhs1 = paillier_encrypt(key, proof.z1, proof.z2)
    if lhs1 != proof.A * gmpy2.powmod(ciphertext, e, n0_sq) % n0_sq:
        raise _fail("enc(z1; z2) = A C^e", "Paillier equation does not hold")
