"""Zero-knowledge proofs of CGGMP24 (Canetti, Gennaro, Goldfeder, Makriyannis, Peled).

Implemented: Π_prm (:mod:`.prm`), Π_mod (:mod:`.mod`), Π_fac (:mod:`.fac`).
Shared Fiat-Shamir plumbing and parameters: :mod:`.transcript`. See docs/cggmp.md.
"""

from shardvault.crypto.zk.transcript import (
    ELL,
    ELL_PRIME,
    EPSILON,
    ITERATIONS,
    InvalidProof,
    Q,
)

__all__ = ["ELL", "ELL_PRIME", "EPSILON", "ITERATIONS", "InvalidProof", "Q"]
