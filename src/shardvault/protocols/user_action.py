"""Signed user actions (the Dfns flow): the challenge as a commitment to the request,
the canonical form of a JSON payload, and the checks of a signed ``clientData``.

Pure functions, no I/O; the API (api/user_actions.py) stores and looks things up.
The construction (docs/governance.md, "Signed user actions"):

* ``canonical_json(v)``: JSON with keys sorted (by code point), no whitespace,
  UTF-8 (non-ASCII characters as themselves), integers as integers; NaN and
  infinities refused. An absent body, ``""`` and ``{}`` all canonicalise to the
  empty string (the Python SDK signs ``""`` for a ``{}`` body it then sends).
* ``payloadSha256`` = hex SHA-256 of the canonical payload.
* The commitment: ``SHA-256(b"shardvault/user-action/v1\\x00" || canonical_json(
  {"orgId", "userId", "method", "path", "payloadSha256", "expiresAt", "nonce"}))``
  with ``expiresAt`` in Unix seconds and ``nonce`` base64url of 32 random bytes;
  the ``challenge`` the client signs is its base64url (43 characters). Whoever
  knows the request it serves (the signers, later) can recompute it.
* ``clientData`` (what the credential signs, base64url on the wire) is the JSON
  object ``{"type": "key.get", "challenge": <challenge>, ["origin", "crossOrigin"]}``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from shardvault.errors import InvalidParameters, Unauthorized

__all__ = [
    "CHALLENGE_DOMAIN",
    "CLIENT_DATA_TYPE",
    "DuplicateJsonKey",
    "UserActionCommitment",
    "UserActionError",
    "b64url_decode",
    "b64url_encode",
    "canonical_json",
    "canonical_payload",
    "check_client_data",
    "loads_strict",
    "payload_sha256",
]

CHALLENGE_DOMAIN = b"shardvault/user-action/v1\x00"
CLIENT_DATA_TYPE = "key.get"
NONCE_BYTES = 32
_MAX_CLIENT_DATA = 4096


class UserActionError(Unauthorized):
    """A user action refused; ``code`` names the reason (HTTP 401)."""

    code = "InvalidUserAction"


class DuplicateJsonKey(InvalidParameters):
    """A JSON object with the same key twice (HTTP 400)."""

    code = "DuplicateJsonKey"


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """base64url, padding optional; raises ``ValueError`` on anything else."""
    if not isinstance(text, str) or any(c in text for c in "+/ \n\r\t"):
        raise ValueError("not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("not base64url") from None


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise DuplicateJsonKey(f"duplicate key {key!r} in a JSON object")
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def loads_strict(text: str | bytes) -> Any:
    """``json.loads`` refusing duplicate object keys (:class:`DuplicateJsonKey`) and
    NaN/Infinity (``ValueError``, like any malformed JSON)."""
    return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8 (see the module doc)."""
    _check_finite(value)
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def _check_finite(value: Any) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("non-finite number")
    if isinstance(value, dict):
        for item in value.values():
            _check_finite(item)
    elif isinstance(value, list):
        for item in value:
            _check_finite(item)


def canonical_payload(value: Any) -> bytes:
    """The canonical form of a request body (already parsed): ``b""`` for no body
    (``None``) and for ``{}``."""
    if value is None or value == {}:
        return b""
    return canonical_json(value)


def payload_sha256(canonical: bytes) -> str:
    return hashlib.sha256(canonical).hexdigest()


@dataclass(frozen=True, slots=True)
class UserActionCommitment:
    """What a challenge commits to (see the module doc)."""

    org_id: str
    user_id: str
    method: str
    path: str
    payload_sha256: str
    expires_at: int
    nonce: bytes

    @classmethod
    def new(
        cls,
        *,
        org_id: str,
        user_id: str,
        method: str,
        path: str,
        payload_sha256: str,
        expires_at: int,
    ) -> UserActionCommitment:
        return cls(
            org_id,
            user_id,
            method.upper(),
            path,
            payload_sha256,
            expires_at,
            secrets.token_bytes(NONCE_BYTES),
        )

    def canonical(self) -> bytes:
        return canonical_json(
            {
                "orgId": self.org_id,
                "userId": self.user_id,
                "method": self.method,
                "path": self.path,
                "payloadSha256": self.payload_sha256,
                "expiresAt": self.expires_at,
                "nonce": b64url_encode(self.nonce),
            }
        )

    def challenge(self) -> str:
        return b64url_encode(hashlib.sha256(CHALLENGE_DOMAIN + self.canonical()).digest())


def check_client_data(client_data: bytes, challenge: str, allowed_origins: Iterable[str]) -> None:
    """The checks of a decoded ``clientData`` other than its signature: a JSON object
    (no duplicate keys) of type ``key.get`` for ``challenge``; an ``origin``, when
    present, among ``allowed_origins``; ``crossOrigin``, when present, false."""
    if len(client_data) > _MAX_CLIENT_DATA:
        raise UserActionError("clientData is too long", code="InvalidClientData")
    try:
        data = loads_strict(client_data.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, DuplicateJsonKey):
        raise UserActionError("clientData is not a JSON object", code="InvalidClientData") from None
    if not isinstance(data, dict):
        raise UserActionError("clientData is not a JSON object", code="InvalidClientData")
    if data.get("type") != CLIENT_DATA_TYPE:
        raise UserActionError(
            f'clientData type must be "{CLIENT_DATA_TYPE}"', code="WrongClientDataType"
        )
    given = data.get("challenge")
    if not isinstance(given, str) or not secrets.compare_digest(
        given.encode("utf-8"), challenge.encode("ascii")
    ):
        raise UserActionError("clientData is not for this challenge", code="ChallengeMismatch")
    if "origin" in data:
        origin = data["origin"]
        if not isinstance(origin, str) or origin.rstrip("/") not in {
            o.rstrip("/") for o in allowed_origins
        }:
            raise UserActionError("clientData origin is not allowed", code="OriginNotAllowed")
    if "crossOrigin" in data and data["crossOrigin"] is not False:
        raise UserActionError("cross-origin clientData is not accepted", code="OriginNotAllowed")
