"""The REST API's byte encodings (Dfns conventions).

* ``publicKey``: plain lowercase hex.
* ``hash``, ``message``, ``taprootMerkleRoot``, ``r``, ``s``, ``encoded``:
  ``0x``-prefixed lowercase hex.
* ``encryptionKey``, ``identityKey``, ``encryptionKeySignature``,
  ``encryptedKeyShare``: base64url without padding.

Decoders are strict: one byte string has exactly one accepted text.
"""

from __future__ import annotations

import re

from shardvault.crypto import codec
from shardvault.crypto.codec import B64URL_NON_CANONICAL, b64url_encode
from shardvault.errors import InvalidEncoding
from shardvault.sdk.errors import InvalidArgument

__all__ = ["b64url_decode", "b64url_encode", "hex_decode", "hex_encode_0x"]

_HEX = re.compile(r"(?:[0-9a-fA-F]{2})*")


def b64url_decode(text: str, *, what: str = "value") -> bytes:
    """Strict base64url without padding (:func:`shardvault.crypto.codec.b64url_decode`);
    raises :class:`InvalidArgument`."""
    try:
        return codec.b64url_decode(text)
    except InvalidEncoding as exc:
        if exc.code == B64URL_NON_CANONICAL:
            raise InvalidArgument(f"{what} is not canonical base64url") from None
        raise InvalidArgument(f"{what} is not base64url without padding") from None


def hex_encode_0x(data: bytes) -> str:
    """``0x``-prefixed lowercase hex."""
    return "0x" + bytes(data).hex()


def hex_decode(text: str, *, what: str = "value", require_prefix: bool = False) -> bytes:
    """Hex with an optional ``0x``/``0X`` prefix (required if ``require_prefix``);
    no whitespace, even length. Raises :class:`InvalidArgument`."""
    if not isinstance(text, str):
        raise InvalidArgument(f"{what} must be a hex string")
    body = text
    if body[:2] in ("0x", "0X"):
        body = body[2:]
    elif require_prefix:
        raise InvalidArgument(f"{what} must be 0x-prefixed hex")
    if not _HEX.fullmatch(body):
        raise InvalidArgument(f"{what} is not valid hex (even number of hex digits expected)")
    return bytes.fromhex(body)
