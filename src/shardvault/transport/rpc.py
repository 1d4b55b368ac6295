"""Requests from the coordinator to a signer node, and the replies.

A request is ``Ed25519 signature (64) || JSON body``; the coordinator's identity
key signs ``"shardvault/rpc/v1" || body`` and the body names its target signer,
so a request cannot be redirected to another signer. Byte values travel as
lowercase hex. A reply is JSON: ``{"ok": true, ...}`` or
``{"ok": false, "error": {"code", "message", "blame"?, "check"?}}``.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
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
    InvalidRoster,
    InvalidScalar,
    NonceReused,
    NotFound,
    ProtocolError,
    SessionReused,
    ShardvaultError,
    SignerMisbehaved,
    SignersUnavailable,
)

__all__ = [
    "ReplayGuard",
    "decode_reply",
    "decode_request",
    "encode_error",
    "encode_ok",
    "encode_request",
    "hex_arg",
]

_LABEL = b"shardvault/rpc/v1"


#: How long a request stays valid after it is issued.
REQUEST_TTL_SECONDS = 60.0
#: Tolerated clock difference between coordinator and signer.
CLOCK_SKEW_SECONDS = 5.0

#: Wall-clock time in seconds since the epoch (``time.time``; a test passes its own).
Clock = Callable[[], float]


def encode_request(
    op: str, target: str, args: dict[str, Any], key: SigningKey, *, clock: Clock = time.time
) -> bytes:
    """Sign a request with a fresh id and its issue time (replays are refused)."""
    envelope = {
        "op": op,
        "target": target,
        "requestId": secrets.token_hex(16),
        "issued": clock(),
        **args,
    }
    body = json.dumps(envelope, separators=(",", ":")).encode()
    return key.sign(_LABEL + body).signature + body


class ReplayGuard:
    """Remembers request ids until they expire. Requests issued before the guard was
    created (i.e. before this signer started) are refused, so a restart does not
    reopen the window."""

    def __init__(self, *, clock: Clock = time.time) -> None:
        self._clock = clock
        self._started = clock()
        self._seen: dict[str, float] = {}

    def check(self, body: dict[str, Any]) -> None:
        now = self._clock()
        issued = body.get("issued")
        request_id = body.get("requestId")
        if not isinstance(issued, (int, float)) or not isinstance(request_id, str):
            raise Forbidden("request lacks its id or issue time")
        if issued > now + CLOCK_SKEW_SECONDS or issued < now - REQUEST_TTL_SECONDS:
            raise Forbidden("request expired (or issued in the future)")
        if issued < self._started - CLOCK_SKEW_SECONDS:
            raise Forbidden("request was issued before this signer started")
        if request_id in self._seen:
            raise Forbidden("request was already handled (replay)")
        for rid in [r for r, t in self._seen.items() if t < now - REQUEST_TTL_SECONDS - 1]:
            del self._seen[rid]
        self._seen[request_id] = float(issued)


def decode_request(
    data: bytes, coordinator_key: bytes, me: str, guard: ReplayGuard | None = None
) -> dict[str, Any]:
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
    if guard is not None:
        guard.check(body)
    return body


def hex_arg(value: Any) -> bytes:
    """A request's hex-encoded bytes argument."""
    if not isinstance(value, str):
        raise InvalidParameters("expected a hex string")
    try:
        return bytes.fromhex(value)
    except ValueError as exc:
        raise InvalidParameters("malformed hex") from exc


def encode_ok(**values: Any) -> bytes:
    return json.dumps({"ok": True, **values}, separators=(",", ":")).encode()


def encode_error(exc: ShardvaultError) -> bytes:
    err: dict[str, Any] = {"code": exc.code, "message": exc.message, "type": type(exc).__name__}
    if isinstance(exc, ProtocolError):
        err["blame"] = list(exc.blame)
        err["check"] = exc.check
    if isinstance(exc, InvalidRoster):
        err["signers"] = list(exc.signers)
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
        InvalidRoster,
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
        blame = err.get("blame", [])
        if not isinstance(blame, list) or not all(isinstance(b, int) for b in blame):
            raise InvalidEncoding("reply carries a malformed blame list")
        raise cls(
            message,
            blame=tuple(int(b) for b in err.get("blame", [])),
            check=str(err.get("check", "")),
            code=code,
        )
    if issubclass(cls, InvalidRoster):
        names = err.get("signers", [])
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise InvalidEncoding("reply carries a malformed signers list")
        raise cls(message, code=code, signers=tuple(names))
    raise cls(message, code=code)
