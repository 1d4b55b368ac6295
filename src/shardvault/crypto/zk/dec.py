"""Π_dec: Paillier special decryption in the exponent (CGGMP24, 2024-10-21 revision,
Section A.6, Fig. 28), used by the presigning identification round. Setup-less (binary
challenges, ``m`` repetitions) so that one broadcast proof convinces every party.

Statement ``(N, K, D, X, S, h, n)``; witness ``(x, y, rho)`` with

* ``K^x D = (1 + N)^y rho^N mod N²``   (``enc_N(y; rho) = (x ⊙ K) ⊕ D``),
* ``X = x G`` (``G`` the secp256k1 generator), ``S = y h`` (``h`` a public base:
  ``G`` for ``delta_i``, ``Gamma`` for ``chi_i``),
* ``|x| <= 2^ell``, ``|y| <= 2^ybits`` with ``ybits = ell' + eps + 1 + ceil(log2 n)``
  (``n`` = number of signers).

So ``S = (dec_N(K^x D) mod q) h``: the plaintext of ``K^x ⊕ D``, read as an integer,
is ``log_h S`` modulo ``q``. The paper states ``|y| <= 2^ell'``; the presigning's
``delta_i`` is a sum of ``n`` terms each proven only up to ``2^(ell'+eps)``, so the
bound is widened by ``eps + 1 + ceil(log2 n)`` bits, as synedrion does (PAPER.md,
"Range of delta_i"). ``N`` must exceed ``2^(ybits+eps+2)`` for the statement to be
meaningful (3072-bit moduli: ``ybits + eps <= 2313`` for 255 signers).

Per repetition (``m = level.m``, 128 by default):

* prover samples ``alpha <- +-2^(ell+eps)``, ``beta <- +-2^(ybits+eps)`` (each
  redrawn if ``= 0 mod q``), ``r <- Z_N^*`` and sends
  ``A = K^-alpha (1 + N)^beta r^N mod N²``, ``B = beta h``, ``C = alpha G``;
* challenge bits ``e_1..e_m``;
* prover: ``z = alpha + e x``, ``w = beta + e y``, ``nu = r rho^e mod N``;
* verifier: ``|z| <= 2^(ell+eps)``, ``|w| <= 2^(ybits+eps)``, ``z G = C + e X``,
  ``w h = B + e S``, ``(1 + N)^w nu^N = A K^z D^e (mod N²)``.

Extra verifier checks: ``N`` odd; ``K, D, A`` in ``Z_N²^*``; ``nu`` in ``Z_N^*``;
``X``, ``h``, ``B``, ``C`` valid non-identity points; ``S`` a secp256k1 point (the
identity is allowed: ``y = 0 mod q``); ``2 <= n <= 2^16``.

Fiat-Shamir transcript (domain ``shardvault/cggmp24/pi-dec/v1``): session-id,
prover-id, curve, ell, eps, ell', n, m, N, K, D, X, S (``b""`` for the identity), h,
then the lists A, B, C; ``e = ChallengeStream.bits(m)``.

Encoding: per repetition ``A`` (width(N²)), ``B``, ``C`` (33 bytes each), ``z``,
``w`` (two's complement on the widths of their bounds), ``nu`` (width(N)).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import gmpy2

from shardvault.crypto.groups import SECP256K1, Point
from shardvault.crypto.paillier import PaillierSecretKey, powmod_sec, sample_unit
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
    "DecProof",
    "Statement",
    "Witness",
    "derive_challenge",
    "prove",
    "verify",
    "y_bits",
]

PROOF_NAME = "pi-dec"
#: m, the number of parallel repetitions (binary challenges). Read at call time.
_PT: Final = SECP256K1.element_size
#: The group order (``alpha``, ``beta`` are redrawn when they are 0 mod q).
_Q: Final = SECP256K1.order
_MAX_PARTIES: Final = 1 << 16


def _z_bound(level: SecurityLevel) -> int:
    """``2^(ell+eps)``: ``alpha`` and the ``z`` range."""
    return 1 << (level.ell + level.epsilon)


def y_bits(parties: int, level: SecurityLevel = DEFAULT_LEVEL) -> int:
    """``ell' + eps + 1 + ceil(log2 parties)``: the bit bound of the witness ``y``."""
    if not _is_int(parties) or not 2 <= parties <= _MAX_PARTIES:
        raise InvalidParameters("pi-dec: the number of parties must be in 2..65536")
    return level.ell_prime + level.epsilon + 1 + (parties - 1).bit_length()


@dataclass(frozen=True, slots=True)
class Statement:
    """``(N, K, D, X, S, h, parties)``: ``enc_N(y) = K^x D`` with ``X = x G``,
    ``S = y h``."""

    n: int
    K: int
    D: int
    X: Point
    S: Point
    h: Point
    parties: int


@dataclass(frozen=True, slots=True, repr=False)
class Witness:
    """``(x, y, rho)``; ``repr`` hides it."""

    x: int
    y: int
    rho: int

    def __repr__(self) -> str:
        return "Witness(hidden)"


@dataclass(frozen=True, slots=True)
class Round:
    """One repetition: ``(A, B, C)`` and ``(z, w, nu)``."""

    A: int
    B: Point
    C: Point
    z: int
    w: int
    nu: int


def _widths(n: int, parties: int, level: SecurityLevel) -> tuple[int, int, int, int]:
    return (
        unsigned_width(n * n),
        signed_width(_z_bound(level)),
        signed_width(1 << (y_bits(parties, level) + level.epsilon)),
        unsigned_width(n),
    )


@dataclass(frozen=True, slots=True)
class DecProof:
    """``m`` repetitions of ``((A, B, C), (z, w, nu))``."""

    rounds: tuple[Round, ...]

    @staticmethod
    def encoded_length(n: int, parties: int, *, level: SecurityLevel = DEFAULT_LEVEL) -> int:
        aw, zw, ww, nw = _widths(n, parties, level)
        return level.m * (aw + 2 * _PT + zw + ww + nw)

    def to_bytes(self, n: int, parties: int, *, level: SecurityLevel = DEFAULT_LEVEL) -> bytes:
        aw, zw, ww, nw = _widths(n, parties, level)
        if len(self.rounds) != level.m:
            raise InvalidEncoding("pi-dec proof: wrong repetition count")
        parts: list[bytes] = []
        for rd in self.rounds:
            try:
                b_enc, c_enc = SECP256K1.encode_point(rd.B), SECP256K1.encode_point(rd.C)
            except InvalidPoint:
                raise InvalidEncoding("pi-dec proof: B or C has no encoding") from None
            parts += [
                encode_unsigned(rd.A, aw),
                b_enc,
                c_enc,
                encode_signed(rd.z, zw),
                encode_signed(rd.w, ww),
                encode_unsigned(rd.nu, nw),
            ]
        return b"".join(parts)

    @classmethod
    def from_bytes(
        cls, data: bytes, n: int, parties: int, *, level: SecurityLevel = DEFAULT_LEVEL
    ) -> DecProof:
        aw, zw, ww, nw = _widths(n, parties, level)
        r = Reader(data, cls.encoded_length(n, parties, level=level), "pi-dec proof")
        rounds = []
        for _ in range(level.m):
            a = r.unsigned(aw, n * n, "A")
            try:
                b = SECP256K1.decode_point(r.take(_PT))
                c = SECP256K1.decode_point(r.take(_PT))
            except InvalidPoint as exc:
                raise InvalidEncoding(f"pi-dec proof: {exc.message}") from None
            z, w = r.signed(zw), r.signed(ww)
            nu = r.unsigned(nw, n, "nu")
            rounds.append(Round(a, b, c, z, w, nu))
        r.finish()
        return cls(tuple(rounds))


def derive_challenge(
    statement: Statement,
    commitments: list[tuple[int, Point, Point]],
    *,
    session_id: bytes,
    prover_id: int,
    level: SecurityLevel = DEFAULT_LEVEL,
) -> tuple[int, ...]:
    """The ``m`` challenge bits for the first messages ``[(A, B, C), ...]`` (Fig. 28,
    Fiat-Shamir)."""
    tr = proof_transcript(PROOF_NAME, session_id, prover_id)
    tr.append("curve", SECP256K1.name.encode())
    tr.append_int("ell", level.ell)
    tr.append_int("epsilon", level.epsilon)
    tr.append_int("ell-prime", level.ell_prime)
    tr.append_int("parties", statement.parties)
    tr.append_int("m", len(commitments))
    tr.append_int("N", statement.n)
    tr.append_int("K", statement.K)
    tr.append_int("D", statement.D)
    tr.append("X", SECP256K1.encode_point(statement.X))
    tr.append("S", statement.S.data)  # b"" for the identity (length-prefixed: injective)
    tr.append("h", SECP256K1.encode_point(statement.h))
    tr.extend("A", [c[0].to_bytes((c[0].bit_length() + 7) // 8, "big") for c in commitments])
    tr.extend("B", [SECP256K1.encode_point(c[1]) for c in commitments])
    tr.extend("C", [SECP256K1.encode_point(c[2]) for c in commitments])
    return ChallengeStream(tr).bits(len(commitments))


# -- helpers ----------------------------------------------------------------------------


def _check_statement(st: Statement) -> str | None:
    if not (_is_int(st.parties) and 2 <= st.parties <= _MAX_PARTIES):
        return "parties"
    if not _is_modulus(st.n):
        return "N"
    if not _is_unit_sq(st.K, st.n):
        return "K range"
    if not _is_unit_sq(st.D, st.n):
        return "D range"
    if not _is_point(st.X):
        return "X point"
    if not _is_point(st.S, identity_ok=True):
        return "S point"
    if not _is_point(st.h):
        return "h point"
    return None


# -- prover -------------------------------------------------------------------------------


def prove(
    key: PaillierSecretKey,
    statement: Statement,
    witness: Witness,
    *,
    session_id: bytes,
    prover_id: int,
    level: SecurityLevel = DEFAULT_LEVEL,
    rng: Rng = OS_RNG,
) -> DecProof:
    """Prove knowledge of ``(x, y, rho)`` for ``statement`` (Fig. 28, the prover;
    samples drawn from ``rng``); ``key`` is the prover's own Paillier secret key for
    ``N`` (CRT for ``A``). ``InvalidParameters`` for a
    malformed statement, a key for another modulus or witness ranges; a witness that
    does not match the statement gives a proof that fails verification."""
    bad = _check_statement(statement)
    if bad is not None:
        raise InvalidParameters(f"pi-dec statement: {bad} check fails")
    n = statement.n
    if key.n != n:
        raise InvalidParameters("pi-dec: key does not match N")
    n2 = n * n
    ybits = y_bits(statement.parties, level)
    x, y, rho = witness.x, witness.y, witness.rho
    if not (_is_int(x) and abs(x) <= 1 << level.ell):
        raise InvalidParameters("pi-dec witness: x must be an integer with |x| <= 2^ell")
    if not (_is_int(y) and abs(y) <= 1 << ybits):
        raise InvalidParameters("pi-dec witness: y is outside +-2^(ell'+eps+1+log n)")
    if not _is_unit(rho, n):
        raise InvalidParameters("pi-dec witness: rho must be in Z_N^*")

    k_inv = int(gmpy2.invert(statement.K, n2))
    w_bound = 1 << (ybits + level.epsilon)
    z_bound = _z_bound(level)
    eph: list[tuple[int, int, int]] = []
    commitments: list[tuple[int, Point, Point]] = []
    for _ in range(level.m):
        while True:
            alpha = sample_pm(z_bound, rng)
            if alpha % _Q:
                break
        while True:
            beta = sample_pm(w_bound, rng)
            if beta % _Q:
                break
        r = sample_unit(n, rng)
        # K^-alpha with alpha secret: powmod_sec on K^-1 (the sign of alpha is not
        # hidden, as elsewhere); enc(beta; r) by CRT.
        k_part = powmod_sec(k_inv, alpha, n2) if alpha > 0 else powmod_sec(statement.K, -alpha, n2)
        big_a = k_part * key.encrypt(beta % n, r) % n2
        eph.append((alpha, beta, r))
        commitments.append(
            (int(big_a), SECP256K1.mul(statement.h, beta), SECP256K1.mul_base(alpha))
        )
    e = derive_challenge(
        statement, commitments, session_id=session_id, prover_id=prover_id, level=level
    )
    rounds = []
    for (alpha, beta, r), (big_a, big_b, big_c), bit in zip(eph, commitments, e, strict=True):
        rounds.append(
            Round(
                big_a,
                big_b,
                big_c,
                z=alpha + bit * x,
                w=beta + bit * y,
                nu=r * rho % n if bit else r,
            )
        )
    return DecProof(tuple(rounds))


# -- verifier -------------------------------------------------------------------------------


def _fail(check: str, message: str) -> InvalidProof:
    return InvalidProof(f"Π_dec rejected: {message}", check=f"{PROOF_NAME}: {check}")


def verify(
    statement: Statement,
    proof: DecProof,
    *,
    session_id: bytes,
    prover_id: int,
    level: SecurityLevel = DEFAULT_LEVEL,
) -> None:
    """Raise :class:`InvalidProof` (``check="pi-dec: ..."``) unless ``proof`` is valid
    for ``statement`` (Fig. 28, the verifier: exactly ``level.m`` repetitions)."""
    bad = _check_statement(statement)
    if bad is not None:
        raise _fail(bad, f"statement fails the {bad} check")
    n = statement.n
    n2 = n * n
    w_bound = 1 << (y_bits(statement.parties, level) + level.epsilon)
    z_bound = _z_bound(level)
    rounds = proof.rounds
    if len(rounds) != level.m:
        raise _fail("repetition count", f"expected {level.m} repetitions")
    for k, rd in enumerate(rounds):
        if not _is_unit_sq(rd.A, n):
            raise _fail("A range", f"A_{k} is not in Z_N²^*")
        if not _is_point(rd.B):
            raise _fail("B point", f"B_{k} is not a valid secp256k1 point")
        if not _is_point(rd.C):
            raise _fail("C point", f"C_{k} is not a valid secp256k1 point")
        if not _is_unit(rd.nu, n):
            raise _fail("nu range", f"nu_{k} is not in Z_N^*")
        if not _is_int(rd.z) or abs(rd.z) > z_bound:
            raise _fail("z range", f"z_{k} is outside +-2^(ell+eps)")
        if not _is_int(rd.w) or abs(rd.w) > w_bound:
            raise _fail("w range", f"w_{k} is outside +-2^(ybits+eps)")
    e = derive_challenge(
        statement,
        [(rd.A, rd.B, rd.C) for rd in rounds],
        session_id=session_id,
        prover_id=prover_id,
        level=level,
    )
    for k, (rd, bit) in enumerate(zip(rounds, e, strict=True)):
        rhs = rd.C + statement.X if bit else rd.C
        if SECP256K1.mul_base(rd.z) != rhs:
            raise _fail("z G = C + e X", f"equation {k} does not hold")
    for k, (rd, bit) in enumerate(zip(rounds, e, strict=True)):
        rhs = rd.B + statement.S if bit else rd.B
        if SECP256K1.mul(statement.h, rd.w) != rhs:
            raise _fail("w h = B + e S", f"equation {k} does not hold")
    for k, (rd, bit) in enumerate(zip(rounds, e, strict=True)):
        lhs = (1 + rd.w * n) % n2 * int(gmpy2.powmod(rd.nu, n, n2)) % n2
        rhs_i = rd.A * int(gmpy2.powmod(statement.K, rd.z, n2)) % n2
        if bit:
            rhs_i = rhs_i * statement.D % n2
        if lhs != rhs_i:
            raise _fail("enc(w; nu) = A K^z D^e", f"N² equation {k} does not hold")
