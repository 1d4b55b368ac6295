"""Resource ids: ``<prefix>-`` + 26 lowercase Crockford base32 characters.

The 26 characters encode 128 bits: a 48-bit Unix time in milliseconds followed by
80 random bits from :mod:`secrets` (the ULID layout), so ids sort by creation time
(to the millisecond) and are unguessable. Lowercase, no ``i``, ``l``, ``o``, ``u``.
"""

from __future__ import annotations

import re
import secrets
import time

__all__ = ["ID_PATTERN", "is_id", "new_id"]

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_BODY_LEN = 26
#: The body of an id: 130 bits of base32 whose top two bits are zero.
ID_PATTERN = r"[0-7][0-9a-hjkmnp-tv-z]{25}"
_ID_RE = re.compile(rf"([a-z]{{2,4}})-({ID_PATTERN})")


def _encode(value: int) -> str:
    chars = []
    for _ in range(_BODY_LEN):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def new_id(prefix: str, *, now_ms: int | None = None) -> str:
    """A fresh id such as ``key-01jd3k...``; ``now_ms`` is for tests only."""
    ms = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    if not 0 <= ms < 1 << 48:
        raise ValueError("timestamp out of range")
    return f"{prefix}-{_encode(ms << 80 | secrets.randbits(80))}"


def is_id(value: str, prefix: str) -> bool:
    """True when ``value`` is a well-formed id with this prefix."""
    m = _ID_RE.fullmatch(value)
    return m is not None and m.group(1) == prefix
