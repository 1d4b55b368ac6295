"""Zero-knowledge proofs of CGGMP24 (Canetti, Gennaro, Goldfeder, Makriyannis, Peled;
ePrint 2021/060, 2024-10-21 revision).

The proofs: Π_prm (:mod:`.prm`, Fig. 13), Π_mod (:mod:`.mod`, Fig. 12), Π_fac
(:mod:`.fac`, Fig. 26) of aux info; Π_sch (:mod:`.sch`, Fig. 22) of key generation
and refresh; Π_enc-elg (:mod:`.encelg`, Fig. 24), Π_aff-g (:mod:`.affg`, Fig. 25) and
Π_elog (:mod:`.elog`, Fig. 23) of presigning; Π_aff-g* (:mod:`.affgstar`, Fig. 27)
and Π_dec (:mod:`.dec`, Fig. 28) of its identification round; and the 2021 range
proofs Π_enc (:mod:`.enc`) and Π_log* (:mod:`.logstar`).

What they share: the security parameters (:mod:`.params`), Fiat-Shamir
(:mod:`.transcript`), the byte codec (:mod:`.codec`), small checks and samplers
(:mod:`.checks`) and the error (:mod:`.errors`). See docs/cggmp.md.
"""

from shardvault.crypto.zk.errors import InvalidProof
from shardvault.crypto.zk.params import (
    DEFAULT_LEVEL,
    ELL,
    ELL_PRIME,
    EPSILON,
    ITERATIONS,
    Q,
    SecurityLevel,
)

__all__ = [
    "DEFAULT_LEVEL",
    "ELL",
    "ELL_PRIME",
    "EPSILON",
    "ITERATIONS",
    "InvalidProof",
    "Q",
    "SecurityLevel",
]
