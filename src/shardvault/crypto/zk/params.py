"""The security parameters of the CGGMP24 proofs and protocols, as one value.

:class:`SecurityLevel` plays the part of Lockness ``cggmp21``'s ``SecurityLevel``:
every proof and every protocol that depends on a security parameter takes it as
``level`` and defaults to :data:`DEFAULT_LEVEL`, the values of the paper (ePrint
2021/060, 2024-10-21 revision, the parameters before Section 4.1 and Fig. 12/13's
``m``). The Fiat-Shamir transcripts bind the parameters they use, so a proof made
at one level does not verify at another, and a verifier reads exactly ``m``
repetitions from a proof: it never accepts fewer than its own level asks for.

Tests use smaller levels (fewer repetitions, smaller moduli) for speed; protocol use
keeps the default.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from shardvault.crypto.groups import SECP256K1
from shardvault.crypto.paillier import PROTOCOL_MIN_BITS
from shardvault.errors import InvalidParameters

__all__ = [
    "DEFAULT_LEVEL",
    "ELL",
    "ELL_PRIME",
    "EPSILON",
    "ITERATIONS",
    "Q",
    "SecurityLevel",
]


@dataclass(frozen=True, slots=True)
class SecurityLevel:
    """The parameters of the range proofs, the repetition counts and the modulus size."""

    #: ell: bit bound of honest plaintexts and secrets (paper: 256).
    ell: int = 256
    #: epsilon: slack of the range proofs (paper: 2 ell = 512).
    epsilon: int = 512
    #: ell': bit bound of the affine-operation masks beta (paper: 5 ell = 1280).
    ell_prime: int = 1280
    #: m: repetitions of Π_prm, Π_mod, Π_aff-g* and Π_dec (soundness error 2^-m).
    m: int = 128
    #: q: the challenge space +-q of the range proofs (the secp256k1 group order).
    q: int = SECP256K1.order
    #: Smallest Paillier / ring-Pedersen modulus accepted in aux info (8 kappa bits).
    min_modulus_bits: int = PROTOCOL_MIN_BITS

    def __post_init__(self) -> None:
        for name in ("ell", "epsilon", "ell_prime", "m", "q", "min_modulus_bits"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidParameters(f"security level: {name} must be a positive integer")
        if self.ell_prime < self.ell:
            raise InvalidParameters("security level: ell' must be at least ell")
        if self.q < 2:
            raise InvalidParameters("security level: q must be at least 2")
        if self.min_modulus_bits < 64:
            raise InvalidParameters("security level: min_modulus_bits must be at least 64")


#: The paper's values: what every protocol run uses unless a test asks otherwise.
DEFAULT_LEVEL: Final = SecurityLevel()

#: The default level's values under their paper names.
ELL: Final = DEFAULT_LEVEL.ell
EPSILON: Final = DEFAULT_LEVEL.epsilon
ELL_PRIME: Final = DEFAULT_LEVEL.ell_prime
ITERATIONS: Final = DEFAULT_LEVEL.m
Q: Final = DEFAULT_LEVEL.q
