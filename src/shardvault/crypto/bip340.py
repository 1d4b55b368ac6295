"""BIP 340 Schnorr signatures and the BIP 341 Taproot key tweak, single-key.

This is the reference algorithm of BIP 340 on top of libsecp256k1 point
arithmetic. The threshold protocol (``protocols.frost``) produces signatures
that this ``verify`` (and libsecp256k1's own ``schnorrsig_verify``) accepts.
"""

from __future__ import annotations

from shardvault.crypto.groups import SECP256K1, Point
from shardvault.crypto.hashing import tagged_hash
from shardvault.errors import InvalidEncoding, InvalidParameters, InvalidPoint, InvalidScalar

__all__ = ["public_key", "sign", "taproot_tweak", "tweak_public_key", "verify"]

_G = SECP256K1
_N = SECP256K1.order
_P = SECP256K1.field_prime


def _int(b: bytes) -> int:
    return int.from_bytes(b, "big")


def public_key(seckey: bytes) -> bytes:
    """The 32-byte x-only public key of a 32-byte secret key."""
    d = _int(seckey)
    if len(seckey) != 32 or not (0 < d < _N):
        raise InvalidScalar("BIP 340 secret key must be 32 bytes in [1, n)")
    return _G.xonly(_G.mul_base(d))


def sign(seckey: bytes, msg: bytes, aux_rand: bytes) -> bytes:
    """BIP 340 Sign(sk, m, a) exactly as the reference code."""
    if len(aux_rand) != 32:
        raise InvalidParameters("BIP 340 aux_rand must be 32 bytes")
    d0 = _int(seckey)
    if len(seckey) != 32 or not (0 < d0 < _N):
        raise InvalidScalar("BIP 340 secret key must be 32 bytes in [1, n)")
    p = _G.mul_base(d0)
    d = d0 if _G.has_even_y(p) else _N - d0
    t = (d ^ _int(tagged_hash("BIP0340/aux", aux_rand))).to_bytes(32, "big")
    pk = _G.xonly(p)
    k0 = _int(tagged_hash("BIP0340/nonce", t + pk + msg)) % _N
    if k0 == 0:  # pragma: no cover - probability 2^-256
        raise InvalidParameters("BIP 340 nonce is zero; retry with other aux_rand")
    r = _G.mul_base(k0)
    k = k0 if _G.has_even_y(r) else _N - k0
    rx = _G.xonly(r)
    e = _int(tagged_hash("BIP0340/challenge", rx + pk + msg)) % _N
    sig = rx + ((k + e * d) % _N).to_bytes(32, "big")
    if not verify(pk, msg, sig):  # pragma: no cover - defensive, as the reference does
        raise InvalidParameters("BIP 340 signature failed its own verification")
    return sig


def verify(pubkey: bytes, msg: bytes, sig: bytes) -> bool:
    """BIP 340 Verify(pk, m, sig)."""
    if len(pubkey) != 32 or len(sig) != 64:
        return False
    try:
        p = _G.lift_x(pubkey)
    except InvalidPoint:
        return False
    r = _int(sig[:32])
    s = _int(sig[32:])
    if r >= _P or s >= _N:
        return False
    e = _int(tagged_hash("BIP0340/challenge", sig[:32] + pubkey + msg)) % _N
    big_r = _G.mul_base(s) - p * e
    if big_r.is_identity() or not _G.has_even_y(big_r):
        return False
    return _G.xonly(big_r) == sig[:32]


def taproot_tweak(internal_key: bytes, merkle_root: bytes) -> int:
    """BIP 341 t = hash_TapTweak(xonly(P) || merkle_root); b"" means BIP 86 (no scripts)."""
    if len(internal_key) != 32:
        raise InvalidEncoding("Taproot internal key must be 32 bytes (x-only)")
    if len(merkle_root) not in (0, 32):
        raise InvalidEncoding("Taproot merkle root must be empty or 32 bytes")
    t = _int(tagged_hash("TapTweak", internal_key + merkle_root))
    if t >= _N:  # pragma: no cover - probability 2^-128
        raise InvalidParameters("Taproot tweak is not below the group order")
    return t


def tweak_public_key(internal_key: bytes, merkle_root: bytes) -> tuple[Point, int]:
    """BIP 341 taproot_tweak_pubkey: (Q = lift_x(P) + t G, t). Q may have odd y."""
    t = taproot_tweak(internal_key, merkle_root)
    q = _G.lift_x(internal_key) + _G.mul_base(t)
    if q.is_identity():  # pragma: no cover - needs a discrete log
        raise InvalidParameters("tweaked Taproot key is the point at infinity")
    return q, t
