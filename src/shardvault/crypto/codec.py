"""The two byte-level codecs every layer shares: a bounds-checked reader and base64url.

:class:`ByteReader`
    A cursor over a byte string for the decoders of binary layouts. Every read is
    bounds-checked; a short read or bytes left over raise the error the caller chose,
    with the caller's wording, so each decoder keeps its own error type and messages.

:func:`b64url_encode` / :func:`b64url_decode`
    base64url (RFC 4648 section 5) without ``=`` padding, the JSON encoding of keys,
    signatures and sealed shares in the REST API (as Dfns does). Decoding is strict: one
    byte string has exactly one accepted text.

This module sits at the bottom of the crypto layer so that the protocols, the chains,
the API and the SDK can all import it.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Final

from shardvault.errors import InvalidEncoding

__all__ = [
    "B64URL_MALFORMED",
    "B64URL_NON_CANONICAL",
    "ByteReader",
    "b64url_decode",
    "b64url_encode",
]

B64URL_MALFORMED: Final = "MalformedBase64url"
"""``code`` of the :class:`InvalidEncoding` for padding, a character outside the
alphabet, an impossible length or a value that is not a string."""

B64URL_NON_CANONICAL: Final = "NonCanonicalBase64url"
"""``code`` of the :class:`InvalidEncoding` for a text whose unused trailing bits are set
(it decodes, but is not the one spelling of its bytes)."""

_B64URL_ALPHABET: Final = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
)


class ByteReader:
    """A cursor over ``data`` whose every read is bounds-checked.

    ``error`` builds the exception raised for a short read or leftover bytes (default
    :class:`InvalidEncoding`). ``truncated`` is the message of a short read, with
    ``{what}`` replaced by the ``what`` the read was given; ``trailing`` the message of
    :meth:`finish` when bytes are left. ``data`` and ``pos`` are public so a decoder can
    hand the cursor to a function that parses in place.
    """

    __slots__ = ("_error", "_trailing", "_truncated", "data", "pos")

    def __init__(
        self,
        data: bytes,
        *,
        error: Callable[[str], Exception] = InvalidEncoding,
        truncated: str = "truncated {what}",
        trailing: str = "trailing bytes",
    ) -> None:
        self.data = data
        self.pos = 0
        self._error = error
        self._truncated = truncated
        self._trailing = trailing

    def error(self, message: str) -> Exception:
        """The exception this reader raises, for a decoder's own checks."""
        return self._error(message)

    @property
    def remaining(self) -> int:
        """Bytes not read yet."""
        return len(self.data) - self.pos

    def at_end(self) -> bool:
        return self.pos == len(self.data)

    def take(self, n: int, what: str = "data") -> bytes:
        """The next ``n`` bytes; a short read raises ``error(truncated)``."""
        end = self.pos + n
        if n < 0 or end > len(self.data):
            raise self._error(self._truncated.replace("{what}", what))
        out = self.data[self.pos : end]
        self.pos = end
        return out

    def byte(self, what: str = "data") -> int:
        """The next byte as an integer."""
        return self.take(1, what)[0]

    def peek(self, what: str = "data") -> int:
        """The next byte, without moving the cursor."""
        if self.pos >= len(self.data):
            raise self._error(self._truncated.replace("{what}", what))
        return self.data[self.pos]

    def rest(self) -> bytes:
        """Every byte not read yet (possibly none)."""
        return self.take(self.remaining)

    def finish(self) -> None:
        """Raise ``error(trailing)`` unless every byte was read."""
        if self.pos != len(self.data):
            raise self._error(self._trailing)


def b64url_encode(data: bytes) -> str:
    """base64url (RFC 4648 section 5) without ``=`` padding."""
    return base64.urlsafe_b64encode(bytes(data)).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Strict inverse of :func:`b64url_encode`.

    Raises :class:`InvalidEncoding` with code :data:`B64URL_MALFORMED` for a value that
    is not a string, padding, a character outside the base64url alphabet or an
    impossible length (``len % 4 == 1``), and with code :data:`B64URL_NON_CANONICAL`
    when unused trailing bits are set (so each byte string has exactly one accepted
    text).
    """
    if not isinstance(text, str):
        raise InvalidEncoding("base64url value must be a string", code=B64URL_MALFORMED)
    if len(text) % 4 == 1 or not _B64URL_ALPHABET.issuperset(text):
        raise InvalidEncoding("not base64url without padding", code=B64URL_MALFORMED)
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):  # pragma: no cover - excluded by the checks above
        raise InvalidEncoding("not base64url without padding", code=B64URL_MALFORMED) from None
    if b64url_encode(data) != text:
        raise InvalidEncoding(
            "non-canonical base64url (unused bits set)", code=B64URL_NON_CANONICAL
        )
    return data
