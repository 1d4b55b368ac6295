"""Ring-Pedersen parameters (N̂, s, t) for the CGGMP24 range proofs.

Generation (paper, aux-info round 1; Lockness spec "Provisioning"): with
``N̂ = p q`` a product of two safe primes, sample ``tau`` in ``Z_N̂^*`` and
``lambda`` in ``Z_phi(N̂)``, and set ``t = tau^2 mod N̂``, ``s = t^lambda mod N̂``.
The trapdoor ``lambda`` (and ``p``, ``q``) stay in :class:`RingPedersenSecret`,
whose ``repr`` hides them; only :class:`RingPedersenParams` is published, with
a Π_prm proof (:mod:`shardvault.crypto.zk.prm`) that ``s`` is in ``<t>``.

In CGGMP24 each party's ring-Pedersen modulus is its own Paillier modulus, so
:func:`ring_pedersen_from_paillier` derives the parameters from a Paillier key.
"""

from __future__ import annotations

from dataclasses import dataclass

import gmpy2

from shardvault.crypto.paillier import (
    PaillierSecretKey,
    check_modulus_size,
    crt_powmod_sec,
    powmod_sec,
    sample_unit,
)
from shardvault.crypto.rng import OS_RNG, Rng
from shardvault.crypto.safeprimes import is_safe_prime
from shardvault.errors import InvalidEncoding, InvalidParameters

__all__ = [
    "RingPedersenParams",
    "RingPedersenSecret",
    "generate_ring_pedersen",
    "ring_pedersen_from_paillier",
]


def _is_unit(x: int, n: int) -> bool:
    return 0 < x < n and gmpy2.gcd(x, n) == 1


@dataclass(frozen=True, slots=True)
class RingPedersenParams:
    """Public ring-Pedersen parameters: modulus ``n`` (N̂) and bases ``s``, ``t``."""

    n: int
    s: int
    t: int

    def validate(self, *, min_bits: int | None = None) -> None:
        """Structural checks (Π_prm proves the rest): ``n`` odd, ``s, t`` in ``Z_n^*``
        and neither ``1`` nor ``-1``; optionally ``n`` at least ``min_bits`` bits."""
        for v in (self.n, self.s, self.t):
            if not isinstance(v, int) or isinstance(v, bool):
                raise InvalidParameters("ring-Pedersen parameters must be integers")
        if self.n < 15 or self.n % 2 == 0:
            raise InvalidParameters("ring-Pedersen modulus must be an odd composite")
        if min_bits is not None:
            check_modulus_size(self.n, min_bits)
        for name, v in (("s", self.s), ("t", self.t)):
            if not _is_unit(v, self.n) or v in (1, self.n - 1):
                raise InvalidParameters(f"ring-Pedersen {name} must be in Z_N^* \\ {{1, -1}}")

    def commit(self, x: int, y: int) -> int:
        """``s^x t^y mod N̂`` for public exponents (negative allowed)."""
        return int(gmpy2.powmod(self.s, x, self.n) * gmpy2.powmod(self.t, y, self.n) % self.n)

    def commit_secret(self, x: int, y: int) -> int:
        """``s^x t^y mod N̂`` with ``gmpy2.powmod_sec`` (for the prover's secret exponents)."""
        return powmod_sec(self.s, x, self.n) * powmod_sec(self.t, y, self.n) % self.n

    @property
    def width(self) -> int:
        """Bytes of one element of ``Z_N̂`` in fixed-width encodings."""
        return (self.n.bit_length() + 7) // 8

    def to_bytes(self) -> bytes:
        """``n || s || t``, each big-endian on ``width`` bytes."""
        w = self.width
        return b"".join(v.to_bytes(w, "big") for v in (self.n, self.s, self.t))

    @classmethod
    def from_bytes(cls, data: bytes, *, min_bits: int | None = None) -> RingPedersenParams:
        if not isinstance(data, bytes) or len(data) == 0 or len(data) % 3:
            raise InvalidEncoding("ring-Pedersen parameters: length must be 3 * width")
        w = len(data) // 3
        if data[0] == 0:
            raise InvalidEncoding("ring-Pedersen parameters: modulus not minimal")
        n, s, t = (int.from_bytes(data[i * w : (i + 1) * w], "big") for i in range(3))
        params = cls(n, s, t)
        try:
            params.validate(min_bits=min_bits)
        except InvalidParameters as exc:
            raise InvalidEncoding(f"ring-Pedersen parameters: {exc.message}") from None
        return params


class RingPedersenSecret:
    """Ring-Pedersen parameters with their trapdoor: ``s = t^lam mod N̂``, ``N̂ = p q``."""

    __slots__ = ("_lam", "_p", "_p_inv_q", "_params", "_phi", "_q")

    def __init__(self, p: int, q: int, lam: int, params: RingPedersenParams) -> None:
        if p * q != params.n or p == q:
            raise InvalidParameters("ring-Pedersen modulus must be p * q with p != q")
        phi = (p - 1) * (q - 1)
        if not 0 <= lam < phi:
            raise InvalidParameters("ring-Pedersen trapdoor must be in Z_phi(N)")
        if crt_powmod_sec(params.t, lam, p, q, int(gmpy2.invert(p, q))) != params.s:
            raise InvalidParameters("ring-Pedersen trapdoor does not match s = t^lambda")
        self._p, self._q, self._lam, self._phi = p, q, lam, phi
        self._p_inv_q = int(gmpy2.invert(p, q))
        self._params = params

    def __repr__(self) -> str:
        return f"RingPedersenSecret({self._params.n.bit_length()}-bit N, trapdoor hidden)"

    @property
    def params(self) -> RingPedersenParams:
        return self._params

    @property
    def lam(self) -> int:
        return self._lam

    @property
    def phi(self) -> int:
        return self._phi

    @property
    def p(self) -> int:
        return self._p

    @property
    def q(self) -> int:
        return self._q

    def pow_mod_n(self, base: int, exp: int) -> int:
        """``base^exp mod N̂`` with CRT and ``powmod_sec`` (``base`` in ``Z_N̂^*``)."""
        return crt_powmod_sec(base, exp, self._p, self._q, self._p_inv_q)


def generate_ring_pedersen(
    p: int, q: int, *, check_safe: bool = True, rng: Rng = OS_RNG
) -> RingPedersenSecret:
    """Parameters over ``N̂ = p q`` from two distinct safe primes (CGGMP24 Fig. 7,
    round 1: the ring-Pedersen part of the aux info).

    ``t = tau^2`` for a uniform ``tau`` in ``Z_N̂^*`` (so ``t`` is a uniform
    quadratic residue, a generator of ``QR_N̂`` with overwhelming probability),
    ``lambda`` uniform in ``Z_phi(N̂)``, ``s = t^lambda`` (``powmod_sec``); ``tau`` and
    ``lambda`` are drawn from ``rng``.
    """
    if p == q:
        raise InvalidParameters("ring-Pedersen primes must be distinct")
    if check_safe and not (is_safe_prime(p) and is_safe_prime(q)):
        raise InvalidParameters("ring-Pedersen modulus must be a product of safe primes")
    n = p * q
    phi = (p - 1) * (q - 1)
    p_inv_q = int(gmpy2.invert(p, q))
    while True:
        tau = sample_unit(n, rng)
        t = tau * tau % n
        lam = rng.randbelow(phi)
        s = crt_powmod_sec(t, lam, p, q, p_inv_q)
        if t not in (1, n - 1) and s not in (1, n - 1):
            break
    return RingPedersenSecret(p, q, lam, RingPedersenParams(n, s, t))


def ring_pedersen_from_paillier(sk: PaillierSecretKey, *, rng: Rng = OS_RNG) -> RingPedersenSecret:
    """Ring-Pedersen parameters on a Paillier key's own modulus (CGGMP24 aux info).

    The key must come from safe primes (checked).
    """
    return generate_ring_pedersen(sk.p, sk.q, check_safe=True, rng=rng)
