"""The error envelope ``{"error": {"code", "message", "status", "details"?}}`` (``status``:
the HTTP status, as in Dfns's error objects) for every
failure the API can produce, including FastAPI's own validation errors, unknown
routes, wrong methods, oversized and malformed bodies and unexpected exceptions,
and the HTTP status of each typed error (:func:`http_status`): the error types in
:mod:`shardvault.errors` are raised by every layer and know nothing of HTTP.

Nothing here ever echoes request bodies, tokens or key material: validation
details carry field locations and pydantic's messages (never the ``input``), and
unexpected exceptions are logged as type + stack frames without their message.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shardvault.errors import (
    AuxInfoNotReady,
    Conflict,
    DecryptionError,
    Forbidden,
    InvalidEncoding,
    InvalidImport,
    InvalidParameters,
    NotFound,
    ProtocolError,
    ShardvaultError,
    SignerMisbehaved,
    SignersUnavailable,
    Unauthorized,
)

__all__ = [
    "ApiError",
    "BodyLimitMiddleware",
    "CatchAllMiddleware",
    "api_error_from",
    "error_response",
    "http_exception_handler",
    "http_status",
    "shardvault_error_handler",
    "validation_exception_handler",
]

logger = logging.getLogger("shardvault.api")

_HTTP_CODES: Mapping[int, str] = {
    400: "InvalidRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    413: "BodyTooLarge",
    415: "UnsupportedMediaType",
    429: "TooManyRequests",
}


#: HTTP status per error class (most specific class wins; default 500).
_STATUS_BY_ERROR: Mapping[type[ShardvaultError], int] = {
    InvalidEncoding: 400,
    InvalidParameters: 400,
    InvalidImport: 400,
    DecryptionError: 400,
    Unauthorized: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    SignerMisbehaved: 502,
    ProtocolError: 502,
    SignersUnavailable: 503,
    AuxInfoNotReady: 503,
}


class ApiError(ShardvaultError):
    """An error the API layer raises itself, with its HTTP status and details."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        details: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message, code=code)
        self.status = status
        self.details = dict(details or {})
        self.headers = dict(headers or {})


def http_status(exc: ShardvaultError) -> int:
    """The status the API answers a typed error with: an :class:`ApiError`'s own, else
    that of the nearest class in :data:`_STATUS_BY_ERROR`, else 500."""
    if isinstance(exc, ApiError):
        return exc.status
    for cls in type(exc).__mro__:
        if cls in _STATUS_BY_ERROR:
            return _STATUS_BY_ERROR[cls]
    return 500


def error_response(
    status: int,
    code: str,
    message: str,
    details: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    if details:
        error["details"] = dict(details)
    return JSONResponse({"error": error}, status_code=status, headers=dict(headers or {}))


def _backend_details(exc: ShardvaultError) -> dict[str, Any]:
    details: dict[str, Any] = {}
    if isinstance(exc, SignersUnavailable | SignerMisbehaved | InvalidImport):
        details["signers"] = list(exc.signers)
    if isinstance(exc, SignerMisbehaved | ProtocolError) and exc.check:
        details["check"] = exc.check
    return details


def api_error_from(exc: ShardvaultError, **extra: Any) -> ApiError:
    """The ApiError the envelope shows for a typed back-end error, plus ``extra`` details."""
    if isinstance(exc, ApiError):
        return exc
    return ApiError(
        http_status(exc), exc.code, exc.message, details={**_backend_details(exc), **extra}
    )


def _log_failure(request: Request, status: int, code: str) -> None:
    if status >= 500:
        logger.warning("%s %s failed: %d %s", request.method, request.url.path, status, code)


async def shardvault_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ShardvaultError)
    err = api_error_from(exc)
    _log_failure(request, err.status, err.code)
    return error_response(err.status, err.code, err.message, err.details, err.headers)


async def http_exception_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    code = _HTTP_CODES.get(status, "HttpError")
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "HTTP error"
    if status == 404:
        message = "no such resource"
    elif status == 405:
        message = f"method {request.method} is not allowed here"
    elif isinstance(exc.detail, str) and exc.detail and status < 500:
        message = exc.detail
    else:
        message = phrase
    _log_failure(request, status, code)
    return error_response(status, code, message, headers=exc.headers)


def _is_json(request: Request) -> bool:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return ctype == "application/json" or ctype.endswith("+json")


async def validation_exception_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    raw = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in raw):
        return error_response(400, "MalformedJson", "request body is not valid JSON")
    errors: list[dict[str, str]] = []
    for e in raw:
        loc = [str(p) for p in e.get("loc", ())]
        location = loc[0] if loc else "body"
        errors.append(
            {
                "location": location,
                "field": ".".join(loc[1:]),
                "message": str(e.get("msg", "invalid value")),
                "type": str(e.get("type", "value_error")),
            }
        )
    first = errors[0] if errors else {"field": "", "message": "invalid request", "location": ""}
    if first["location"] == "body" and not first["field"] and not _is_json(request):
        message = "the request body must be JSON (Content-Type: application/json)"
    else:
        where = first["field"] or first["location"]
        message = f"{where}: {first['message']}" if where else first["message"]
    return error_response(400, "InvalidRequest", message, {"errors": errors})


class CatchAllMiddleware:
    """Turns any unexpected exception into a 500 ``InternalError`` envelope.

    The log line names the request line and the exception type with its stack
    frames; the exception message is left out (it could quote a secret)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            frames = "".join(traceback.format_tb(exc.__traceback__))
            logger.error(
                "unhandled %s on %s %s\n%s",
                type(exc).__name__,
                scope.get("method", ""),
                scope.get("path", ""),
                frames,
            )
            if not started:
                response = error_response(500, "InternalError", "internal server error")
                await response(scope, receive, send)


class BodyLimitMiddleware:
    """Rejects request bodies larger than ``max_body_bytes`` with 400 ``BodyTooLarge``
    before anything parses them: on the declared Content-Length, and by counting the
    bytes actually received (chunked or lying clients). The body is buffered (it is
    at most ``max_body_bytes``) and replayed to the application.

    ``POST /auth/action/init`` carries another request's body as a JSON string
    (``userActionPayload``, where quotes and backslashes double): its limit is
    twice ``max_body_bytes`` plus 4 KiB, so every request the limit admits can be
    signed."""

    #: Paths whose bodies quote another request's body.
    QUOTING_PATHS = frozenset({"/auth/action/init"})

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    def _too_large(self, limit: int) -> JSONResponse:
        return error_response(
            400,
            "BodyTooLarge",
            f"request body exceeds {limit} bytes",
            {"maxBytes": limit},
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_body_bytes
        if scope.get("path") in self.QUOTING_PATHS:
            limit = 2 * limit + 4096
        declared = Headers(scope=scope).get("content-length")
        if declared is not None:
            if not declared.isdigit():
                response = error_response(400, "InvalidRequest", "invalid Content-Length")
                await response(scope, receive, send)
                return
            if int(declared) > limit:
                await self._too_large(limit)(scope, receive, send)
                return
        chunks: list[bytes] = []
        total = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            total += len(chunk)
            if total > limit:
                await self._too_large(limit)(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
