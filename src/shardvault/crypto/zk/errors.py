"""The error a failed zero-knowledge proof raises."""

from __future__ import annotations

from shardvault.errors import ProtocolError

__all__ = ["InvalidProof"]


class InvalidProof(ProtocolError):
    """A zero-knowledge proof failed a check. ``check`` names it (``"pi-mod: ..."``);
    ``blame`` is empty: the protocol that received the proof adds the prover."""
