"""Hash helpers: RFC 9380 expand_message_xmd / hash_to_field, BIP 340 tagged hashes,
and an injective length-prefixed transcript for domain-separated challenges."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

__all__ = [
    "Transcript",
    "expand_message_xmd_sha256",
    "hash_to_field_sha256",
    "tagged_hash",
]


def expand_message_xmd_sha256(msg: bytes, dst: bytes, len_in_bytes: int) -> bytes:
    """RFC 9380 section 5.3.1 with H = SHA-256 (b_in_bytes 32, s_in_bytes 64)."""
    b_in_bytes, s_in_bytes = 32, 64
    ell = -(-len_in_bytes // b_in_bytes)
    if ell > 255 or len_in_bytes > 65535 or len(dst) > 255:
        raise ValueError("expand_message_xmd: requested output or DST too long")
    dst_prime = dst + bytes([len(dst)])
    z_pad = bytes(s_in_bytes)
    l_i_b_str = len_in_bytes.to_bytes(2, "big")
    b0 = hashlib.sha256(z_pad + msg + l_i_b_str + b"\x00" + dst_prime).digest()
    b_prev = hashlib.sha256(b0 + b"\x01" + dst_prime).digest()
    out = [b_prev]
    for i in range(2, ell + 1):
        mixed = bytes(x ^ y for x, y in zip(b0, b_prev, strict=True))
        b_prev = hashlib.sha256(mixed + bytes([i]) + dst_prime).digest()
        out.append(b_prev)
    return b"".join(out)[:len_in_bytes]


def hash_to_field_sha256(msg: bytes, dst: bytes, modulus: int, security_bytes: int = 16) -> int:
    """RFC 9380 hash_to_field with count = 1, m = 1: one element of Z/modulus.

    L = ceil((ceil(log2(modulus)) + k) / 8) with k = 8 * security_bytes (48 for secp256k1).
    """
    length = -(-(modulus.bit_length() + 8 * security_bytes) // 8)
    return int.from_bytes(expand_message_xmd_sha256(msg, dst, length), "big") % modulus


def tagged_hash(tag: str, data: bytes) -> bytes:
    """BIP 340 tagged hash: SHA256(SHA256(tag) || SHA256(tag) || data)."""
    tag_digest = hashlib.sha256(tag.encode()).digest()
    return hashlib.sha256(tag_digest + tag_digest + data).digest()


class Transcript:
    """An injective, domain-separated encoding of labelled values for Fiat-Shamir.

    Every label and value is length-prefixed (4-byte big-endian), so two different
    sequences of (label, value) pairs never produce the same byte string.
    """

    __slots__ = ("_parts",)

    def __init__(self, domain: str) -> None:
        self._parts: list[bytes] = []
        self.append("domain", domain.encode())

    def append(self, label: str, value: bytes) -> Transcript:
        lab = label.encode()
        self._parts.append(len(lab).to_bytes(4, "big") + lab + len(value).to_bytes(4, "big"))
        self._parts.append(value)
        return self

    def append_int(self, label: str, value: int) -> Transcript:
        if value < 0:
            raise ValueError("transcript integers are non-negative")
        return self.append(label, value.to_bytes(max(1, -(-value.bit_length() // 8)), "big"))

    def extend(self, label: str, values: Iterable[bytes]) -> Transcript:
        items = list(values)
        self.append_int(label + ".count", len(items))
        for v in items:
            self.append(label, v)
        return self

    def encode(self) -> bytes:
        return b"".join(self._parts)

    def digest(self) -> bytes:
        return hashlib.sha512(self.encode()).digest()

    def challenge(self, modulus: int) -> int:
        """A challenge in [0, modulus) with negligible bias (512-bit digest reduced)."""
        return int.from_bytes(self.digest(), "big") % modulus
