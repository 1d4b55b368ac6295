"""Recursive Length Prefix (RLP) encoding, as in the Ethereum Yellow Paper, appendix B.

Pure functions, no I/O. An RLP item is either a byte string or a list of items::

    RlpItem = bytes | list[RlpItem]

API
---
- ``encode(item: RlpItem) -> bytes``: the (unique) canonical encoding of ``item``.
  ``bytes``, ``bytearray`` and ``memoryview`` are accepted as byte strings, ``list`` and
  ``tuple`` as lists. Anything else raises ``InvalidParameters``.
- ``decode(data: bytes) -> RlpItem``: strict canonical decoding. Raises ``InvalidEncoding``
  (code ``"InvalidRlp"``) for: empty input, truncated input, trailing bytes after the item,
  a single byte ``< 0x80`` wrapped in a string header, a long-form header used for a
  payload shorter than 56 bytes, a length with leading zero bytes, nesting deeper than
  ``MAX_DEPTH`` lists. Decoded byte strings are ``bytes``; decoded lists are ``list``.
- ``encode_uint(value: int) -> bytes``: minimal big-endian bytes of an unsigned integer
  (``0 -> b""``), which RLP then wraps as a string.
- ``decode_uint(data: bytes, *, max_bits: int = 256) -> int``: the inverse, rejecting
  leading zero bytes (so ``0`` must be ``b""``) and values of more than ``max_bits`` bits
  (``InvalidEncoding``, code ``"InvalidRlp"``).

Nothing here knows about transactions; ``shardvault.chains.evm`` gives the fields meaning.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Union

from shardvault.errors import InvalidEncoding, InvalidParameters

__all__ = [
    "MAX_DEPTH",
    "RLP_ERROR_CODE",
    "RlpItem",
    "decode",
    "decode_uint",
    "encode",
    "encode_uint",
]

RlpItem = Union[bytes, list["RlpItem"]]  # noqa: UP007 - a recursive alias needs Union here

#: Error code of every decoding failure.
RLP_ERROR_CODE = "InvalidRlp"

#: Most nested lists ``encode``/``decode`` accept (transactions need 4; bounds recursion).
MAX_DEPTH = 64


def _fail(message: str) -> InvalidEncoding:
    return InvalidEncoding(message, code=RLP_ERROR_CODE)


# ---------------------------------------------------------------------------
# Encoding
# ---------------------------------------------------------------------------


def _header(length: int, short_base: int) -> bytes:
    """Header for a payload of ``length`` bytes: ``short_base`` is 0x80 (string) or 0xC0."""
    if length < 56:
        return bytes([short_base + length])
    length_bytes = length.to_bytes((length.bit_length() + 7) // 8, "big")
    if len(length_bytes) > 8:
        raise InvalidParameters("RLP payload too long", code=RLP_ERROR_CODE)
    return bytes([short_base + 55 + len(length_bytes)]) + length_bytes


def _encode(item: object, depth: int) -> bytes:
    if isinstance(item, bytes | bytearray | memoryview):
        raw = bytes(item)
        if len(raw) == 1 and raw[0] < 0x80:
            return raw
        return _header(len(raw), 0x80) + raw
    if isinstance(item, list | tuple):
        if depth >= MAX_DEPTH:
            raise InvalidParameters("RLP lists nested too deeply", code=RLP_ERROR_CODE)
        payload = b"".join(_encode(child, depth + 1) for child in item)
        return _header(len(payload), 0xC0) + payload
    raise InvalidParameters(
        f"cannot RLP-encode a {type(item).__name__}; use bytes or a list", code=RLP_ERROR_CODE
    )


def encode(item: RlpItem | Sequence[object]) -> bytes:
    """Canonical RLP encoding of ``item`` (bytes, or a list/tuple of items)."""
    return _encode(item, 0)


def encode_uint(value: int) -> bytes:
    """Minimal big-endian encoding of a non-negative integer (``0 -> b""``)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidParameters("RLP integers are non-negative ints", code=RLP_ERROR_CODE)
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


# ---------------------------------------------------------------------------
# Decoding
# ---------------------------------------------------------------------------


def _read_length(data: bytes, pos: int, n_bytes: int, end: int) -> int:
    """Read a long-form length of ``n_bytes`` at ``pos``; must be canonical and >= 56."""
    if pos + n_bytes > end:
        raise _fail("RLP input truncated in a length")
    length_bytes = data[pos : pos + n_bytes]
    if length_bytes[0] == 0:
        raise _fail("RLP length has leading zero bytes")
    length = int.from_bytes(length_bytes, "big")
    if length < 56:
        raise _fail("RLP long form used for a payload shorter than 56 bytes")
    return length


def _decode_at(data: bytes, pos: int, end: int, depth: int) -> tuple[RlpItem, int]:
    """Decode one item starting at ``pos`` that must finish by ``end``; return it and its end."""
    if pos >= end:
        raise _fail("RLP input truncated")
    prefix = data[pos]
    if prefix < 0x80:
        return data[pos : pos + 1], pos + 1
    if prefix <= 0xB7:
        length = prefix - 0x80
        start = pos + 1
        if start + length > end:
            raise _fail("RLP string truncated")
        if length == 1 and data[start] < 0x80:
            raise _fail("RLP single byte below 0x80 must be encoded as itself")
        return data[start : start + length], start + length
    if prefix <= 0xBF:
        n_bytes = prefix - 0xB7
        length = _read_length(data, pos + 1, n_bytes, end)
        start = pos + 1 + n_bytes
        if start + length > end:
            raise _fail("RLP string truncated")
        return data[start : start + length], start + length
    # Lists.
    if depth >= MAX_DEPTH:
        raise _fail("RLP lists nested too deeply")
    if prefix <= 0xF7:
        length = prefix - 0xC0
        start = pos + 1
    else:
        n_bytes = prefix - 0xF7
        length = _read_length(data, pos + 1, n_bytes, end)
        start = pos + 1 + n_bytes
    list_end = start + length
    if list_end > end:
        raise _fail("RLP list truncated")
    items: list[RlpItem] = []
    cursor = start
    while cursor < list_end:
        child, cursor = _decode_at(data, cursor, list_end, depth + 1)
        items.append(child)
    return items, list_end


def decode(data: bytes) -> RlpItem:
    """Strict canonical decoding of exactly one RLP item (no trailing bytes)."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InvalidParameters("RLP input must be bytes", code=RLP_ERROR_CODE)
    raw = bytes(data)
    item, end = _decode_at(raw, 0, len(raw), 0)
    if end != len(raw):
        raise _fail("trailing bytes after the RLP item")
    return item


def decode_uint(data: bytes, *, max_bits: int = 256) -> int:
    """Integer from its minimal big-endian RLP string (no leading zeros; ``b"" -> 0``)."""
    if not isinstance(data, bytes):
        raise _fail("RLP integer must be a byte string, not a list")
    if data[:1] == b"\x00":
        raise _fail("RLP integer has leading zero bytes")
    value = int.from_bytes(data, "big")
    if value.bit_length() > max_bits:
        raise _fail(f"RLP integer exceeds {max_bits} bits")
    return value
