"""The messages of CGGMP24 key-share refresh (the share part of Fig. 7, carried over
to Shamir shares): :mod:`shardvault.protocols.refresh_messages` on secp256k1 (33-byte
points, 32-byte scalars), under the domain ``shardvault/cggmp24/refresh/v2``.

Round 1 is :class:`~shardvault.protocols.commit_reveal.MsgCommitment` (``V_i``).

* ``MsgRound2`` (broadcast): ``echo (n x 32) || rid_i (32) || u_i (32) || E_i (32) ||
  C_i1 .. C_i(t-1) || B_i1 .. B_in`` (``E_i`` the round-3 ephemeral X25519 key).
* ``MsgRound3`` (to one party, secret): ``f_i(j) (32) || z_i1 .. z_in (32 each)``, the
  dealt share and the Π_sch responses, HPKE-sealed to the recipient's ``E_j``
  (``32 || ciphertext || 16`` bytes on the wire).
* ``MsgConfirm`` / ``MsgComplaint`` (round 4, broadcast).

v2 (issue 12): the opening carries ``E_i`` and round 3 is sealed to it; v1 sent the
dealt shares in the clear to the transport, which sealed them to the recipient's
long-term key only.
"""

from __future__ import annotations

from shardvault.protocols.refresh_messages import (
    RID_SIZE,
    U_SIZE,
    MsgComplaint,
    MsgConfirm,
    MsgRound2,
    MsgRound3,
    RefreshDecommitment,
)
from shardvault.protocols.refresh_messages import commitment as _commitment

__all__ = [
    "DOMAIN",
    "RID_SIZE",
    "U_SIZE",
    "MsgComplaint",
    "MsgConfirm",
    "MsgRound2",
    "MsgRound3",
    "RefreshDecommitment",
    "commitment",
]

#: The transcript domain of every CGGMP24 refresh hash (v2: ephemeral-key sealing).
DOMAIN = "shardvault/cggmp24/refresh/v2"


def commitment(session_id: bytes, party: int, key: bytes, d: RefreshDecommitment) -> bytes:
    """``V_i = H(sid, i, key, rid_i, E_i, C_i, B_i, u_i)`` (injective transcript)."""
    return _commitment(f"{DOMAIN}/commit", session_id, party, key, d)
