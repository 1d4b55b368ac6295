"""Π_aff-g*: setup-less Paillier affine operation with group commitment (CGGMP24,
2024-10-21 revision, Fig. 27), used by the presigning identification round.

Same relation as :mod:`.affg` (statement ``(N0, N1, C, D, Y, X)``, witness
``(x, y, rho, rho_y)``):

* ``D = C^x (1 + N0)^y rho^N0 mod N0²``   (``D = (x ⊙ C) ⊕ enc_N0(y; rho)``),
* ``Y = (1 + N1)^y rho_y^N1 mod N1²``     (``Y = enc_N1(y; rho_y)``),
* ``X = x G``, ``|x| <= 2^ell``, ``|y| <= 2^ell'``,

but WITHOUT ring-Pedersen parameters: the proof is broadcast and checked by every
party, so it cannot use one verifier's ``(N̂, s, t)``. Soundness comes from ``m``
parallel repetitions with binary challenges instead (an extractor gets ``x`` and
``y`` from the answers to ``e = 0`` and ``e = 1``). Soundness: ``|x| <= 2^(ell+eps+1)``,
``|y| <= 2^(ell'+eps+1)``, error ``2^-m``.

Per repetition ``k`` (``m = level.m``, 128 by default):

* prover samples ``alpha <- +-2^(ell+eps)`` (redrawn if ``alpha = 0 mod q``),
  ``beta <- +-2^(ell'+eps)``, ``r <- Z_N0^*``, ``s <- Z_N1^*`` and sends
  ``A = C^alpha (1 + N0)^beta r^N0 mod N0²``, ``R = alpha G``,
  ``B = (1 + N1)^beta s^N1 mod N1²``;
* challenge bits ``e_1..e_m`` (Fiat-Shamir over everything, see below);
* prover: ``z = alpha + e x``, ``z' = beta + e y``, ``w = r rho^e mod N0``,
  ``lam = s rho_y^e mod N1``;
* verifier: ``|z| <= 2^(ell+eps)``, ``|z'| <= 2^(ell'+eps)``,
  ``z G = R + e X``, ``C^z (1 + N0)^z' w^N0 = A D^e (mod N0²)``,
  ``(1 + N1)^z' lam^N1 = B Y^e (mod N1²)``.

The sign convention is the paper's (``D`` carries ``+y``); the presigning passes
``y = -beta_{i,j}``, as for Π_aff-g (synedrion instead negates inside the proof).

Extra verifier checks (never failed by an honest prover): ``N0``, ``N1`` odd;
``C, D, A`` in ``Z_N0²^*``; ``Y, B`` in ``Z_N1²^*``; ``w`` in ``Z_N0^*``,
``lam`` in ``Z_N1^*``; ``X`` and ``R`` valid secp256k1 points, not the identity.

Fiat-Shamir transcript (domain ``shardvault/cggmp24/pi-aff-g-star/v1``):
session-id, prover-id, curve, ell, eps, ell', m, N0, N1, C, D, Y, X, then the lists
A (m integers), R (m points), B (m integers); ``e = ChallengeStream.bits(m)``.

Encoding: per repetition ``A`` (width(N0²)), ``R`` (33 bytes), ``B`` (width(N1²)),
``z``, ``z'`` (two's complement on the widths of ``2^(ell+eps)``, ``2^(ell'+eps)``),
``w`` (width(N0)), ``lam`` (width(N1)); exact total length.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import gmpy2

from shardvault.crypto.groups import SECP256K1, Point
from shardvault.crypto.paillier import PaillierSecretKey, powmod_sec, sample_unit
from shardvault.crypto.rng import OS_RNG, Rng
from shardvault.crypto.zk.affg import Statement, Witness
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
    "AffgStarProof",
    "Statement",
    "Witness",
    "derive_challenge",
    "prove",
    "verify",
]

PROOF_NAME = "pi-aff-g-star"
_CHECK = "pi-aff-g*"
_PT: Final = SECP256K1.element_size
#: The group order (``alpha`` is redrawn when ``alpha = 0 mod q``).
_Q: Final = SECP256K1.order


def _z_bound(level: SecurityLevel) -> int:
    """``2^(ell+eps)``: ``alpha`` and the ``z`` range."""
    return 1 << (level.ell + level.epsilon)


def _zp_bound(level: SecurityLevel) -> int:
    """``2^(ell'+eps)``: ``beta`` and the ``z'`` range."""
    return 1 << (level.ell_prime + level.epsilon)


@dataclass(frozen=True, slots=True)
class Round:
    """One repetition: first message ``(A, R, B)`` and answer ``(z, z', w, lam)``."""

    A: int
    R: Point
    B: int
    z: int
    z_prime: int
    w: int
    lam: int


def _widths(n0: int, n1: int, level: SecurityLevel) -> tuple[int, int, int, int, int, int]:
    return (
        unsigned_width(n0 * n0),
        unsigned_width(n1 * n1),
        signed_width(_z_bound(level)),
        signed_width(_zp_bound(level)),
        unsigned_width(n0),
        unsigned_width(n1),
    )


@dataclass(frozen=True, slots=True)
class AffgStarProof:
    """``m`` repetitions of ``((A, R, B), (z, z', w, lam))``."""

    rounds: tuple[Round, ...]

    @staticmethod
    def encoded_length(n0: int, n1: int, *, level: SecurityLevel = DEFAULT_LEVEL) -> int:
        aw, bw, zw, zpw, ww, lw = _widths(n0, n1, level)
        return level.m * (aw + _PT + bw + zw + zpw + ww + lw)

    def to_bytes(self, n0: int, n1: int, *, level: SecurityLevel = DEFAULT_LEVEL) -> bytes:
        aw, bw, zw, zpw, ww, lw = _widths(n0, n1, level)
        if len(self.rounds) != level.m:
            raise InvalidEncoding("pi-aff-g* proof: wrong repetition count")
        parts: list[bytes] = []
        for rd in self.rounds:
            try:
                r_enc = SECP256K1.encode_point(rd.R)
            except InvalidPoint:
                raise InvalidEncoding("pi-aff-g* proof: R has no encoding") from None
            parts += [
                encode_unsigned(rd.A, aw),
                r_enc,
                encode_unsigned(rd.B, bw),
                encode_signed(rd.z, zw),
                encode_signed(rd.z_prime, zpw),
                encode_unsigned(rd.w, ww),
                encode_unsigned(rd.lam, lw),
            ]
        return b"".join(parts)

    @classmethod
    def from_bytes(
        cls, data: bytes, n0: int, n1: int, *, level: SecurityLevel = DEFAULT_LEVEL
    ) -> AffgStarProof:
        aw, bw, zw, zpw, ww, lw = _widths(n0, n1, level)
        r = Reader(data, cls.encoded_length(n0, n1, level=level), "pi-aff-g* proof")
        rounds = []
        for _ in range(level.m):
            a = r.unsigned(aw, n0 * n0, "A")
            try:
                big_r = SECP256K1.decode_point(r.take(_PT))
            except InvalidPoint as exc:
                raise InvalidEncoding(f"pi-aff-g* proof: R: {exc.message}") from None
            b = r.unsigned(bw, n1 * n1, "B")
            z, zp = r.signed(zw), r.signed(zpw)
            w = r.unsigned(ww, n0, "w")
            lam = r.unsigned(lw, n1, "lam")
            rounds.append(Round(a, big_r, b, z, zp, w, lam))
        r.finish()
        return cls(tuple(rounds))


def derive_challenge(
    statement: Statement,
    commitments: list[tuple[int, Point, int]],
    *,
    session_id: bytes,
    prover_id: int,
    level: SecurityLevel = DEFAULT_LEVEL,
) -> tuple[int, ...]:
    """The ``m`` challenge bits for the first messages ``[(A, R, B), ...]`` (Fig. 27,
    Fiat-Shamir)."""
    tr = proof_transcript(PROOF_NAME, session_id, prover_id)
    tr.append("curve", SECP256K1.name.encode())
    tr.append_int("ell", level.ell)
    tr.append_int("epsilon", level.epsilon)
    tr.append_int("ell-prime", level.ell_prime)
    tr.append_int("m", len(commitments))
    tr.append_int("N0", statement.n0)
    tr.append_int("N1", statement.n1)
    tr.append_int("C", statement.C)
    tr.append_int("D", statement.D)
    tr.append_int("Y", statement.Y)
    tr.append("X", SECP256K1.encode_point(statement.X))
    tr.extend("A", [c[0].to_bytes((c[0].bit_length() + 7) // 8, "big") for c in commitments])
    tr.extend("R", [SECP256K1.encode_point(c[1]) for c in commitments])
    tr.extend("B", [c[2].to_bytes((c[2].bit_length() + 7) // 8, "big") for c in commitments])
    return ChallengeStream(tr).bits(len(commitments))


# -- helpers ----------------------------------------------------------------------------


def _check_statement(st: Statement) -> str | None:
    if not _is_modulus(st.n0):
        return "N0"
    if not _is_modulus(st.n1):
        return "N1"
    if not _is_unit_sq(st.C, st.n0):
        return "C range"
    if not _is_unit_sq(st.D, st.n0):
        return "D range"
    if not _is_unit_sq(st.Y, st.n1):
        return "Y range"
    if not _is_point(st.X):
        return "X point"
    return None


def _pow_n_sq(base: int, n: int, key: PaillierSecretKey | None) -> int:
    """``base^N mod N²`` for ``base`` in ``Z_N^*``; with N's secret key, as
    ``Enc(0; base)`` (CRT, the key's precomputed constants)."""
    if key is None:
        return int(gmpy2.powmod(base, n, n * n))
    return key.encrypt(0, base)


# -- prover -------------------------------------------------------------------------------


def prove(
    statement: Statement,
    witness: Witness,
    *,
    session_id: bytes,
    prover_id: int,
    prover_key: PaillierSecretKey | None = None,
    level: SecurityLevel = DEFAULT_LEVEL,
    rng: Rng = OS_RNG,
) -> AffgStarProof:
    """Prove knowledge of ``(x, y, rho, rho_y)`` for ``statement`` (Fig. 27, the
    prover; publicly verifiable: no verifier parameters; samples drawn from ``rng``).
    ``prover_key`` (optional) is the prover's secret key for ``N1`` (CRT for ``B``).
    ``InvalidParameters`` for a malformed statement or witness ranges; a witness that
    does not match ``D``/``Y``/``X`` gives a proof that fails verification."""
    bad = _check_statement(statement)
    if bad is not None:
        raise InvalidParameters(f"pi-aff-g* statement: {bad} check fails")
    n0, n1 = statement.n0, statement.n1
    n0sq, n1sq = n0 * n0, n1 * n1
    x, y, rho, rho_y = witness.x, witness.y, witness.rho, witness.rho_y
    if not (_is_int(x) and abs(x) <= 1 << level.ell):
        raise InvalidParameters("pi-aff-g* witness: x must be an integer with |x| <= 2^ell")
    if not (_is_int(y) and abs(y) <= 1 << level.ell_prime):
        raise InvalidParameters("pi-aff-g* witness: y must be an integer with |y| <= 2^ell'")
    if not _is_unit(rho, n0):
        raise InvalidParameters("pi-aff-g* witness: rho must be in Z_N0^*")
    if not _is_unit(rho_y, n1):
        raise InvalidParameters("pi-aff-g* witness: rho_y must be in Z_N1^*")
    if prover_key is not None and prover_key.n != n1:
        raise InvalidParameters("pi-aff-g*: prover_key does not match N1")

    z_bound, zp_bound = _z_bound(level), _zp_bound(level)
    eph: list[tuple[int, int, int, int]] = []
    commitments: list[tuple[int, Point, int]] = []
    for _ in range(level.m):
        while True:
            alpha = sample_pm(z_bound, rng)
            if alpha % _Q:
                break
        beta = sample_pm(zp_bound, rng)
        r, s = sample_unit(n0, rng), sample_unit(n1, rng)
        # alpha, beta secret: C^alpha through powmod_sec; (1 + N)^beta = 1 + beta N.
        big_a = (
            powmod_sec(statement.C, alpha, n0sq)
            * ((1 + beta * n0) % n0sq)
            % n0sq
            * int(gmpy2.powmod(r, n0, n0sq))
            % n0sq
        )
        if prover_key is not None:
            big_b = prover_key.encrypt(beta % n1, s)
        else:
            big_b = (1 + beta * n1) % n1sq * int(gmpy2.powmod(s, n1, n1sq)) % n1sq
        eph.append((alpha, beta, r, s))
        commitments.append((int(big_a), SECP256K1.mul_base(alpha), int(big_b)))
    e = derive_challenge(
        statement, commitments, session_id=session_id, prover_id=prover_id, level=level
    )
    rounds = []
    for (alpha, beta, r, s), (big_a, big_r, big_b), bit in zip(eph, commitments, e, strict=True):
        rounds.append(
            Round(
                big_a,
                big_r,
                big_b,
                z=alpha + bit * x,
                z_prime=beta + bit * y,
                w=r * rho % n0 if bit else r,
                lam=s * rho_y % n1 if bit else s,
            )
        )
    return AffgStarProof(tuple(rounds))


# -- verifier -------------------------------------------------------------------------------


def _fail(check: str, message: str) -> InvalidProof:
    return InvalidProof(f"Π_aff-g* rejected: {message}", check=f"{_CHECK}: {check}")


def verify(
    statement: Statement,
    proof: AffgStarProof,
    *,
    session_id: bytes,
    prover_id: int,
    verifier_key: PaillierSecretKey | None = None,
    level: SecurityLevel = DEFAULT_LEVEL,
) -> None:
    """Raise :class:`InvalidProof` (``check="pi-aff-g*: ..."``) unless ``proof`` is
    valid for ``statement`` (Fig. 27, the verifier: exactly ``level.m`` repetitions).
    ``verifier_key`` (optional): the secret key of ``N0`` when the verifier owns it
    (CRT for ``w^N0``); same outcome, faster."""
    if verifier_key is not None and verifier_key.n != statement.n0:
        raise InvalidParameters("pi-aff-g*: verifier_key does not match N0")
    bad = _check_statement(statement)
    if bad is not None:
        raise _fail(bad, f"statement fails the {bad} check")
    n0, n1 = statement.n0, statement.n1
    n0sq, n1sq = n0 * n0, n1 * n1
    rounds = proof.rounds
    if len(rounds) != level.m:
        raise _fail("repetition count", f"expected {level.m} repetitions")
    z_bound, zp_bound = _z_bound(level), _zp_bound(level)
    for k, rd in enumerate(rounds):
        if not _is_unit_sq(rd.A, n0):
            raise _fail("A range", f"A_{k} is not in Z_N0²^*")
        if not _is_point(rd.R):
            raise _fail("R point", f"R_{k} is not a valid secp256k1 point")
        if not _is_unit_sq(rd.B, n1):
            raise _fail("B range", f"B_{k} is not in Z_N1²^*")
        if not _is_unit(rd.w, n0):
            raise _fail("w range", f"w_{k} is not in Z_N0^*")
        if not _is_unit(rd.lam, n1):
            raise _fail("lam range", f"lam_{k} is not in Z_N1^*")
        if not _is_int(rd.z) or abs(rd.z) > z_bound:
            raise _fail("z range", f"z_{k} is outside +-2^(ell+eps)")
        if not _is_int(rd.z_prime) or abs(rd.z_prime) > zp_bound:
            raise _fail("z' range", f"z'_{k} is outside +-2^(ell'+eps)")
    e = derive_challenge(
        statement,
        [(rd.A, rd.R, rd.B) for rd in rounds],
        session_id=session_id,
        prover_id=prover_id,
        level=level,
    )
    for k, (rd, bit) in enumerate(zip(rounds, e, strict=True)):
        rhs = rd.R + statement.X if bit else rd.R
        if SECP256K1.mul_base(rd.z) != rhs:
            raise _fail("z G = R + e X", f"group equation {k} does not hold")
    for k, (rd, bit) in enumerate(zip(rounds, e, strict=True)):
        lhs = (
            int(gmpy2.powmod(statement.C, rd.z, n0sq))
            * ((1 + rd.z_prime * n0) % n0sq)
            % n0sq
            * _pow_n_sq(rd.w, n0, verifier_key)
            % n0sq
        )
        rhs_i = rd.A * statement.D % n0sq if bit else rd.A
        if lhs != rhs_i:
            raise _fail("C^z (1+N0)^z' w^N0 = A D^e", f"N0 equation {k} does not hold")
    for k, (rd, bit) in enumerate(zip(rounds, e, strict=True)):
        lhs = (1 + rd.z_prime * n1) % n1sq * int(gmpy2.powmod(rd.lam, n1, n1sq)) % n1sq
        rhs_i = rd.B * statement.Y % n1sq if bit else rd.B
        if lhs != rhs_i:
            raise _fail("(1+N1)^z' lam^N1 = B Y^e", f"N1 equation {k} does not hold")
