"""CGGMP24 threshold ECDSA protocols (sans-I/O state machines). See docs/cggmp.md."""

from shardvault.protocols.cggmp.aux_info import AuxInfo, AuxInfoGen, AuxInfoPublic
from shardvault.protocols.cggmp.keygen import CggmpKeygen
from shardvault.protocols.cggmp.keyshare import KeyShare

__all__ = ["AuxInfo", "AuxInfoGen", "AuxInfoPublic", "CggmpKeygen", "KeyShare"]
