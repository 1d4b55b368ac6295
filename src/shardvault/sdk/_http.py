"""The HTTP plumbing the resource APIs share: error answers to
:class:`ShardvaultApiError`, ids as path segments, answers to typed models,
pagination.

The resources (``keys``, ``wallets``, …) reach the server through a
:class:`Requester`, which :class:`shardvault.sdk.Client` is.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from shardvault.sdk.errors import InvalidArgument, InvalidResponse, ShardvaultApiError

__all__ = [
    "Requester",
    "error_from_response",
    "follow_pages",
    "get_page",
    "parse",
    "require_bytes",
    "segment",
]

_M = TypeVar("_M", bound=BaseModel)


class Requester(Protocol):
    """What a resource API needs of the client: one JSON request at a time, and the
    signer identity keys the caller pinned (if any)."""

    @property
    def pinned_identity_keys(self) -> Mapping[str, bytes] | None: ...

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: Mapping[str, Any] | None = None,
    ) -> Any: ...


#: Codes used when an error answer carries no envelope.
_STATUS_CODES: Mapping[int, str] = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    413: "PayloadTooLarge",
    422: "ValidationError",
    429: "TooManyRequests",
    500: "InternalError",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
}
_MAX_FALLBACK_MESSAGE = 300


def error_from_response(response: httpx.Response) -> ShardvaultApiError:
    """A :class:`ShardvaultApiError` for a non-2xx response.

    Reads the ``{"error": {"code", "message", "details"}}`` envelope; falls back to
    FastAPI's ``{"detail": ...}`` and then to the status line and a shortened body.
    """
    status = response.status_code
    code: str | None = None
    message: str | None = None
    details: Any = None
    try:
        body: Any = response.json()
    except (ValueError, UnicodeDecodeError):
        body = None
    if isinstance(body, dict):
        envelope = body.get("error")
        if isinstance(envelope, dict):
            if isinstance(envelope.get("code"), str) and envelope["code"]:
                code = envelope["code"]
            if isinstance(envelope.get("message"), str):
                message = envelope["message"]
            details = envelope.get("details")
        elif isinstance(envelope, str):
            message = envelope
        elif "detail" in body:
            detail = body["detail"]
            message = detail if isinstance(detail, str) else json.dumps(detail)
            details = None if isinstance(detail, str) else detail
    if code is None:
        code = _STATUS_CODES.get(status, f"Http{status}")
    if message is None:
        try:
            text = " ".join(response.text.split())
        except UnicodeDecodeError:  # pragma: no cover - httpx decodes leniently
            text = ""
        if len(text) > _MAX_FALLBACK_MESSAGE:
            text = text[:_MAX_FALLBACK_MESSAGE] + "…"
        reason = response.reason_phrase or "error"
        message = f"HTTP {status} {reason}" + (f": {text}" if text else "")
    return ShardvaultApiError(status, code, message, details)


_ID_SEGMENT = re.compile(r"[A-Za-z0-9._~:@!$&'()*+,;=-]+")


def segment(value: str, what: str) -> str:
    """One URL path segment from an id; refuses what could change the path."""
    if not isinstance(value, str) or not value or value in (".", ".."):
        raise InvalidArgument(f"{what} must be a non-empty id")
    return value if _ID_SEGMENT.fullmatch(value) else quote(value, safe="")


def parse(model: type[_M], data: Any, what: str) -> _M:
    """``data`` as a ``model``; a mismatch is an :class:`InvalidResponse` naming the field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        where = ".".join(str(p) for p in errors[0]["loc"]) if errors else ""
        why = errors[0]["msg"] if errors else "invalid"
        raise InvalidResponse(f"unexpected {what} from the server ({where}: {why})") from None


def get_page(
    client: Requester, path: str, model: type[_M], what: str, limit: int | None, token: str | None
) -> _M:
    """One page of ``GET path`` (``limit``, ``paginationToken``)."""
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)):
        raise InvalidArgument("limit must be an int")
    data = client.request("GET", path, params={"limit": limit, "paginationToken": token})
    return parse(model, data, what)


def follow_pages(path: str, fetch: Callable[[str | None], Any]) -> Iterator[Any]:
    """Every item of ``fetch(token)`` pages (``.items``, ``.next_page_token``), following
    the tokens; a token seen twice is a broken server (InvalidResponse)."""
    token: str | None = None
    seen: set[str] = set()
    while True:
        page = fetch(token)
        yield from page.items
        token = page.next_page_token
        if not token:
            return
        if token in seen:
            raise InvalidResponse(f"GET {path}: the pagination token repeats")
        seen.add(token)


def require_bytes(value: object, what: str) -> bytes:
    """``value`` as bytes (bytes, bytearray or memoryview), else an InvalidArgument."""
    if not isinstance(value, bytes | bytearray | memoryview):
        raise InvalidArgument(f"{what} must be bytes, got {type(value).__name__}")
    return bytes(value)
