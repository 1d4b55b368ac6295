"""Byte encodings of a CGGMP24 presignature (``presignature.Presignature``) and of
its public part (``presignature.PresignaturePublic``).

``presignature_to_bytes`` carries the secret scalars ``k_i`` and ``chi_i``: a signer
seals it before it stores it (``signer.presig_pool``). ``public_to_bytes`` is the
canonical public part, equal at every signer of the session; the coordinator
decodes it to combine partial signatures. Every decoder is strict: truncated,
trailing or repeated fields and points off the curve raise ``InvalidEncoding``
(read with the CGGMP24 codec's :class:`~shardvault.crypto.zk.codec.Reader`).
"""

from __future__ import annotations

import struct

from shardvault.crypto.groups import SECP256K1, Point
from shardvault.crypto.zk.codec import Reader
from shardvault.errors import InvalidEncoding, InvalidParameters
from shardvault.protocols.cggmp.presignature import Presignature, PresignaturePublic

__all__ = [
    "presignature_from_bytes",
    "presignature_to_bytes",
    "public_from_bytes",
    "public_to_bytes",
]

_MAGIC = b"shardvault/presig/v1\x00"
_U32 = struct.Struct(">I")
_SC = SECP256K1.scalar_size


def _u32(n: int) -> bytes:
    if not 0 <= n < 2**32:
        raise InvalidParameters("presignature field out of range")
    return _U32.pack(n)


def _point(p: Point) -> bytes:
    if p.group is not SECP256K1:
        raise InvalidParameters("presignature points must be on secp256k1")
    if p.is_identity():
        return b"\x00"
    data = p.encode()
    return bytes([len(data)]) + data


def _point_map(m: dict[int, Point]) -> bytes:
    out = [_u32(len(m))]
    for j in sorted(m):
        out += [_u32(j), _point(m[j])]
    return b"".join(out)


def presignature_to_bytes(presig: Presignature) -> bytes:
    """Encode every field of ``presig`` (including the secret scalars ``k_i`` and
    ``chi_i``: seal the result, never store or log it in the clear). A consumed
    presignature has no secrets left and is refused."""
    if presig.consumed:
        raise InvalidParameters("a consumed presignature cannot be stored")
    return b"".join(
        [
            _MAGIC,
            _u32(presig.me),
            presig.k_i.to_bytes(_SC, "big"),
            presig.chi_i.to_bytes(_SC, "big"),
            public_to_bytes(presig.public),
        ]
    )


def public_to_bytes(pub: PresignaturePublic) -> bytes:
    """The public part of a presignature (what the combiner needs), canonical: equal
    bytes at every signer of the session."""
    return b"".join(
        [
            _u32(len(pub.session_id)),
            pub.session_id,
            _u32(len(pub.signers)),
            *(_u32(i) for i in pub.signers),
            _point(pub.public_key),
            _point(pub.R),
            _point(pub.Gamma),
            _point_map(pub.Delta),
            _point_map(pub.S),
        ]
    )


def _point_at(r: Reader) -> Point:
    """A length-prefixed point; length 0 is the identity."""
    n = r.byte()
    if n == 0:
        return SECP256K1.identity
    return SECP256K1.decode_point(r.take(n))


def _point_map_at(r: Reader) -> dict[int, Point]:
    out: dict[int, Point] = {}
    for _ in range(r.u32()):
        j = r.u32()
        if j in out:
            raise InvalidEncoding("presignature encoding repeats a party index")
        out[j] = _point_at(r)
    return out


def presignature_from_bytes(data: bytes) -> Presignature:
    """Inverse of ``presignature_to_bytes``; raises ``InvalidEncoding`` (or
    ``InvalidParameters`` for out-of-range scalars) on anything malformed."""
    r = Reader(data, None, "presignature encoding")
    if r.take(len(_MAGIC)) != _MAGIC:
        raise InvalidEncoding("not a presignature encoding (v1)")
    me = r.u32()
    k_i = SECP256K1.decode_scalar(r.take(_SC))
    chi_i = SECP256K1.decode_scalar(r.take(_SC))
    public = _read_public(r)
    r.finish()
    return Presignature(me, k_i, chi_i, public)


def public_from_bytes(data: bytes) -> PresignaturePublic:
    """Inverse of ``public_to_bytes``; ``InvalidEncoding`` on anything malformed."""
    r = Reader(data, None, "presignature encoding")
    public = _read_public(r)
    r.finish()
    return public


def _read_public(r: Reader) -> PresignaturePublic:
    session_id = r.take(r.u32())
    signers = tuple(r.u32() for _ in range(r.u32()))
    public_key = _point_at(r)
    big_r = _point_at(r)
    gamma = _point_at(r)
    delta = _point_map_at(r)
    s = _point_map_at(r)
    return PresignaturePublic(session_id, signers, public_key, big_r, gamma, delta, s)
