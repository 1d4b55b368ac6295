"""A CGGMP24 presignature (the output of Fig. 8) and its public part.

Signer ``i`` ends presigning with ``(R, k_i, chi_i)`` (:class:`Presignature`) and a
public part identical at every signer (:class:`PresignaturePublic`): what the
combiner needs to check each partial signature (Fig. 10) and the final signature.
Their byte encodings are :mod:`.presignature_codec`.
"""

from __future__ import annotations

from dataclasses import dataclass

from shardvault.crypto.groups import SECP256K1, Point
from shardvault.errors import InvalidParameters, NonceReused

__all__ = ["Presignature", "PresignaturePublic"]

_Q = SECP256K1.order


@dataclass(frozen=True, slots=True)
class PresignaturePublic:
    """The public part of a presignature, identical at every signer: what the
    combiner needs to check each partial signature (``sigma_j Gamma = m Delta_j +
    r S_j``) and the final signature."""

    session_id: bytes
    signers: tuple[int, ...]
    public_key: Point
    R: Point
    Gamma: Point
    Delta: dict[int, Point]
    S: dict[int, Point]

    @property
    def r(self) -> int:
        """``r = x(R) mod q``."""
        return int.from_bytes(self.R.data[1:], "big") % _Q


class Presignature:
    """Signer ``me``'s presignature ``(R, k_i, chi_i)`` plus the public part. Used at
    most once: ``consume()`` (called by ``sign.sign_share``) marks it spent in memory;
    a persistent pool must also mark it durably BEFORE a partial signature leaves
    (docs/security.md item 15). ``repr`` hides ``k_i`` and ``chi_i``."""

    __slots__ = ("_chi", "_consumed", "_k", "me", "public")

    def __init__(self, me: int, k_i: int, chi_i: int, public: PresignaturePublic) -> None:
        if not (0 < k_i < _Q and 0 <= chi_i < _Q):
            raise InvalidParameters("presignature scalars out of range")
        self.me = me
        self._k = k_i
        self._chi = chi_i
        self.public = public
        self._consumed = False

    @property
    def R(self) -> Point:
        return self.public.R

    @property
    def r(self) -> int:
        return self.public.r

    @property
    def k_i(self) -> int:
        return self._k

    @property
    def chi_i(self) -> int:
        return self._chi

    @property
    def consumed(self) -> bool:
        return self._consumed

    def consume(self) -> tuple[int, int]:
        """``(k_i, chi_i)``, once; a second call raises ``NonceReused``."""
        if self._consumed:
            raise NonceReused("presignature already used", check="presignature-reuse")
        self._consumed = True
        k, chi = self._k, self._chi
        self._k = self._chi = 0
        return k, chi

    def __repr__(self) -> str:
        state = "consumed" if self._consumed else "fresh"
        return (
            f"Presignature(me={self.me}, signers={list(self.public.signers)}, "
            f"R={self.public.R.encode().hex()}, {state}, secrets hidden)"
        )
