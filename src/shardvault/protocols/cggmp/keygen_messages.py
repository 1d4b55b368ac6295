"""The messages of CGGMP24 threshold key generation (Fig. 6, carried over to Shamir
shares), typed and named after the paper, with their byte encodings.

Round 1 is :class:`~shardvault.protocols.commit_reveal.MsgCommitment` (``V_i``).

* :class:`MsgRound2` (broadcast): the echo vector of round 1 and the opening
  :class:`Decommitment` ``(rid_i, u_i, A_i, F_i)``:
  ``echo (n x 32) || rid_i (32) || u_i (32) || A_i (33) || F_i0 .. F_i(t-1) (33 each)``.
* :class:`MsgRound3` (to one party, secret): ``sigma_ij (32) || z_i (32)``, the share
  ``f_i(j)`` and the Π_sch response for ``a_i0``.

Each ``decode`` checks sizes, points (on the curve, not the identity) and scalars
(canonical, ``< q``) and raises ``ProtocolError`` blaming the sender with the
round's ``keygen-roundN-decode`` check.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from shardvault.crypto.groups import SECP256K1, Point
from shardvault.crypto.hashing import Transcript
from shardvault.crypto.zk import sch
from shardvault.errors import InvalidEncoding, ProtocolError
from shardvault.protocols.common import HASH, decode_errors

__all__ = ["RID_SIZE", "U_SIZE", "Decommitment", "MsgRound2", "MsgRound3", "commitment"]

_G = SECP256K1
#: rid_i: 2 kappa bits of joint randomness (kappa = 128).
RID_SIZE = 32
#: u_i: the commitment's blinding.
U_SIZE = 32
_POINT = _G.element_size  # 33
_SCALAR = _G.scalar_size  # 32


@dataclass(frozen=True, slots=True)
class Decommitment:
    """The round-2 opening of ``V_i``: ``(rid_i, u_i, A_i, F_i)``. All public."""

    rid: bytes
    u: bytes
    sch_commitment: Point
    feldman: tuple[Point, ...]

    def to_bytes(self) -> bytes:
        return (
            self.rid
            + self.u
            + self.sch_commitment.encode()
            + b"".join(c.encode() for c in self.feldman)
        )

    @staticmethod
    def encoded_length(threshold: int) -> int:
        return RID_SIZE + U_SIZE + _POINT + threshold * _POINT

    @classmethod
    def from_bytes(cls, data: bytes, threshold: int) -> Decommitment:
        """Exact length; every point on the curve and not the identity."""
        if len(data) != cls.encoded_length(threshold):
            raise InvalidEncoding("keygen decommitment: wrong length")
        rid, u = data[:RID_SIZE], data[RID_SIZE : RID_SIZE + U_SIZE]
        pos = RID_SIZE + U_SIZE
        a = _G.decode_point(data[pos : pos + _POINT])
        pos += _POINT
        feldman = tuple(
            _G.decode_point(data[pos + k * _POINT : pos + (k + 1) * _POINT])
            for k in range(threshold)
        )
        return cls(rid, u, a, feldman)


def commitment(
    session_id: bytes, party: int, threshold: int, participants: int, d: Decommitment
) -> bytes:
    """``V_i = H(sid, i, t, n, rid_i, F_i, A_i, u_i)`` (injective transcript)."""
    tr = Transcript("shardvault/cggmp24/keygen/commit/v1")
    tr.append("session-id", session_id)
    tr.append_int("party", party)
    tr.append_int("threshold", threshold)
    tr.append_int("participants", participants)
    tr.append("rid", d.rid)
    tr.extend("F", (c.encode() for c in d.feldman))
    tr.append("A", d.sch_commitment.encode())
    tr.append("u", d.u)
    return hashlib.sha256(tr.encode()).digest()


@dataclass(frozen=True, slots=True)
class MsgRound2:
    """Round 2 (broadcast): the echo vector of round 1 and the opening of ``V_i``."""

    echo: bytes
    decommitment: Decommitment

    def encode(self) -> bytes:
        return self.echo + self.decommitment.to_bytes()

    @classmethod
    def decode(cls, data: bytes, *, sender: int, parties: int, threshold: int) -> MsgRound2:
        echo_len = parties * HASH
        if len(data) != echo_len + Decommitment.encoded_length(threshold):
            raise ProtocolError(
                f"round-2 payload of party {sender} has the wrong size",
                blame=(sender,),
                check="keygen-round2-decode",
            )
        with decode_errors(sender, 2, "keygen-round2-decode"):
            decommitment = Decommitment.from_bytes(data[echo_len:], threshold)
        return cls(data[:echo_len], decommitment)


@dataclass(frozen=True, slots=True, repr=False)
class MsgRound3:
    """Round 3 (to party ``j``, secret): ``sigma_ij = f_i(j)`` and the Π_sch response
    ``psi_i`` for ``a_i0``. ``repr`` hides the share."""

    sigma: int
    psi: sch.SchResponse

    def __repr__(self) -> str:
        return "MsgRound3(sigma=<secret>, psi=...)"

    def encode(self) -> bytes:
        return _G.encode_scalar(self.sigma) + self.psi.to_bytes()

    @classmethod
    def decode(cls, data: bytes, *, sender: int) -> MsgRound3:
        with decode_errors(sender, 3, "keygen-round3-decode"):
            if len(data) != _SCALAR + _SCALAR:
                raise InvalidEncoding("wrong length")
            return cls(_G.decode_scalar(data[:_SCALAR]), sch.SchResponse.from_bytes(data[_SCALAR:]))
