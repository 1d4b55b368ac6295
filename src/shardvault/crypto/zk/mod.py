"""Π_mod: ``N`` is a Paillier-Blum modulus (CGGMP24, 2024-10-21 revision, Fig. 12;
the Rmod relation).

Statement ``N``; witness Blum primes ``p, q = 3 mod 4`` with ``N = p q``. The
paper's protocol with ``m`` challenges (``level.m``, 128 by default):

* prover: ``w`` uniform in ``Z_N`` with Jacobi symbol ``(w/N) = -1``;
* challenge: ``y_1..y_m`` in ``Z_N^*`` (Fiat-Shamir, see below);
* prover, for each ``i``: ``a_i, b_i`` in ``{0, 1}`` with
  ``y'_i = (-1)^a_i w^b_i y_i`` a quadratic residue mod ``N``; ``x_i`` the
  principal fourth root of ``y'_i``; ``z_i = y_i^(N^-1 mod phi(N)) mod N``;
* verifier: ``N`` odd and not prime; ``z_i^N = y_i`` and
  ``x_i^4 = (-1)^a_i w^b_i y_i (mod N)`` for every ``i``.

Extra verifier checks (cheap, never violated by an honest prover; docs/security.md
item 11): ``0 < w < N`` with ``(w/N) = -1`` (which implies ``gcd(w, N) = 1``),
``x_i`` and ``z_i`` in ``[1, N)`` with ``gcd(., N) = 1``, flags in ``{0, 1}``,
exactly ``m`` iterations.

Fiat-Shamir transcript (domain ``shardvault/cggmp24/pi-mod/v1``): session-id,
prover-id, m, N, w; ``y_i`` are drawn from the challenge stream by rejection
sampling into ``Z_N^*`` (the paper samples ``Z_N``; non-units occur with
negligible probability for an honest ``N``, and excluding them keeps the
prover total).

Encoding: ``w || (x_i || z_i || flags_i) for i = 1..m`` with elements on
``width(N)`` bytes and ``flags_i = a_i | b_i << 1``; exact length
``width + m * (2 * width + 1)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import gmpy2

from shardvault.crypto.paillier import PaillierSecretKey, crt_combine, powmod_sec
from shardvault.crypto.rng import OS_RNG, Rng
from shardvault.crypto.zk.checks import is_unit
from shardvault.crypto.zk.codec import Reader, encode_unsigned, unsigned_width
from shardvault.crypto.zk.errors import InvalidProof
from shardvault.crypto.zk.params import DEFAULT_LEVEL, SecurityLevel
from shardvault.crypto.zk.transcript import ChallengeStream, proof_transcript
from shardvault.errors import InvalidEncoding, InvalidParameters

__all__ = ["PROOF_NAME", "ModProof", "derive_challenge", "prove", "verify"]

PROOF_NAME = "pi-mod"


@dataclass(frozen=True, slots=True)
class ModProof:
    """``(w, {(x_i, a_i, b_i, z_i)})``; ``a`` and ``b`` hold 0/1."""

    w: int
    x: tuple[int, ...]
    a: tuple[int, ...]
    b: tuple[int, ...]
    z: tuple[int, ...]

    @staticmethod
    def encoded_length(n: int, *, level: SecurityLevel = DEFAULT_LEVEL) -> int:
        w = unsigned_width(n)
        return w + level.m * (2 * w + 1)

    def to_bytes(self, n: int, *, level: SecurityLevel = DEFAULT_LEVEL) -> bytes:
        """Fixed-width encoding for the modulus ``n``."""
        if not len(self.x) == len(self.a) == len(self.b) == len(self.z) == level.m:
            raise InvalidParameters("pi-mod proof must have m iterations")
        width = unsigned_width(n)
        out = [encode_unsigned(self.w, width)]
        for x, a, b, z in zip(self.x, self.a, self.b, self.z, strict=True):
            if a not in (0, 1) or b not in (0, 1):
                raise InvalidEncoding("pi-mod flags must be 0 or 1")
            out += [encode_unsigned(x, width), encode_unsigned(z, width), bytes([a | b << 1])]
        return b"".join(out)

    @classmethod
    def from_bytes(cls, data: bytes, n: int, *, level: SecurityLevel = DEFAULT_LEVEL) -> ModProof:
        width = unsigned_width(n)
        r = Reader(data, cls.encoded_length(n, level=level), "pi-mod proof")
        w = r.unsigned(width, n, "w")
        xs: list[int] = []
        zs: list[int] = []
        as_: list[int] = []
        bs: list[int] = []
        for _ in range(level.m):
            xs.append(r.unsigned(width, n, "x_i"))
            zs.append(r.unsigned(width, n, "z_i"))
            flags = r.byte()
            if flags > 3:
                raise InvalidEncoding("pi-mod proof: flags byte out of range")
            as_.append(flags & 1)
            bs.append(flags >> 1)
        r.finish()
        return cls(w, tuple(xs), tuple(as_), tuple(bs), tuple(zs))


def derive_challenge(
    n: int,
    w: int,
    *,
    session_id: bytes,
    prover_id: int,
    level: SecurityLevel = DEFAULT_LEVEL,
) -> tuple[int, ...]:
    """The challenges ``y_1..y_m`` in ``Z_N^*`` (Fig. 12, Fiat-Shamir)."""
    tr = proof_transcript(PROOF_NAME, session_id, prover_id)
    tr.append_int("m", level.m)
    tr.append_int("N", n)
    tr.append_int("w", w)
    stream = ChallengeStream(tr)
    return tuple(stream.unit(n) for _ in range(level.m))


def prove(
    sk: PaillierSecretKey,
    *,
    session_id: bytes,
    prover_id: int,
    level: SecurityLevel = DEFAULT_LEVEL,
    rng: Rng = OS_RNG,
) -> ModProof:
    """Prove that ``sk.n`` is a Paillier-Blum modulus (``sk`` must have Blum primes):
    Fig. 12's prover, ``w`` drawn from ``rng``."""
    if not sk.is_blum:
        raise InvalidParameters("Π_mod needs Blum primes (p = q = 3 mod 4)")
    p, q, n = sk.p, sk.q, sk.n
    p_inv_q = int(gmpy2.invert(p, q))
    while True:
        w = rng.randbelow(n)
        if gmpy2.jacobi(w, n) == -1:
            break
    ys = derive_challenge(n, w, session_id=session_id, prover_id=prover_id, level=level)
    # z_i = y_i^(N^-1 mod phi) mod N, computed mod p and mod q.
    dp = int(gmpy2.invert(n % (p - 1), p - 1))
    dq = int(gmpy2.invert(n % (q - 1), q - 1))
    # Principal fourth root of a QR c mod a Blum prime p: c^(((p+1)/4)^2 mod (p-1)/2).
    fp = ((p + 1) // 4) ** 2 % ((p - 1) // 2)
    fq = ((q + 1) // 4) ** 2 % ((q - 1) // 2)
    wp, wq = gmpy2.legendre(w, p), gmpy2.legendre(w, q)  # one of them is -1
    xs: list[int] = []
    as_: list[int] = []
    bs: list[int] = []
    zs: list[int] = []
    for y in ys:
        yp, yq = gmpy2.legendre(y, p), gmpy2.legendre(y, q)
        # (-1/p) = (-1/q) = -1 for Blum primes; pick the unique (a, b) making both symbols 1.
        b = 0 if yp == yq else 1
        if b:
            yp, yq = yp * wp, yq * wq
        a = 0 if yp == 1 else 1
        y_prime = y
        if b:
            y_prime = y_prime * w % n
        if a:
            y_prime = n - y_prime
        xp = powmod_sec(y_prime % p, fp, p)
        xq = powmod_sec(y_prime % q, fq, q)
        xs.append(crt_combine(xp, p, xq, q, p_inv_q))
        zp = powmod_sec(y % p, dp, p)
        zq = powmod_sec(y % q, dq, q)
        zs.append(crt_combine(zp, p, zq, q, p_inv_q))
        as_.append(a)
        bs.append(b)
    return ModProof(w, tuple(xs), tuple(as_), tuple(bs), tuple(zs))


def _fail(check: str, message: str) -> InvalidProof:
    return InvalidProof(f"Π_mod rejected: {message}", check=f"pi-mod: {check}")


def verify(
    n: int,
    proof: ModProof,
    *,
    session_id: bytes,
    prover_id: int,
    level: SecurityLevel = DEFAULT_LEVEL,
) -> None:
    """Raise :class:`InvalidProof` (``check="pi-mod: ..."``) unless ``proof`` shows that
    ``n`` is a Paillier-Blum modulus (Fig. 12, the verifier)."""
    if not isinstance(n, int) or n < 3 or n % 2 == 0:
        raise _fail("N odd", "N must be an odd integer > 1")
    if gmpy2.is_prime(n, 30):
        raise _fail("N not prime", "N is prime")
    if not len(proof.x) == len(proof.a) == len(proof.b) == len(proof.z) == level.m:
        raise _fail("iteration count", f"expected {level.m} iterations")
    w = proof.w
    if not isinstance(w, int) or not 0 < w < n:
        raise _fail("w range", "w is not in [1, N)")
    if gmpy2.jacobi(w, n) != -1:
        raise _fail("jacobi(w, N) = -1", "w does not have Jacobi symbol -1")
    for i in range(level.m):
        if proof.a[i] not in (0, 1) or proof.b[i] not in (0, 1):
            raise _fail("flags", f"a_{i}/b_{i} not in {{0, 1}}")
        if not is_unit(proof.x[i], n):
            raise _fail("x_i range/gcd", f"x_{i} is not in Z_N^*")
        if not is_unit(proof.z[i], n):
            raise _fail("z_i range/gcd", f"z_{i} is not in Z_N^*")
    ys = derive_challenge(n, w, session_id=session_id, prover_id=prover_id, level=level)
    for i, y in enumerate(ys):
        if gmpy2.powmod(proof.z[i], n, n) != y:
            raise _fail("z_i^N = y_i", f"iteration {i}: z_i^N != y_i")
        expected = y
        if proof.b[i]:
            expected = expected * w % n
        if proof.a[i]:
            expected = n - expected
        if gmpy2.powmod(proof.x[i], 4, n) != expected:
            raise _fail("x_i^4 = (-1)^a_i w^b_i y_i", f"iteration {i}: fourth root check")
