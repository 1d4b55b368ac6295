"""Zero-knowledge proofs of CGGMP24 (Canetti, Gennaro, Goldfeder, Makriyannis, Peled).

Implemented: Π_prm (:mod:`.prm`), Π_mod (:mod:`.mod`), Π_fac (:mod:`.fac`),
Π_enc (:mod:`.enc`, the 2021 range proof), Π_log* (:mod:`.logstar`), Π_sch
(:mod:`.sch`), Π_aff-g (:mod:`.affg`), Π_enc-elg (:mod:`.encelg`) and Π_elog
(:mod:`.elog`) of the 2024 presigning, and Π_aff-g* (:mod:`.affgstar`) and Π_dec
(:mod:`.dec`) of its identification round. Π_fac follows the 2024 revision (no sigma).
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
