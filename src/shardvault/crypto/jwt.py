"""Compact JWTs signed with EdDSA (Ed25519, RFC 8037), from ``cryptography``.

Only what the API's tokens need: :func:`encode` signs a claims object with header
``{"alg": "EdDSA", "typ": "JWT", "kid"}``; :func:`decode` checks the header, the
signature and ``exp`` and returns the claims. Every failure is a
:class:`JwtError` (no detail on why, beyond the code).
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from shardvault.errors import ShardvaultError

__all__ = ["MAX_TOKEN_LENGTH", "JwtError", "decode", "encode", "looks_like_jwt"]

MAX_TOKEN_LENGTH = 4096
_HEADER_FIELDS = {"alg", "typ", "kid"}


class JwtError(ShardvaultError):
    code = "InvalidToken"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    if not text or any(c in text for c in "+/= \n"):
        raise JwtError("malformed token")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise JwtError("malformed token") from None


def _json(data: bytes) -> dict[str, Any]:
    try:
        value = json.loads(data.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise JwtError("malformed token") from None
    if not isinstance(value, dict):
        raise JwtError("malformed token")
    return value


def looks_like_jwt(token: str) -> bool:
    return 0 < len(token) <= MAX_TOKEN_LENGTH and token.count(".") == 2


def encode(claims: dict[str, Any], key: Ed25519PrivateKey, kid: str) -> str:
    header = {"alg": "EdDSA", "typ": "JWT", "kid": kid}
    signing_input = (
        _b64(json.dumps(header, separators=(",", ":")).encode())
        + "."
        + _b64(json.dumps(claims, separators=(",", ":")).encode())
    )
    return signing_input + "." + _b64(key.sign(signing_input.encode("ascii")))


def header_kid(token: str) -> str:
    """The ``kid`` of a token's header (unverified)."""
    if not looks_like_jwt(token):
        raise JwtError("malformed token")
    kid = _json(_unb64(token.split(".", 1)[0])).get("kid")
    if not isinstance(kid, str):
        raise JwtError("malformed token")
    return kid


def decode(token: str, key: Ed25519PublicKey, *, now: float | None = None) -> dict[str, Any]:
    """The claims of ``token`` if its EdDSA signature by ``key`` verifies and it has
    not expired (``exp``, Unix seconds, required)."""
    if not looks_like_jwt(token):
        raise JwtError("malformed token")
    head, body, sig = token.split(".")
    header = _json(_unb64(head))
    if header.get("alg") != "EdDSA" or not set(header) <= _HEADER_FIELDS:
        raise JwtError("unsupported token header")
    try:
        key.verify(_unb64(sig), f"{head}.{body}".encode("ascii"))
    except (InvalidSignature, UnicodeEncodeError):
        raise JwtError("token signature does not verify") from None
    claims = _json(_unb64(body))
    exp = claims.get("exp")
    if not isinstance(exp, int) or isinstance(exp, bool):
        raise JwtError("token has no expiry")
    if (time.time() if now is None else now) >= exp:
        raise JwtError("token expired", code="TokenExpired")
    return claims
