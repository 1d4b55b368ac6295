"""Small checks and samplers shared by the CGGMP24 proofs (one copy, not one per proof)."""

from __future__ import annotations

from typing import TypeGuard

import gmpy2

from shardvault.crypto.groups import SECP256K1, Point
from shardvault.crypto.rng import Rng
from shardvault.errors import InvalidPoint

__all__ = ["is_int", "is_modulus", "is_point", "is_unit", "is_unit_sq", "sample_pm"]


def sample_pm(bound: int, rng: Rng) -> int:
    """Uniform in ``[-bound, bound]``, drawn from ``rng``."""
    return rng.randbelow(2 * bound + 1) - bound


def is_int(v: object) -> TypeGuard[int]:
    """A Python int that is not a bool."""
    return isinstance(v, int) and not isinstance(v, bool)


def is_unit(v: object, n: int) -> bool:
    """``v`` in ``Z_n^*``: an integer with ``0 < v < n`` and ``gcd(v, n) = 1``."""
    return is_int(v) and 0 < v < n and gmpy2.gcd(v, n) == 1


def is_unit_sq(v: object, n: int, n_squared: int | None = None) -> bool:
    """``v`` in ``Z_{N²}^*``: ``0 < v < N²`` and ``gcd(v, N) = 1``."""
    bound = n * n if n_squared is None else n_squared
    return is_int(v) and 0 < v < bound and gmpy2.gcd(v, n) == 1


def is_modulus(n: object) -> TypeGuard[int]:
    """An odd integer of at least 15 (the statement checks; sizes are checked apart)."""
    return is_int(n) and n >= 15 and n % 2 == 1


def is_point(p: object, *, identity_ok: bool = False) -> bool:
    """A secp256k1 point with a valid encoding (on the curve); not the identity unless
    ``identity_ok``."""
    if not isinstance(p, Point) or p.group is not SECP256K1:
        return False
    if identity_ok and p.is_identity():
        return True
    try:
        SECP256K1.decode_point(p.data)
    except InvalidPoint:
        return False
    return True
