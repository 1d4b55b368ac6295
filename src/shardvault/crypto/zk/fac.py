"""Π_fac: no small factor (CGGMP24, the Rfac proof), against the VERIFIER's ring-Pedersen
parameters ``(N̂, s, t)``.

Follows the 2024 revision of ePrint 2021/060 (2024-10-21, Appendix A.4,
"Small-Factor Proof", Fig. 26). Unlike the 2021 revision (Fig. 28 there) it has
no ``sigma``: the prover sends no ``sigma``, ``v = r - e nu p`` and ``R = s^N0``
(2021: ``sigma <- +-2^ell N0 N̂`` sent in the clear, ``v = r + e (sigma - nu p)``,
``R = s^N0 t^sigma``; ``sigma`` was public, so it added nothing).

Statement ``N0``; witness ``p, q`` with ``N0 = p q``. Soundness: ``|p|, |q| <=
2^(ell+eps) sqrt(N0)``, hence both factors exceed ``sqrt(N0) / 2^(ell+eps)``
(about ``2^768`` for a 3072-bit ``N0``). Parameters (``level``, by default):
``ell = 256``, ``eps = 512``, challenge ``e`` uniform in ``+-q`` (q = secp256k1 order).

* prover samples ``alpha, beta <- +-2^(ell+eps) sqrt(N0)``, ``mu, nu <- +-2^ell N̂``,
  ``r <- +-2^(ell+eps) N0 N̂``, ``x, y <- +-2^(ell+eps) N̂``
  and sends ``P = s^p t^mu``, ``Q = s^q t^nu``, ``A = s^alpha t^x``,
  ``B = s^beta t^y``, ``T = Q^alpha t^r`` (all mod N̂);
* challenge ``e`` (Fiat-Shamir, see below);
* prover: ``z1 = alpha + e p``, ``z2 = beta + e q``, ``w1 = x + e mu``,
  ``w2 = y + e nu``, ``v = r - e nu p``;
* verifier: ``s^z1 t^w1 = A P^e``, ``s^z2 t^w2 = B Q^e``,
  ``Q^z1 t^v = T R^e`` with ``R = s^N0`` (mod N̂), and
  ``z1, z2 in +-2^(ell+eps) sqrt(N0)``.

"``+-2^(ell+eps) sqrt(N0)``" is evaluated exactly: ``|z| <= isqrt(N0 * 2^(2(ell+eps)))``
(= floor(2^(ell+eps) sqrt(N0))), for sampling and for the range check alike.

Extra verifier checks (never violated by an honest prover): ``P, Q, A, B, T`` in
``Z_N̂^*``; ``|w1|, |w2| <= 2^(ell+eps) N̂ + q 2^ell N̂``,
``|v| <= 2^(ell+eps) N0 N̂ + q 2^ell N̂ N0`` (honest maxima, using ``p < N0``;
they bound the verifier's exponentiation work).

Fiat-Shamir transcript (domain ``shardvault/cggmp24/pi-fac/v1``): session-id,
prover-id, ell, eps, q, N̂, s, t, N0, P, Q, A, B, T; ``e`` is drawn uniformly
from ``[-q, q]`` by rejection sampling.

Encoding: ``P || Q || A || B || T`` on ``width(N̂)`` bytes each, then ``z1``,
``z2``, ``w1``, ``w2``, ``v`` as two's-complement big-endian integers on fixed
widths derived from the bounds above (exact total length).
"""

from __future__ import annotations

from dataclasses import dataclass

import gmpy2

from shardvault.crypto.paillier import PaillierSecretKey, powmod_sec
from shardvault.crypto.ring_pedersen import RingPedersenParams
from shardvault.crypto.rng import OS_RNG, Rng
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
from shardvault.errors import InvalidParameters

__all__ = ["PROOF_NAME", "Bounds", "FacProof", "derive_challenge", "prove", "verify"]

PROOF_NAME = "pi-fac"


@dataclass(frozen=True, slots=True)
class Bounds:
    """The ranges of Π_fac for a prover modulus ``n0`` and verifier modulus ``n_hat``."""

    z: int  # floor(2^(ell+eps) sqrt(N0)): alpha, beta and the z1, z2 range check
    mu: int  # 2^ell N̂
    r: int  # 2^(ell+eps) N0 N̂
    xy: int  # 2^(ell+eps) N̂
    w: int  # honest max |w1|, |w2|
    v: int  # honest max |v| (|e nu p| <= q 2^ell N̂ N0 since p < N0)

    @classmethod
    def of(cls, n0: int, n_hat: int, level: SecurityLevel = DEFAULT_LEVEL) -> Bounds:
        le = level.ell + level.epsilon
        mu = n_hat << level.ell
        xy = n_hat << le
        r = (n0 * n_hat) << le
        return cls(
            z=int(gmpy2.isqrt(n0 << (2 * le))),
            mu=mu,
            r=r,
            xy=xy,
            w=xy + level.q * mu,
            v=r + level.q * mu * n0,
        )


def _widths(n0: int, n_hat: int, level: SecurityLevel) -> tuple[int, tuple[int, ...]]:
    b = Bounds.of(n0, n_hat, level)
    # z1, z2, w1, w2, v
    return unsigned_width(n_hat), tuple(signed_width(x) for x in (b.z, b.z, b.w, b.w, b.v))


@dataclass(frozen=True, slots=True)
class FacProof:
    """``((P, Q, A, B, T), (z1, z2, w1, w2, v))`` (2024 revision: no ``sigma``)."""

    P: int
    Q: int
    A: int
    B: int
    T: int
    z1: int
    z2: int
    w1: int
    w2: int
    v: int

    @staticmethod
    def encoded_length(n0: int, n_hat: int, *, level: SecurityLevel = DEFAULT_LEVEL) -> int:
        ew, sw = _widths(n0, n_hat, level)
        return 5 * ew + sum(sw)

    def to_bytes(self, n0: int, n_hat: int, *, level: SecurityLevel = DEFAULT_LEVEL) -> bytes:
        """Fixed-width encoding for prover modulus ``n0`` and verifier modulus ``n_hat``."""
        ew, sw = _widths(n0, n_hat, level)
        head = [encode_unsigned(v, ew) for v in (self.P, self.Q, self.A, self.B, self.T)]
        tail = [
            encode_signed(v, width)
            for v, width in zip((self.z1, self.z2, self.w1, self.w2, self.v), sw, strict=True)
        ]
        return b"".join(head + tail)

    @classmethod
    def from_bytes(
        cls, data: bytes, n0: int, n_hat: int, *, level: SecurityLevel = DEFAULT_LEVEL
    ) -> FacProof:
        ew, sw = _widths(n0, n_hat, level)
        r = Reader(data, cls.encoded_length(n0, n_hat, level=level), "pi-fac proof")
        big_p, big_q, big_a, big_b, big_t = (r.unsigned(ew, n_hat, f) for f in "PQABT")
        z1, z2, w1, w2, v = (r.signed(width) for width in sw)
        r.finish()
        return cls(big_p, big_q, big_a, big_b, big_t, z1, z2, w1, w2, v)


def derive_challenge(
    n0: int,
    verifier: RingPedersenParams,
    commitment: tuple[int, int, int, int, int],
    *,
    session_id: bytes,
    prover_id: int,
    level: SecurityLevel = DEFAULT_LEVEL,
) -> int:
    """The challenge ``e`` in ``[-q, q]`` for ``commitment = (P, Q, A, B, T)`` (Fig. 26,
    Fiat-Shamir)."""
    tr = proof_transcript(PROOF_NAME, session_id, prover_id)
    tr.append_int("ell", level.ell)
    tr.append_int("epsilon", level.epsilon)
    tr.append_int("q", level.q)
    tr.append_int("N-hat", verifier.n)
    tr.append_int("s", verifier.s)
    tr.append_int("t", verifier.t)
    tr.append_int("N0", n0)
    for label, value in zip("PQABT", commitment, strict=True):
        tr.append_int(label, value)
    return ChallengeStream(tr).signed(level.q)


def prove(
    sk: PaillierSecretKey,
    verifier: RingPedersenParams,
    *,
    session_id: bytes,
    prover_id: int,
    level: SecurityLevel = DEFAULT_LEVEL,
    rng: Rng = OS_RNG,
) -> FacProof:
    """Prove that ``sk.n`` has no small factor, for a verifier whose ring-Pedersen
    parameters are ``verifier`` (Fig. 26, the prover; its samples drawn from ``rng``)."""
    try:
        verifier.validate()
    except InvalidParameters as exc:
        raise InvalidParameters(f"verifier ring-Pedersen parameters: {exc.message}") from None
    p, q, n0 = sk.p, sk.q, sk.n
    n_hat, t = verifier.n, verifier.t
    b = Bounds.of(n0, n_hat, level)
    alpha, beta = sample_pm(b.z, rng), sample_pm(b.z, rng)
    mu, nu = sample_pm(b.mu, rng), sample_pm(b.mu, rng)
    r = sample_pm(b.r, rng)
    x, y = sample_pm(b.xy, rng), sample_pm(b.xy, rng)
    big_p = verifier.commit_secret(p, mu)
    big_q = verifier.commit_secret(q, nu)
    big_a = verifier.commit_secret(alpha, x)
    big_b = verifier.commit_secret(beta, y)
    big_t = powmod_sec(big_q, alpha, n_hat) * powmod_sec(t, r, n_hat) % n_hat
    e = derive_challenge(
        n0,
        verifier,
        (big_p, big_q, big_a, big_b, big_t),
        session_id=session_id,
        prover_id=prover_id,
        level=level,
    )
    return FacProof(
        P=big_p,
        Q=big_q,
        A=big_a,
        B=big_b,
        T=big_t,
        z1=alpha + e * p,
        z2=beta + e * q,
        w1=x + e * mu,
        w2=y + e * nu,
        v=r - e * nu * p,
    )


def _fail(check: str, message: str) -> InvalidProof:
    return InvalidProof(f"Π_fac rejected: {message}", check=f"pi-fac: {check}")


def verify(
    n0: int,
    verifier: RingPedersenParams,
    proof: FacProof,
    *,
    session_id: bytes,
    prover_id: int,
    level: SecurityLevel = DEFAULT_LEVEL,
) -> None:
    """Raise :class:`InvalidProof` (``check="pi-fac: ..."``) unless ``proof`` shows that
    ``n0`` has no factor below ``sqrt(n0) / 2^(ell+eps)`` (Fig. 26, the verifier).
    ``verifier`` are the verifying party's OWN ring-Pedersen parameters."""
    if not isinstance(n0, int) or n0 < 3:
        raise _fail("N0", "N0 must be an integer > 2")
    try:
        verifier.validate()
    except InvalidParameters as exc:
        raise _fail("parameters", exc.message) from None
    n_hat, s, t = verifier.n, verifier.s, verifier.t
    b = Bounds.of(n0, n_hat, level)
    fields = (proof.P, proof.Q, proof.A, proof.B, proof.T)
    for name, value in zip("PQABT", fields, strict=True):
        if not isinstance(value, int) or not 0 < value < n_hat or gmpy2.gcd(value, n_hat) != 1:
            raise _fail(f"{name} range", f"{name} is not in Z_N̂^*")
    sizes = (
        ("w1", proof.w1, b.w),
        ("w2", proof.w2, b.w),
        ("v", proof.v, b.v),
    )
    for name, value, bound in sizes:
        if not isinstance(value, int) or abs(value) > bound:
            raise _fail(f"{name} size", f"|{name}| exceeds its honest bound")
    # The paper's range checks: z1, z2 in +-2^(ell+eps) sqrt(N0).
    for name, value in (("z1", proof.z1), ("z2", proof.z2)):
        if not isinstance(value, int) or abs(value) > b.z:
            raise _fail(f"{name} range", f"{name} is outside +-2^(ell+eps) sqrt(N0)")
    e = derive_challenge(
        n0,
        verifier,
        (proof.P, proof.Q, proof.A, proof.B, proof.T),
        session_id=session_id,
        prover_id=prover_id,
        level=level,
    )
    lhs1 = gmpy2.powmod(s, proof.z1, n_hat) * gmpy2.powmod(t, proof.w1, n_hat) % n_hat
    if lhs1 != proof.A * gmpy2.powmod(proof.P, e, n_hat) % n_hat:
        raise _fail("s^z1 t^w1 = A P^e", "first equation does not hold")
    lhs2 = gmpy2.powmod(s, proof.z2, n_hat) * gmpy2.powmod(t, proof.w2, n_hat) % n_hat
    if lhs2 != proof.B * gmpy2.powmod(proof.Q, e, n_hat) % n_hat:
        raise _fail("s^z2 t^w2 = B Q^e", "second equation does not hold")
    big_r = gmpy2.powmod(s, n0, n_hat)  # R = s^N0 (2024 revision; 2021: s^N0 t^sigma)
    lhs3 = gmpy2.powmod(proof.Q, proof.z1, n_hat) * gmpy2.powmod(t, proof.v, n_hat) % n_hat
    if lhs3 != proof.T * gmpy2.powmod(big_r, e, n_hat) % n_hat:
        raise _fail("Q^z1 t^v = T R^e", "third equation does not hold")
