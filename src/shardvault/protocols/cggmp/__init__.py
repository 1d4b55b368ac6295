"""CGGMP24 threshold ECDSA protocols (sans-I/O state machines). See docs/cggmp.md."""

from shardvault.protocols.cggmp.aux_info import AuxInfo, AuxInfoGen, AuxInfoPublic

__all__ = ["AuxInfo", "AuxInfoGen", "AuxInfoPublic"]
