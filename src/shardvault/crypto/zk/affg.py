"""Π_aff-g: Paillier affine operation with group commitment in range (CGGMP24,
2024-10-21 revision, Fig. 25; the Raff-g relation), against the VERIFIER's
ring-Pedersen parameters ``(N̂, s, t)``.

Statement ``(N0, N1, C, D, Y, X)`` with ``C, D`` in ``Z_N0²^*``, ``Y`` in ``Z_N1²^*``
and ``X`` a secp256k1 point; witness ``(x, y, rho, rho_y)`` with

* ``D = C^x (1 + N0)^y rho^N0 mod N0²``   (``D = (x ⊙ C) ⊕ enc_N0(y; rho)``),
* ``Y = (1 + N1)^y rho_y^N1 mod N1²``     (``Y = enc_N1(y; rho_y)``),
* ``X = x G``,
* ``|x| <= 2^ell``, ``|y| <= 2^ell'``, ``rho`` in ``Z_N0^*``, ``rho_y`` in ``Z_N1^*``.

``N0`` is the verifier's Paillier key (``C = K_j``, ``D = D_{j,i}``), ``N1`` the
prover's own key: in the 2024 revision, as in 2021, ``Y`` (``F_{j,i}``) is a
Paillier encryption under the PROVER's key ``N1`` (the Lockness specification,
updated to the revised paper, reads ``Y = enc_{N_i}(y; rho_y)`` with ``N_i`` the
prover's modulus). ``x`` and ``y`` are signed; plaintexts are taken mod ``N`` as
in :mod:`shardvault.crypto.paillier` (``(1 + N)^y = 1 + y N mod N²`` for every
integer ``y``). Soundness: ``|x| <= 2^(ell+eps)``, ``|y| <= 2^(ell'+eps)``.
Parameters (``level``, by default): ``ell = 256``, ``eps = 512``, ``ell' = 1280``,
``e`` uniform in ``+-q``.

* prover samples ``alpha <- +-2^(ell+eps)``, ``beta <- +-2^(ell'+eps)``,
  ``r <- Z_N0^*``, ``r_y <- Z_N1^*``, ``gamma, delta <- +-2^(ell+eps) N̂``,
  ``m, mu <- +-2^ell N̂`` and sends
  ``A = C^alpha (1 + N0)^beta r^N0 mod N0²``, ``B_x = alpha G``,
  ``B_y = (1 + N1)^beta r_y^N1 mod N1²``, ``E = s^alpha t^gamma``,
  ``S = s^x t^m``, ``F = s^beta t^delta``, ``T = s^y t^mu`` (mod N̂);
* challenge ``e`` (Fiat-Shamir, see below);
* prover: ``z1 = alpha + e x``, ``z2 = beta + e y``, ``z3 = gamma + e m``,
  ``z4 = delta + e mu``, ``w = r rho^e mod N0``, ``w_y = r_y rho_y^e mod N1``;
* verifier: ``C^z1 (1 + N0)^z2 w^N0 = A D^e (mod N0²)``, ``z1 G = B_x + e X``,
  ``(1 + N1)^z2 w_y^N1 = B_y Y^e (mod N1²)``, ``s^z1 t^z3 = E S^e``,
  ``s^z2 t^z4 = F T^e`` (mod N̂), ``|z1| <= 2^(ell+eps)``, ``|z2| <= 2^(ell'+eps)``.

Extra verifier checks (never violated by an honest prover): ``N0``, ``N1`` odd,
``C, D, A`` in ``Z_N0²^*``, ``Y, B_y`` in ``Z_N1²^*``, ``E, S, F, T`` in ``Z_N̂^*``,
``w`` in ``Z_N0^*``, ``w_y`` in ``Z_N1^*``, ``X`` and ``B_x`` valid secp256k1 points
other than the identity, ``|z3|, |z4| <= 2^(ell+eps) N̂ + q 2^ell N̂`` (the honest
maximum; it bounds the verifier's exponentiation work). The prover redraws
``alpha`` in the (probability ~2^-256) case ``alpha = 0 mod q`` so that ``B_x`` is
never the identity.

Verification order, cheapest first: statement and proof element checks, sizes,
the paper's two range checks, then ``z1 G = B_x + e X``, the two ring-Pedersen
equations, the ``N0²`` equation and the ``N1²`` equation.

Fiat-Shamir transcript (domain ``shardvault/cggmp24/pi-aff-g/v1``): session-id,
prover-id, curve, ell, eps, ell', q, N̂, s, t, N0, N1, C, D, Y, X, A, B_x, B_y,
E, S, F, T (integers minimal big-endian, points 33-byte compressed); ``e`` is
drawn uniformly from ``[-q, q]`` by rejection sampling.

Encoding: ``A`` on ``width(N0²)`` bytes, ``B_x`` 33 bytes (compressed SEC1),
``B_y`` on ``width(N1²)``, ``E || S || F || T`` on ``width(N̂)`` each, ``z1``, ``z2``,
``z3``, ``z4`` as two's-complement big-endian integers on the widths of their
bounds, ``w`` on ``width(N0)``, ``w_y`` on ``width(N1)`` (exact total length).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import gmpy2

from shardvault.crypto.groups import SECP256K1, Point
from shardvault.crypto.paillier import PaillierSecretKey, powmod_sec, sample_unit
from shardvault.crypto.ring_pedersen import RingPedersenParams
from shardvault.crypto.rng import OS_RNG, Rng
from shardvault.crypto.zk.checks import is_int as _is_int
from shardvault.crypto.zk.checks import is_modulus as _is_modulus
from shardvault.crypto.zk.checks import is_point as _is_point
from shardvault.crypto.zk.checks import is_unit as _is_unit
from shardvault.crypto.zk.checks import is_unit_sq as _is_unit_sq
from shardvault.crypto.zk.checks import sample_pm
from shardvault.crypto.zk.codec import (
    Reader,
    encode_signed,
    encode_unsigned,
    signed_width,
    unsigned_width,
)
from shardvault.crypto.zk.errors import InvalidProof
from shardvault.crypto.zk.params import DEFAULT_LEVEL, SecurityLevel
from shardvault.crypto.zk.transcript import ChallengeStream, proof_transcript
from shardvault.errors import InvalidEncoding, InvalidParameters, InvalidPoint

__all__ = [
    "PROOF_NAME",
    "AffgProof",
    "Bounds",
    "Commitment",
    "Statement",
    "Witness",
    "derive_challenge",
    "prove",
    "verify",
]

PROOF_NAME = "pi-aff-g"
_POINT_WIDTH: Final = SECP256K1.element_size  # 33
#: The group order (``alpha`` is redrawn when ``alpha = 0 mod q``).
_Q: Final = SECP256K1.order

#: ``(A, B_x, B_y, E, S, F, T)``: the prover's first message.
Commitment = tuple[int, Point, int, int, int, int, int]


@dataclass(frozen=True, slots=True)
class Bounds:
    """The ranges of Π_aff-g for a verifier modulus ``n_hat``."""

    x: int  # 2^ell: the prover's x
    y: int  # 2^ell': the prover's y
    z1: int  # 2^(ell+eps): alpha and the z1 range check
    z2: int  # 2^(ell'+eps): beta and the z2 range check
    gamma: int  # 2^(ell+eps) N̂: gamma, delta
    m: int  # 2^ell N̂: m, mu
    z34: int  # honest max |z3|, |z4|

    @classmethod
    def of(cls, n_hat: int, level: SecurityLevel = DEFAULT_LEVEL) -> Bounds:
        gamma = n_hat << (level.ell + level.epsilon)
        m = n_hat << level.ell
        return cls(
            x=1 << level.ell,
            y=1 << level.ell_prime,
            z1=1 << (level.ell + level.epsilon),
            z2=1 << (level.ell_prime + level.epsilon),
            gamma=gamma,
            m=m,
            z34=gamma + level.q * m,
        )


@dataclass(frozen=True, slots=True)
class Statement:
    """Public input ``(N0, N1, C, D, Y, X)``: ``N0`` is the verifier's Paillier modulus
    (``C``, ``D`` encrypted under it), ``N1`` the prover's (``Y`` encrypted under it)."""

    n0: int
    n1: int
    C: int
    D: int
    Y: int
    X: Point


@dataclass(frozen=True, slots=True, repr=False)
class Witness:
    """Secret input ``(x, y, rho, rho_y)``; ``repr`` hides it."""

    x: int
    y: int
    rho: int
    rho_y: int

    def __repr__(self) -> str:
        return "Witness(hidden)"


def _widths(
    n0: int, n1: int, n_hat: int, level: SecurityLevel
) -> tuple[int, int, int, tuple[int, ...], int, int]:
    b = Bounds.of(n_hat, level)
    zw = tuple(signed_width(v) for v in (b.z1, b.z2, b.z34, b.z34))
    return (
        unsigned_width(n0 * n0),
        unsigned_width(n1 * n1),
        unsigned_width(n_hat),
        zw,
        unsigned_width(n0),
        unsigned_width(n1),
    )


@dataclass(frozen=True, slots=True)
class AffgProof:
    """``((A, B_x, B_y, E, S, F, T), (z1, z2, z3, z4, w, w_y))``."""

    A: int
    B_x: Point
    B_y: int
    E: int
    S: int
    F: int
    T: int
    z1: int
    z2: int
    z3: int
    z4: int
    w: int
    w_y: int

    @property
    def commitment(self) -> Commitment:
        return (self.A, self.B_x, self.B_y, self.E, self.S, self.F, self.T)

    @staticmethod
    def encoded_length(
        n0: int, n1: int, n_hat: int, *, level: SecurityLevel = DEFAULT_LEVEL
    ) -> int:
        aw, byw, ew, zw, ww, wyw = _widths(n0, n1, n_hat, level)
        return aw + _POINT_WIDTH + byw + 4 * ew + sum(zw) + ww + wyw

    def to_bytes(
        self, n0: int, n1: int, n_hat: int, *, level: SecurityLevel = DEFAULT_LEVEL
    ) -> bytes:
        """Fixed-width encoding for verifier modulus ``n0``, prover modulus ``n1`` and
        ring-Pedersen modulus ``n_hat``."""
        aw, byw, ew, zw, ww, wyw = _widths(n0, n1, n_hat, level)
        try:
            bx = SECP256K1.encode_point(self.B_x)
        except InvalidPoint:
            raise InvalidEncoding("pi-aff-g proof: B_x has no encoding") from None
        parts = [encode_unsigned(self.A, aw), bx, encode_unsigned(self.B_y, byw)]
        parts += [encode_unsigned(v, ew) for v in (self.E, self.S, self.F, self.T)]
        parts += [
            encode_signed(v, width)
            for v, width in zip((self.z1, self.z2, self.z3, self.z4), zw, strict=True)
        ]
        parts += [encode_unsigned(self.w, ww), encode_unsigned(self.w_y, wyw)]
        return b"".join(parts)

    @classmethod
    def from_bytes(
        cls,
        data: bytes,
        n0: int,
        n1: int,
        n_hat: int,
        *,
        level: SecurityLevel = DEFAULT_LEVEL,
    ) -> AffgProof:
        aw, byw, ew, zw, ww, wyw = _widths(n0, n1, n_hat, level)
        r = Reader(data, cls.encoded_length(n0, n1, n_hat, level=level), "pi-aff-g proof")
        big_a = r.unsigned(aw, n0 * n0, "A")
        try:
            b_x = SECP256K1.decode_point(r.take(_POINT_WIDTH))
        except InvalidPoint as exc:
            raise InvalidEncoding(f"pi-aff-g proof: B_x: {exc.message}") from None
        b_y = r.unsigned(byw, n1 * n1, "B_y")
        big_e, big_s, big_f, big_t = (r.unsigned(ew, n_hat, f) for f in "ESFT")
        z1, z2, z3, z4 = (r.signed(width) for width in zw)
        w = r.unsigned(ww, n0, "w")
        w_y = r.unsigned(wyw, n1, "w_y")
        r.finish()
        return cls(big_a, b_x, b_y, big_e, big_s, big_f, big_t, z1, z2, z3, z4, w, w_y)


def derive_challenge(
    statement: Statement,
    verifier: RingPedersenParams,
    commitment: Commitment,
    *,
    session_id: bytes,
    prover_id: int,
    level: SecurityLevel = DEFAULT_LEVEL,
) -> int:
    """The challenge ``e`` in ``[-q, q]`` for ``commitment = (A, B_x, B_y, E, S, F, T)``
    (Fig. 25, Fiat-Shamir)."""
    tr = proof_transcript(PROOF_NAME, session_id, prover_id)
    tr.append("curve", SECP256K1.name.encode())
    tr.append_int("ell", level.ell)
    tr.append_int("epsilon", level.epsilon)
    tr.append_int("ell-prime", level.ell_prime)
    tr.append_int("q", level.q)
    tr.append_int("N-hat", verifier.n)
    tr.append_int("s", verifier.s)
    tr.append_int("t", verifier.t)
    tr.append_int("N0", statement.n0)
    tr.append_int("N1", statement.n1)
    tr.append_int("C", statement.C)
    tr.append_int("D", statement.D)
    tr.append_int("Y", statement.Y)
    tr.append("X", SECP256K1.encode_point(statement.X))
    big_a, b_x, b_y, big_e, big_s, big_f, big_t = commitment
    tr.append_int("A", big_a)
    tr.append("B_x", SECP256K1.encode_point(b_x))
    tr.append_int("B_y", b_y)
    for label, value in zip("ESFT", (big_e, big_s, big_f, big_t), strict=True):
        tr.append_int(label, value)
    return ChallengeStream(tr).signed(level.q)


# -- helpers ----------------------------------------------------------------------------------


def _check_statement(st: Statement) -> str | None:
    """The name of the first failing structural check of ``st``, or None."""
    if not _is_modulus(st.n0):
        return "N0"
    if not _is_modulus(st.n1):
        return "N1"
    n0sq, n1sq = st.n0 * st.n0, st.n1 * st.n1
    if not _is_unit_sq(st.C, st.n0, n0sq):
        return "C range"
    if not _is_unit_sq(st.D, st.n0, n0sq):
        return "D range"
    if not _is_unit_sq(st.Y, st.n1, n1sq):
        return "Y range"
    if not _is_point(st.X):
        return "X point"
    return None


def _enc_base(n: int, n_squared: int, m: int) -> int:
    """``(1 + N)^m mod N²`` for any integer ``m`` (``= 1 + (m mod N) N``)."""
    return (1 + m * n) % n_squared


#: ``(base, exponent)`` pairs of a product of powers; every base a unit.
_Terms = tuple[tuple[int, int], ...]


def _product(terms: _Terms, mod: int, order: int | None) -> int:
    """``prod base^exp mod mod``; exponents longer than ``order`` (a multiple of the
    order of the unit group, when known) are reduced mod it; short negative ones stay
    negative (``powmod`` inverts the base). Public exponents: ``gmpy2.powmod``."""
    acc = 1
    for base, exp in terms:
        if exp == 1:
            acc = acc * base % mod
            continue
        if order is not None and abs(exp) >= order:
            exp %= order
        acc = acc * gmpy2.powmod(base, exp, mod) % mod
    return int(acc)


def _holds(
    lhs: _Terms, rhs: _Terms, n: int, *, squared: bool, key: PaillierSecretKey | None
) -> bool:
    """``lhs = rhs`` mod ``n`` (``n²`` if ``squared``). With the factorization of ``n``
    (``key``) the equation is checked mod ``p`` and ``q`` (``p²``, ``q²``) with exponents
    reduced mod ``p - 1`` (``p (p - 1)``): equivalent by the CRT, and cheaper. The
    moduli are secret there and the exponents public; plain ``powmod``, as in the CRT
    encryption of crypto/paillier.py."""
    if key is None:
        mod = n * n if squared else n
        return _product(lhs, mod, None) == _product(rhs, mod, None)
    for prime in (key.p, key.q):
        mod = prime * prime if squared else prime
        order = prime * (prime - 1) if squared else prime - 1
        lhs_red = tuple((b % mod, x) for b, x in lhs)
        rhs_red = tuple((b % mod, x) for b, x in rhs)
        if _product(lhs_red, mod, order) != _product(rhs_red, mod, order):
            return False
    return True


# -- prover -----------------------------------------------------------------------------------


def prove(
    statement: Statement,
    witness: Witness,
    verifier: RingPedersenParams,
    *,
    session_id: bytes,
    prover_id: int,
    prover_key: PaillierSecretKey | None = None,
    level: SecurityLevel = DEFAULT_LEVEL,
    rng: Rng = OS_RNG,
) -> AffgProof:
    """Prove knowledge of ``(x, y, rho, rho_y)`` for ``statement`` to the verifier whose
    ring-Pedersen parameters are ``verifier`` (Fig. 25, the prover; its samples drawn
    from ``rng``).

    ``prover_key`` (optional) is the prover's own Paillier secret key for ``N1``; with
    it ``B_y`` is computed with CRT. Raises ``InvalidParameters`` for a malformed
    statement, parameters or witness (``|x| > 2^ell``, ``|y| > 2^ell'``, nonces not
    units). ``D``, ``Y`` and ``X`` are not recomputed from the witness (that would
    cost as much as the proof); a witness that does not match yields a proof that
    fails verification.
    """
    try:
        verifier.validate()
    except InvalidParameters as exc:
        raise InvalidParameters(f"verifier ring-Pedersen parameters: {exc.message}") from None
    bad = _check_statement(statement)
    if bad is not None:
        raise InvalidParameters(f"pi-aff-g statement: {bad} check fails")
    n0, n1 = statement.n0, statement.n1
    n0sq, n1sq = n0 * n0, n1 * n1
    n_hat = verifier.n
    b = Bounds.of(n_hat, level)
    x, y, rho, rho_y = witness.x, witness.y, witness.rho, witness.rho_y
    if not (_is_int(x) and abs(x) <= b.x):
        raise InvalidParameters("pi-aff-g witness: x must be an integer with |x| <= 2^ell")
    if not (_is_int(y) and abs(y) <= b.y):
        raise InvalidParameters("pi-aff-g witness: y must be an integer with |y| <= 2^ell'")
    if not _is_unit(rho, n0):
        raise InvalidParameters("pi-aff-g witness: rho must be in Z_N0^*")
    if not _is_unit(rho_y, n1):
        raise InvalidParameters("pi-aff-g witness: rho_y must be in Z_N1^*")
    if prover_key is not None and prover_key.n != n1:
        raise InvalidParameters("pi-aff-g: prover_key does not match N1")

    while True:
        alpha = sample_pm(b.z1, rng)
        if alpha % _Q:  # B_x = alpha G must not be the identity (probability ~2^-256)
            break
    beta = sample_pm(b.z2, rng)
    r = sample_unit(n0, rng)
    r_y = sample_unit(n1, rng)
    gamma, delta = sample_pm(b.gamma, rng), sample_pm(b.gamma, rng)
    m, mu = sample_pm(b.m, rng), sample_pm(b.m, rng)

    # Secret exponents (alpha, x, y, beta, gamma, delta, m, mu) through powmod_sec; the
    # exponent N of r^N is public (as in crypto/paillier.py).
    big_a = (
        powmod_sec(statement.C, alpha, n0sq)
        * _enc_base(n0, n0sq, beta)
        % n0sq
        * gmpy2.powmod(r, n0, n0sq)
        % n0sq
    )
    b_x = SECP256K1.mul_base(alpha)
    if prover_key is not None:
        b_y = prover_key.encrypt(beta % n1, r_y)
    else:
        b_y = _enc_base(n1, n1sq, beta) * gmpy2.powmod(r_y, n1, n1sq) % n1sq
    big_e = verifier.commit_secret(alpha, gamma)
    big_s = verifier.commit_secret(x, m)
    big_f = verifier.commit_secret(beta, delta)
    big_t = verifier.commit_secret(y, mu)
    commitment: Commitment = (int(big_a), b_x, int(b_y), big_e, big_s, big_f, big_t)
    e = derive_challenge(
        statement, verifier, commitment, session_id=session_id, prover_id=prover_id, level=level
    )
    return AffgProof(
        *commitment,
        z1=alpha + e * x,
        z2=beta + e * y,
        z3=gamma + e * m,
        z4=delta + e * mu,
        w=int(r * gmpy2.powmod(rho, e, n0) % n0),
        w_y=int(r_y * gmpy2.powmod(rho_y, e, n1) % n1),
    )


# -- verifier ---------------------------------------------------------------------------------


def _fail(check: str, message: str) -> InvalidProof:
    return InvalidProof(f"Π_aff-g rejected: {message}", check=f"pi-aff-g: {check}")


def verify(
    statement: Statement,
    verifier: RingPedersenParams,
    proof: AffgProof,
    *,
    session_id: bytes,
    prover_id: int,
    verifier_key: PaillierSecretKey | None = None,
    level: SecurityLevel = DEFAULT_LEVEL,
) -> None:
    """Raise :class:`InvalidProof` (``check="pi-aff-g: ..."``) unless ``proof`` shows
    knowledge of ``(x, y, rho, rho_y)`` for ``statement`` with ``|x| <= 2^(ell+eps)``
    and ``|y| <= 2^(ell'+eps)`` (Fig. 25, the verifier). ``verifier`` are the
    verifying party's OWN ring-Pedersen parameters.

    ``verifier_key`` (optional) is the verifier's own Paillier secret key for ``N0``;
    with it the ``N0²`` equation, and the ring-Pedersen equations when ``N̂ = N0`` (as
    in the 2024 protocol), are checked with CRT. Same checks, same outcome, faster.
    Passing a key for another modulus is a caller error (``InvalidParameters``).
    """
    if verifier_key is not None and verifier_key.n != statement.n0:
        raise InvalidParameters("pi-aff-g: verifier_key does not match N0")
    bad = _check_statement(statement)
    if bad is not None:
        raise _fail(bad, f"statement fails the {bad} check")
    try:
        verifier.validate()
    except InvalidParameters as exc:
        raise _fail("parameters", exc.message) from None
    n0, n1 = statement.n0, statement.n1
    n0sq, n1sq = n0 * n0, n1 * n1
    n_hat = verifier.n
    b = Bounds.of(n_hat, level)

    if not _is_unit_sq(proof.A, n0, n0sq):
        raise _fail("A range", "A is not in Z_N0²^*")
    if not _is_point(proof.B_x):
        raise _fail("B_x point", "B_x is not a valid secp256k1 point")
    if not _is_unit_sq(proof.B_y, n1, n1sq):
        raise _fail("B_y range", "B_y is not in Z_N1²^*")
    for name, value in zip("ESFT", (proof.E, proof.S, proof.F, proof.T), strict=True):
        if not _is_unit(value, n_hat):
            raise _fail(f"{name} range", f"{name} is not in Z_N̂^*")
    if not _is_unit(proof.w, n0):
        raise _fail("w range", "w is not in Z_N0^*")
    if not _is_unit(proof.w_y, n1):
        raise _fail("w_y range", "w_y is not in Z_N1^*")
    for name, value in (("z3", proof.z3), ("z4", proof.z4)):
        if not _is_int(value) or abs(value) > b.z34:
            raise _fail(f"{name} size", f"|{name}| exceeds its honest bound")
    # The paper's range checks: z1 in +-2^(ell+eps), z2 in +-2^(ell'+eps).
    if not _is_int(proof.z1) or abs(proof.z1) > b.z1:
        raise _fail("z1 range", "z1 is outside +-2^(ell+eps)")
    if not _is_int(proof.z2) or abs(proof.z2) > b.z2:
        raise _fail("z2 range", "z2 is outside +-2^(ell'+eps)")

    e = derive_challenge(
        statement,
        verifier,
        proof.commitment,
        session_id=session_id,
        prover_id=prover_id,
        level=level,
    )
    z1, z2 = proof.z1, proof.z2

    if SECP256K1.mul_base(z1) != proof.B_x + SECP256K1.mul(statement.X, e):
        raise _fail("z1 G = B_x + e X", "group equation does not hold")

    rp_key = verifier_key if verifier_key is not None and verifier_key.n == n_hat else None
    s_, t_ = verifier.s, verifier.t
    if not _holds(
        ((s_, z1), (t_, proof.z3)), ((proof.E, 1), (proof.S, e)), n_hat, squared=False, key=rp_key
    ):
        raise _fail("s^z1 t^z3 = E S^e", "first ring-Pedersen equation does not hold")
    if not _holds(
        ((s_, z2), (t_, proof.z4)), ((proof.F, 1), (proof.T, e)), n_hat, squared=False, key=rp_key
    ):
        raise _fail("s^z2 t^z4 = F T^e", "second ring-Pedersen equation does not hold")

    # C^z1 (1 + N0)^z2 w^N0 = A D^e (mod N0²), with (1 + N0)^z2 = 1 + z2 N0.
    if not _holds(
        ((statement.C, z1), (_enc_base(n0, n0sq, z2), 1), (proof.w, n0)),
        ((proof.A, 1), (statement.D, e)),
        n0,
        squared=True,
        key=verifier_key,
    ):
        raise _fail("C^z1 (1+N0)^z2 w^N0 = A D^e", "N0 affine-operation equation does not hold")

    # (1 + N1)^z2 w_y^N1 = B_y Y^e (mod N1²).
    if not _holds(
        ((_enc_base(n1, n1sq, z2), 1), (proof.w_y, n1)),
        ((proof.B_y, 1), (statement.Y, e)),
        n1,
        squared=True,
        key=None,
    ):
        raise _fail("(1+N1)^z2 w_y^N1 = B_y Y^e", "N1 encryption equation does not hold")
