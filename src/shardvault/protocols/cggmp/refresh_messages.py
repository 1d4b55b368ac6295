"""The messages of CGGMP24 key-share refresh (the share part of Fig. 7, carried over
to Shamir shares), typed and named after the paper, with their byte encodings.

Round 1 is :class:`~shardvault.protocols.cggmp.commit_reveal.MsgCommitment` (``V_i``).

* :class:`MsgRound2` (broadcast): the echo vector of round 1 and the opening
  :class:`RefreshDecommitment`: ``echo (n x 32) || rid_i (32) || u_i (32) ||
  C_i1 .. C_i(t-1) || B_i1 .. B_in`` (33-byte points).
* :class:`MsgRound3` (to one party, secret): ``f_i(j) (32) || z_i1 .. z_in (32 each)``,
  the dealt share and the Π_sch responses ``psi_i^k`` for every dealt share.
* :class:`MsgConfirm` / :class:`MsgComplaint` (round 4, broadcast):
  ``00 || H(sid, rid, t, X, X_1'..X_n')`` or ``01 || accused indices (ascending)``.

Each ``decode`` checks sizes, points (on the curve, not the identity), scalars
(canonical) and indices, and raises ``ProtocolError`` blaming the sender with the
round's ``refresh-roundN-decode`` check.
"""

from __future__ import annotations

import hashlib
from collections.abc import Set
from dataclasses import dataclass

from shardvault.crypto.groups import SECP256K1, Point
from shardvault.crypto.hashing import Transcript
from shardvault.crypto.zk import sch
from shardvault.errors import InvalidEncoding, ProtocolError
from shardvault.protocols.cggmp.common import HASH, decode_errors

__all__ = [
    "RID_SIZE",
    "U_SIZE",
    "MsgComplaint",
    "MsgConfirm",
    "MsgRound2",
    "MsgRound3",
    "RefreshDecommitment",
    "commitment",
    "decode_round4",
]

_G = SECP256K1
#: rid_i: 2 kappa bits of joint randomness (kappa = 128).
RID_SIZE = 32
#: u_i: the commitment's blinding.
U_SIZE = 32
_POINT = _G.element_size  # 33
_SCALAR = _G.scalar_size  # 32
_OK = 0
_COMPLAIN = 1


@dataclass(frozen=True, slots=True)
class RefreshDecommitment:
    """The round-2 opening of ``V_i``: ``(rid_i, u_i, C_i1..C_i(t-1), B_i1..B_in)``.

    ``feldman`` omits ``C_i0`` (the identity: the polynomial has no constant term);
    ``sch_commitments[k]`` is the Π_sch nonce commitment for the share dealt to the
    ``k``-th party in ascending index order. All public.
    """

    rid: bytes
    u: bytes
    feldman: tuple[Point, ...]
    sch_commitments: tuple[Point, ...]

    def to_bytes(self) -> bytes:
        return (
            self.rid
            + self.u
            + b"".join(c.encode() for c in self.feldman)
            + b"".join(b.encode() for b in self.sch_commitments)
        )

    @staticmethod
    def encoded_length(threshold: int, participants: int) -> int:
        return RID_SIZE + U_SIZE + (threshold - 1 + participants) * _POINT

    @classmethod
    def from_bytes(cls, data: bytes, threshold: int, participants: int) -> RefreshDecommitment:
        """Exact length; every point on the curve and not the identity."""
        if len(data) != cls.encoded_length(threshold, participants):
            raise InvalidEncoding("refresh decommitment: wrong length")
        rid, u = data[:RID_SIZE], data[RID_SIZE : RID_SIZE + U_SIZE]
        pos = RID_SIZE + U_SIZE
        points = [
            _G.decode_point(data[pos + k * _POINT : pos + (k + 1) * _POINT])
            for k in range(threshold - 1 + participants)
        ]
        return cls(rid, u, tuple(points[: threshold - 1]), tuple(points[threshold - 1 :]))


def commitment(session_id: bytes, party: int, key: bytes, d: RefreshDecommitment) -> bytes:
    """``V_i = H(sid, i, key, rid_i, C_i, B_i, u_i)`` (injective transcript)."""
    tr = Transcript("shardvault/cggmp24/refresh/commit/v1")
    tr.append("session-id", session_id)
    tr.append_int("party", party)
    tr.append("key", key)
    tr.append("rid", d.rid)
    tr.extend("C", (c.encode() for c in d.feldman))
    tr.extend("B", (b.encode() for b in d.sch_commitments))
    tr.append("u", d.u)
    return hashlib.sha256(tr.encode()).digest()


@dataclass(frozen=True, slots=True)
class MsgRound2:
    """Round 2 (broadcast): the echo vector of round 1 and the opening of ``V_i``."""

    echo: bytes
    decommitment: RefreshDecommitment

    def encode(self) -> bytes:
        return self.echo + self.decommitment.to_bytes()

    @classmethod
    def decode(cls, data: bytes, *, sender: int, parties: int, threshold: int) -> MsgRound2:
        echo_len = parties * HASH
        if len(data) != echo_len + RefreshDecommitment.encoded_length(threshold, parties):
            raise ProtocolError(
                f"round-2 payload of party {sender} has the wrong size",
                blame=(sender,),
                check="refresh-round2-decode",
            )
        with decode_errors(sender, 2, "refresh-round2-decode"):
            decommitment = RefreshDecommitment.from_bytes(data[echo_len:], threshold, parties)
        return cls(data[:echo_len], decommitment)


@dataclass(frozen=True, slots=True, repr=False)
class MsgRound3:
    """Round 3 (to party ``j``, secret): the dealt share ``f_i(j)`` and the Π_sch
    responses for every dealt share ``f_i(k)``, ``k`` ascending. ``repr`` hides the
    share."""

    share: int
    psi: tuple[sch.SchResponse, ...]

    def __repr__(self) -> str:
        return f"MsgRound3(share=<secret>, {len(self.psi)} proofs)"

    def encode(self) -> bytes:
        return _G.encode_scalar(self.share) + b"".join(z.to_bytes() for z in self.psi)

    @classmethod
    def decode(cls, data: bytes, *, sender: int, parties: int) -> MsgRound3:
        with decode_errors(sender, 3, "refresh-round3-decode"):
            if len(data) != _SCALAR + parties * _SCALAR:
                raise InvalidEncoding("wrong length")
            share = _G.decode_scalar(data[:_SCALAR])
            psi = tuple(
                sch.SchResponse.from_bytes(data[_SCALAR * (k + 1) : _SCALAR * (k + 2)])
                for k in range(parties)
            )
        return cls(share, psi)


@dataclass(frozen=True, slots=True)
class MsgConfirm:
    """Round 4 (broadcast): the hash of the new public shares this party computed."""

    confirmation: bytes

    def encode(self) -> bytes:
        return bytes([_OK]) + self.confirmation


@dataclass(frozen=True, slots=True)
class MsgComplaint:
    """Round 4 (broadcast): the parties whose round-3 message to us failed a check."""

    accused: tuple[int, ...]

    def encode(self) -> bytes:
        return bytes([_COMPLAIN]) + bytes(self.accused)


def decode_round4(data: bytes, *, sender: int, parties: Set[int]) -> MsgConfirm | MsgComplaint:
    """A confirmation (``00`` and 32 bytes) or a complaint (``01`` and at least one
    index, strictly ascending, of parties other than the sender); anything else is a
    ``refresh-round4-decode`` failure blaming ``sender``."""
    if len(data) == 1 + HASH and data[0] == _OK:
        return MsgConfirm(data[1:])
    accused = tuple(data[1:])
    if (
        len(data) >= 2
        and data[0] == _COMPLAIN
        and list(accused) == sorted(set(accused))
        and set(accused) <= parties - {sender}
    ):
        return MsgComplaint(accused)
    raise ProtocolError(
        f"round-4 payload of party {sender} is malformed",
        blame=(sender,),
        check="refresh-round4-decode",
    )
