"""CGGMP24 threshold ECDSA protocols (sans-I/O state machines). See docs/cggmp.md.

The paper's protocols, one state machine each: :class:`AuxInfoGeneration` (Fig. 7,
aux info), :class:`KeyGeneration` (Fig. 6), :class:`KeyRefresh` (Fig. 7, the share
refresh), :class:`Presigning` (Fig. 8, with the identification round of Fig. 9) and
:class:`Signing` (Fig. 10; or :func:`sign_share` and :func:`combine`).
"""

from shardvault.protocols.cggmp.aux_info import AuxInfo, AuxInfoGeneration, AuxInfoPublic
from shardvault.protocols.cggmp.keygen import KeyGeneration
from shardvault.protocols.cggmp.keyshare import KeyShare
from shardvault.protocols.cggmp.presign import Presigning
from shardvault.protocols.cggmp.presignature import Presignature, PresignaturePublic
from shardvault.protocols.cggmp.refresh import KeyRefresh
from shardvault.protocols.cggmp.sign import (
    EcdsaSignature,
    Signing,
    combine,
    sign_share,
    verify_share,
)

__all__ = [
    "AuxInfo",
    "AuxInfoGeneration",
    "AuxInfoPublic",
    "EcdsaSignature",
    "KeyGeneration",
    "KeyRefresh",
    "KeyShare",
    "Presignature",
    "PresignaturePublic",
    "Presigning",
    "Signing",
    "combine",
    "sign_share",
    "verify_share",
]
