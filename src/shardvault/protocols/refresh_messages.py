"""The messages of a zero-constant share refresh (:mod:`.refresh_core`), over any
prime-order group, with their byte encodings. CGGMP24 key refresh
(:mod:`.cggmp.refresh`) and FROST refresh (:mod:`.frost.refresh`) both speak them;
points and scalars are encoded by the group (33/32 bytes on secp256k1, 32/32 on
Ed25519).

Round 1 is :class:`~shardvault.protocols.commit_reveal.MsgCommitment` (``V_i``).

* :class:`MsgRound2` (broadcast): the echo vector of round 1 and the opening
  :class:`RefreshDecommitment`: ``echo (n x 32) || rid_i (32) || u_i (32) ||
  E_i (32, X25519 ephemeral key) || C_i1 .. C_i(t-1) || B_i1 .. B_in``.
* :class:`MsgRound3` (to one party, secret): ``f_i(j) || z_i1 .. z_in`` (scalars),
  the dealt share and the proof-of-knowledge responses for every dealt share. On the
  wire it is HPKE-sealed to the recipient's ephemeral key ``E_j``
  (:func:`shardvault.protocols.refresh_core.seal_dealing`).
* :class:`MsgConfirm` / :class:`MsgComplaint` (round 4, broadcast):
  ``00 || confirmation hash (32)`` or ``01 || accused indices (ascending)``.

Each ``decode`` checks sizes, points (valid group elements, not the identity),
scalars (canonical), the ephemeral key (canonical, not of small order) and indices,
and raises ``ProtocolError`` blaming the sender with the round's
``<prefix>-roundN-decode`` check.
"""

from __future__ import annotations

import hashlib
from collections.abc import Set
from dataclasses import dataclass

from shardvault.crypto import hpke
from shardvault.crypto.groups import Group, Point
from shardvault.crypto.hashing import Transcript
from shardvault.errors import InvalidEncoding, ProtocolError
from shardvault.protocols.common import HASH, decode_errors

__all__ = [
    "EPHEMERAL_KEY_SIZE",
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

#: rid_i: 2 kappa bits of joint randomness (kappa = 128).
RID_SIZE = 32
#: u_i: the commitment's blinding.
U_SIZE = 32
#: E_i: the party's X25519 public key for this session's round-3 dealings.
EPHEMERAL_KEY_SIZE = hpke.PUBLIC_KEY_SIZE
_OK = 0
_COMPLAIN = 1


@dataclass(frozen=True, slots=True)
class RefreshDecommitment:
    """The round-2 opening of ``V_i``: ``(rid_i, u_i, E_i, C_i1..C_i(t-1), B_i1..B_in)``.

    ``ephemeral_key`` is the X25519 public key the others seal their round-3
    dealings to; ``feldman`` omits ``C_i0`` (the identity: the polynomial has no
    constant term); ``sch_commitments[k]`` is the proof-of-knowledge nonce
    commitment for the share dealt to the ``k``-th party in ascending index order.
    All public.
    """

    rid: bytes
    u: bytes
    ephemeral_key: bytes
    feldman: tuple[Point, ...]
    sch_commitments: tuple[Point, ...]

    def to_bytes(self) -> bytes:
        return (
            self.rid
            + self.u
            + self.ephemeral_key
            + b"".join(c.encode() for c in self.feldman)
            + b"".join(b.encode() for b in self.sch_commitments)
        )

    @staticmethod
    def encoded_length(group: Group, threshold: int, participants: int) -> int:
        points = threshold - 1 + participants
        return RID_SIZE + U_SIZE + EPHEMERAL_KEY_SIZE + points * group.element_size

    @classmethod
    def from_bytes(
        cls, data: bytes, threshold: int, participants: int, group: Group
    ) -> RefreshDecommitment:
        """Exact length; a valid X25519 key; every point a group element, not the
        identity."""
        if len(data) != cls.encoded_length(group, threshold, participants):
            raise InvalidEncoding("refresh decommitment: wrong length")
        rid, u = data[:RID_SIZE], data[RID_SIZE : RID_SIZE + U_SIZE]
        pos = RID_SIZE + U_SIZE
        ephemeral = hpke.validate_public_key(data[pos : pos + EPHEMERAL_KEY_SIZE])
        pos += EPHEMERAL_KEY_SIZE
        size = group.element_size
        points = [
            group.decode_point(data[pos + k * size : pos + (k + 1) * size])
            for k in range(threshold - 1 + participants)
        ]
        return cls(
            rid, u, ephemeral, tuple(points[: threshold - 1]), tuple(points[threshold - 1 :])
        )


def commitment(
    domain: str, session_id: bytes, party: int, key: bytes, d: RefreshDecommitment
) -> bytes:
    """``V_i = H(sid, i, key, rid_i, E_i, C_i, B_i, u_i)`` (injective transcript under
    ``domain``; ``key`` digests the key being refreshed)."""
    tr = Transcript(domain)
    tr.append("session-id", session_id)
    tr.append_int("party", party)
    tr.append("key", key)
    tr.append("rid", d.rid)
    tr.append("E", d.ephemeral_key)
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
    def decode(
        cls,
        data: bytes,
        *,
        sender: int,
        parties: int,
        threshold: int,
        group: Group,
        check: str,
    ) -> MsgRound2:
        echo_len = parties * HASH
        if len(data) != echo_len + RefreshDecommitment.encoded_length(group, threshold, parties):
            raise ProtocolError(
                f"round-2 payload of party {sender} has the wrong size",
                blame=(sender,),
                check=check,
            )
        with decode_errors(sender, 2, check):
            decommitment = RefreshDecommitment.from_bytes(
                data[echo_len:], threshold, parties, group
            )
        return cls(data[:echo_len], decommitment)


@dataclass(frozen=True, slots=True, repr=False)
class MsgRound3:
    """Round 3 (to party ``j``, secret): the dealt share ``f_i(j)`` and the
    proof-of-knowledge responses ``z`` for every dealt share ``f_i(k)``, ``k``
    ascending. ``repr`` hides the share."""

    share: int
    psi: tuple[int, ...]

    def __repr__(self) -> str:
        return f"MsgRound3(share=<secret>, {len(self.psi)} proofs)"

    def encode(self, group: Group) -> bytes:
        return group.encode_scalar(self.share) + b"".join(group.encode_scalar(z) for z in self.psi)

    @classmethod
    def decode(
        cls, data: bytes, *, sender: int, parties: int, group: Group, check: str
    ) -> MsgRound3:
        size = group.scalar_size
        with decode_errors(sender, 3, check):
            if len(data) != size + parties * size:
                raise InvalidEncoding("wrong length")
            share = group.decode_scalar(data[:size])
            psi = tuple(
                group.decode_scalar(data[size * (k + 1) : size * (k + 2)]) for k in range(parties)
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


def decode_round4(
    data: bytes, *, sender: int, parties: Set[int], check: str
) -> MsgConfirm | MsgComplaint:
    """A confirmation (``00`` and 32 bytes) or a complaint (``01`` and at least one
    index, strictly ascending, of parties other than the sender); anything else is a
    ``check`` failure blaming ``sender``."""
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
        check=check,
    )
