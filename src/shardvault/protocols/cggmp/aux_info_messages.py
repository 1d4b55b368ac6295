"""The messages of CGGMP24 aux-info generation (the aux-info part of Fig. 7), typed
and named after the paper, with their byte encodings.

Round 1 is :class:`~shardvault.protocols.commit_reveal.MsgCommitment` (``V_i``).

* :class:`MsgRound2` (broadcast): the echo vector of round 1 and the opening
  :class:`AuxInfoDecommitment` ``(N_i, s_i, t_i, Π_prm, rho_i, u_i)``:
  ``echo (n x 32) || u32 len || N_i || s_i || t_i || Π_prm || rho_i (32) || u_i (32)``.
* :class:`MsgRound3` (to one party): ``echo (n x 32) || Π_mod(N_i) || Π_fac(N_i; N̂_j)``.

The proofs are carried as the bytes sent: Π_prm is part of what ``V_i`` commits to,
and Π_prm, Π_mod and Π_fac are decoded by their own checks, after the echo and the
opening (so a fault is reported in the same order of checks for every party). Each
``decode`` checks the sizes and the ring-Pedersen parameters and raises
``ProtocolError`` blaming the sender with the round's ``aux-roundN-decode`` check.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from shardvault.crypto.hashing import Transcript
from shardvault.crypto.ring_pedersen import RingPedersenParams
from shardvault.crypto.zk import fac, mod, prm
from shardvault.crypto.zk.params import SecurityLevel
from shardvault.errors import InvalidEncoding, ProtocolError
from shardvault.protocols.common import HASH

__all__ = [
    "MAX_MODULUS_BITS",
    "RHO_SIZE",
    "U_SIZE",
    "AuxInfoDecommitment",
    "MsgRound2",
    "MsgRound3",
    "commitment",
]

#: Largest modulus accepted from a peer (bounds the verifier's work).
MAX_MODULUS_BITS = 8192
#: rho_i: 2 kappa bits of shared randomness (kappa = 128 for the hash).
RHO_SIZE = 32
#: u_i: the commitment's blinding.
U_SIZE = 32


def _u32(n: int) -> bytes:
    return n.to_bytes(4, "big")


@dataclass(frozen=True, slots=True)
class AuxInfoDecommitment:
    """The round-2 opening of ``V_i``: ``(N_i, s_i, t_i)``, Π_prm for them (as sent),
    ``rho_i`` and ``u_i``. All public."""

    params: RingPedersenParams
    prm_bytes: bytes
    rho: bytes
    u: bytes


def commitment(
    session_id: bytes,
    party: int,
    params: RingPedersenParams,
    prm_proof: bytes,
    rho: bytes,
    u: bytes,
) -> bytes:
    """``V_i = H(sid, i, N_i, s_i, t_i, Π_prm, rho_i, u_i)`` (injective transcript)."""
    tr = Transcript("shardvault/cggmp24/aux-info/commit/v1")
    tr.append("session-id", session_id)
    tr.append_int("party", party)
    tr.append_int("N", params.n)
    tr.append_int("s", params.s)
    tr.append_int("t", params.t)
    tr.append("pi-prm", prm_proof)
    tr.append("rho", rho)
    tr.append("u", u)
    return hashlib.sha256(tr.encode()).digest()


@dataclass(frozen=True, slots=True)
class MsgRound2:
    """Round 2 (broadcast): the echo vector of round 1 and the opening of ``V_i``."""

    echo: bytes
    decommitment: AuxInfoDecommitment

    def encode(self) -> bytes:
        d = self.decommitment
        params = d.params.to_bytes()
        return b"".join((self.echo, _u32(len(params)), params, d.prm_bytes, d.rho, d.u))

    @classmethod
    def decode(cls, data: bytes, *, sender: int, parties: int, level: SecurityLevel) -> MsgRound2:
        """Exact length, ring-Pedersen parameters of at most ``MAX_MODULUS_BITS`` with
        ``s, t`` in ``Z_N^* minus {1, -1}``, a Π_prm of the length ``N`` and ``level``
        fix; else ``aux-round2-decode`` blaming ``sender``."""

        def fail(why: str) -> ProtocolError:
            return ProtocolError(
                f"round-2 payload of party {sender} is malformed: {why}",
                blame=(sender,),
                check="aux-round2-decode",
            )

        echo_len = parties * HASH
        if len(data) < echo_len + 4:
            raise fail("too short")
        echo = data[:echo_len]
        size = int.from_bytes(data[echo_len : echo_len + 4], "big")
        pos = echo_len + 4
        if size > 3 * (MAX_MODULUS_BITS // 8) or len(data) < pos + size:
            raise fail("parameters truncated or oversized")
        try:
            params = RingPedersenParams.from_bytes(data[pos : pos + size])
        except InvalidEncoding as exc:
            raise fail(exc.message) from None
        pos += size
        prm_len = prm.PrmProof.encoded_length(params.n, level=level)
        if len(data) != pos + prm_len + RHO_SIZE + U_SIZE:
            raise fail("wrong length")
        prm_bytes = data[pos : pos + prm_len]
        pos += prm_len
        rho, u = data[pos : pos + RHO_SIZE], data[pos + RHO_SIZE :]
        return cls(echo, AuxInfoDecommitment(params, prm_bytes, rho, u))


@dataclass(frozen=True, slots=True)
class MsgRound3:
    """Round 3 (to party ``j``): the echo vector of round 2, Π_mod for ``N_i`` and
    Π_fac for ``N_i`` against ``j``'s ring-Pedersen parameters (as sent)."""

    echo: bytes
    mod_proof: bytes
    fac_proof: bytes

    def encode(self) -> bytes:
        return self.echo + self.mod_proof + self.fac_proof

    @classmethod
    def decode(
        cls,
        data: bytes,
        *,
        sender: int,
        parties: int,
        n_sender: int,
        n_receiver: int,
        level: SecurityLevel,
    ) -> MsgRound3:
        """Exact length for the sender's and the receiver's moduli; else
        ``aux-round3-decode`` blaming ``sender``."""
        echo_len = parties * HASH
        mod_len = mod.ModProof.encoded_length(n_sender, level=level)
        fac_len = fac.FacProof.encoded_length(n_sender, n_receiver, level=level)
        if len(data) != echo_len + mod_len + fac_len:
            raise ProtocolError(
                f"round-3 payload of party {sender} has the wrong size",
                blame=(sender,),
                check="aux-round3-decode",
            )
        return cls(data[:echo_len], data[echo_len : echo_len + mod_len], data[echo_len + mod_len :])
