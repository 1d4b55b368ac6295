"""Requests from the coordinator to a signer node, and the replies.

A request is ``Ed25519 signature (64) || JSON body``; the coordinator's identity
key signs ``"shardvault/rpc/v1" || body`` and the body names its target signer,
so a request cannot be redirected to another signer. Byte values travel as
lowercase hex. A reply is JSON: ``{"ok": true, ...}`` or
``{"ok": false, "error": {"code", "message", "blame"?, "check"?}}``.
"""

from __future__ import annotations

import json
from typing import Any

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from shardvault.errors import (
    Conflict,
    DecryptionError,
    Forbidden,
    InvalidEncoding,
    InvalidImport,
    InvalidParameters,
    InvalidPoint,
    InvalidScalar,
    NonceReused,
    NotFound,
    ProtocolError,
    SessionReused,
    ShardvaultError,
    SignerMisbehaved,
    SignersUnavailable,
)

__all__ = ["decode_reply", "decode_request", "encode_error", "encode_ok", "encode_request"]

_LABEL = b"shardvault/rpc/v1"


def encode_request(op: str, target: str, args: dict[str, Any], key: SigningKey) -> bytes:
    body = json.dumps({"op": op, "target": target, **args}, separators=(",", ":")).encode()
    return key.sign(_LABEL + body).signature + body


def decode_request(data: bytes, coordinator_key: bytes, me: str) -> dict[str, Any]:
    if len(data) < 65:
        raise Forbidden("request too short")
    try:
        VerifyKey(coordinator_key).verify(_LABEL + data[64:], data[:64])
    except (BadSignatureError, ValueError) as exc:
        raise Forbidden("request is not signed by the coordinator") from exc
    try:
        body = json.loads(data[64:])
    except ValueError as exc:
        raise InvalidEncoding("request body is not JSON") from exc
    if not isinstance(body, dict) or body.get("target") != me:
        raise Forbidden("request is addressed to another signer")
    return body


def encode_ok(**values: Any) -> bytes:
    return json.dumps({"ok": True, **values}, separators=(",", ":")).encode()


def encode_error(exc: ShardvaultError) -> bytes:
    err: dict[str, Any] = {"code": exc.code, "message": exc.message, "type": type(exc).__name__}
    if isinstance(exc, ProtocolError):
        err["blame"] = list(exc.blame)
        err["check"] = exc.check
    return json.dumps({"ok": False, "error": err}, separators=(",", ":")).encode()


_TYPES: dict[str, type[ShardvaultError]] = {
    cls.__name__: cls
    for cls in (
        Conflict,
        DecryptionError,
        Forbidden,
        InvalidEncoding,
        InvalidImport,
        InvalidParameters,
        InvalidPoint,
        InvalidScalar,
        NonceReused,
        NotFound,
        ProtocolError,
        SessionReused,
        SignerMisbehaved,
        SignersUnavailable,
    )
}


def decode_reply(data: bytes) -> dict[str, Any]:
    """The reply's values, or the signer's typed error re-raised here."""
    try:
        reply = json.loads(data)
    except ValueError as exc:
        raise InvalidEncoding("reply is not JSON") from exc
    if not isinstance(reply, dict):
        raise InvalidEncoding("reply is not a JSON object")
    if reply.get("ok") is True:
        return reply
    err = reply.get("error") or {}
    cls = _TYPES.get(str(err.get("type")), ShardvaultError)
    message = str(err.get("message", "signer error"))
    code = str(err.get("code", "SignerError"))
    if issubclass(cls, ProtocolError):
        raise cls(
            message,
            blame=tuple(int(b) for b in err.get("blame", [])),
            check=str(err.get("check", "")),
            code=code,
        )
    raise cls(message, code=code)
