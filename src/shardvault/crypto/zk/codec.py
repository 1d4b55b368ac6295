"""The byte codec of the CGGMP24 proofs and messages: fixed-width integers and one
bounds-checked reader.

Integers are big-endian on widths fixed by the moduli (``unsigned_width``) or by a
signed bound (``signed_width``, two's complement), so every encoding has an exact
length known to the receiver before it reads a byte. :class:`Reader` is the one
cursor every CGGMP24 decoder uses (the proofs, the round messages and the stored
presignatures), built on the shared :class:`~shardvault.crypto.codec.ByteReader`:
each read is bounds-checked and every failure is an ``InvalidEncoding`` naming what
was being read.
"""

from __future__ import annotations

from shardvault.crypto.codec import ByteReader
from shardvault.errors import InvalidEncoding

__all__ = [
    "Reader",
    "encode_signed",
    "encode_unsigned",
    "signed_width",
    "unsigned_width",
]


def unsigned_width(bound: int) -> int:
    """Bytes for values in ``[0, bound)``."""
    return max(1, ((bound - 1).bit_length() + 7) // 8)


def signed_width(bound: int) -> int:
    """Bytes for two's-complement values in ``[-bound, bound]``."""
    return (bound.bit_length() + 8) // 8


def encode_unsigned(value: int, width: int) -> bytes:
    if value < 0 or value.bit_length() > 8 * width:
        raise InvalidEncoding(f"value does not fit in {width} unsigned bytes")
    return value.to_bytes(width, "big")


def encode_signed(value: int, width: int) -> bytes:
    try:
        return value.to_bytes(width, "big", signed=True)
    except OverflowError:
        raise InvalidEncoding(f"value does not fit in {width} signed bytes") from None


class Reader(ByteReader):
    """:class:`shardvault.crypto.codec.ByteReader` for a CGGMP24 encoding named
    ``what``: failures read ``"{what}: truncated"`` / ``"{what}: trailing bytes"``.

    ``expected_len`` is the exact length of a fixed-size encoding (checked up front);
    ``None`` reads a variable-size one, whose end :meth:`finish` checks.
    """

    __slots__ = ("_what",)

    def __init__(self, data: bytes, expected_len: int | None, what: str) -> None:
        if not isinstance(data, bytes):
            raise InvalidEncoding(f"{what}: expected bytes")
        if expected_len is not None and len(data) != expected_len:
            raise InvalidEncoding(f"{what}: expected {expected_len} bytes, got {len(data)}")
        super().__init__(data, truncated=f"{what}: truncated", trailing=f"{what}: trailing bytes")
        self._what = what

    def unsigned(self, width: int, below: int, field: str) -> int:
        """An integer in ``[0, below)``."""
        v = int.from_bytes(self.take(width), "big")
        if v >= below:
            raise InvalidEncoding(f"{self._what}: {field} out of range")
        return v

    def signed(self, width: int) -> int:
        return int.from_bytes(self.take(width), "big", signed=True)

    def u32(self) -> int:
        """A 4-byte big-endian length or count."""
        return int.from_bytes(self.take(4), "big")
