"""The JSON encodings of the REST API (as Dfns): base64url without padding,
``0x``-prefixed hex, plain hex public keys, ISO 8601 UTC dates with milliseconds.

Decoders are strict and raise :class:`~shardvault.api.errors.ApiError` (400,
``InvalidEncoding``) naming the offending field.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from shardvault.api.errors import ApiError
from shardvault.crypto import codec
from shardvault.crypto.codec import B64URL_NON_CANONICAL, b64url_encode
from shardvault.errors import InvalidEncoding

__all__ = [
    "b64url_decode",
    "b64url_encode",
    "hex0x",
    "iso_utc",
    "parse_hex0x",
]

_HEX0X_RE = re.compile(r"0x(?:[0-9a-fA-F]{2})*")


def _bad(field: str, what: str) -> ApiError:
    return ApiError(400, "InvalidEncoding", f"{field}: {what}", details={"field": field})


def b64url_decode(value: str, field: str, *, size: int | None = None) -> bytes:
    """Decode unpadded base64url (:func:`shardvault.crypto.codec.b64url_decode`);
    rejects padding, other alphabets, non-canonical trailing bits and (with ``size``)
    any other length."""
    try:
        data = codec.b64url_decode(value)
    except InvalidEncoding as exc:
        if exc.code == B64URL_NON_CANONICAL:
            raise _bad(field, "non-canonical base64url") from None
        raise _bad(field, "must be base64url without padding") from None
    if size is not None and len(data) != size:
        raise _bad(field, f"must encode exactly {size} bytes")
    return data


def hex0x(data: bytes) -> str:
    return "0x" + data.hex()


def parse_hex0x(value: str, field: str, *, size: int | None = None) -> bytes:
    """Decode ``0x``-prefixed hex (either case) of whole bytes."""
    if not _HEX0X_RE.fullmatch(value):
        raise _bad(field, "must be 0x-prefixed hex with an even number of digits")
    data = bytes.fromhex(value[2:])
    if size is not None and len(data) != size:
        raise _bad(field, f"must be exactly {size} bytes")
    return data


def iso_utc(value: datetime) -> str:
    """``2026-11-25T18:00:00.000Z``."""
    v = value.astimezone(UTC).replace(tzinfo=None)
    return v.isoformat(timespec="milliseconds") + "Z"
