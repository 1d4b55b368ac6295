"""CGGMP24 threshold ECDSA protocols (sans-I/O state machines). See docs/cggmp.md."""

from shardvault.protocols.cggmp.aux_info import AuxInfo, AuxInfoGen, AuxInfoPublic
from shardvault.protocols.cggmp.keygen import CggmpKeygen
from shardvault.protocols.cggmp.keyshare import KeyShare
from shardvault.protocols.cggmp.presign import Presign, Presignature, PresignaturePublic
from shardvault.protocols.cggmp.refresh import CggmpRefresh
from shardvault.protocols.cggmp.sign import (
    EcdsaSignature,
    SignOnline,
    combine,
    sign_share,
    verify_share,
)

__all__ = [
    "AuxInfo",
    "AuxInfoGen",
    "AuxInfoPublic",
    "CggmpKeygen",
    "CggmpRefresh",
    "EcdsaSignature",
    "KeyShare",
    "Presign",
    "Presignature",
    "PresignaturePublic",
    "SignOnline",
    "combine",
    "sign_share",
    "verify_share",
]
