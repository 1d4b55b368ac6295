"""The DER encoding of ECDSA signatures on secp256k1 (SEC 1 section C.5; strict DER as
Bitcoin's BIP 66 requires): ``SEQUENCE { INTEGER r, INTEGER s }`` with minimal
two's-complement integers. What the API answers as ``encoded`` for a raw ECDSA
signature and what a PSBT carries (with ``s`` made low first, BIP 146)."""

from __future__ import annotations

from shardvault.crypto.groups import SECP256K1
from shardvault.errors import InvalidParameters

__all__ = ["der_encode_ecdsa"]

_N = SECP256K1.order


def _der_integer(value: int) -> bytes:
    body = value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")
    if body[0] & 0x80:
        body = b"\x00" + body
    return b"\x02" + bytes([len(body)]) + body


def der_encode_ecdsa(r: int, s: int) -> bytes:
    """``r`` and ``s`` exactly as given (both in ``[1, n)``, so every length fits in
    one byte); raises ``InvalidParameters`` otherwise."""
    if not (0 < r < _N and 0 < s < _N):
        raise InvalidParameters("ECDSA signature scalars out of range")
    body = _der_integer(r) + _der_integer(s)
    return b"\x30" + bytes([len(body)]) + body
