"""The audit log's record of refused and failed requests (docs/governance-audit.md).

:class:`AuditMiddleware` sits outside the authentication middleware, so it sees every
answer: a 401 or 403 (any method, any path) is recorded as ``Refused``, and any other
error answer to a write route (:func:`~shardvault.api.audit.action_for`) as
``Failure``, unless the request already committed a final row of its own (a failed
signature records its failure with the signature row); 429 answers (rate limits)
are not recorded. The answer is held until its
row is written; if the write fails the client gets a 500 instead.

The actor is the authenticated caller, else ``Unknown`` in the pseudo-org chain
``"-"`` with the first 16 hex digits of the bearer token's SHA-256 (never the
token). Rows of unknown callers are rate-limited per process (a flood of bad tokens
must not fill the disk): beyond the budget they are counted, and the next recorded
row says how many were dropped (``details.unrecorded``).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from starlette.datastructures import Headers
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shardvault.api.audit import (
    ACTOR_UNKNOWN,
    ACTOR_USER,
    FAILURE,
    NO_ORG,
    REFUSED,
    AuditContext,
    action_for,
    request_hash,
    safe_path,
    token_hash_prefix,
)
from shardvault.api.auth import Principal, principal_of_scope
from shardvault.api.errors import error_response

__all__ = ["AuditMiddleware", "RecordAudit"]

logger = logging.getLogger("shardvault.api")

#: Writes one row: (context, action, target id, result, HTTP status, error code, details).
RecordAudit = Callable[
    [AuditContext, str, str | None, str, int, str | None, dict[str, Any] | None],
    Awaitable[None],
]

_REFUSALS = frozenset({401, 403})
_NOT_RECORDED = frozenset({405, 429})
_MAX_ERROR_BODY = 64 * 1024
_UNKNOWN_RATE = 10.0  # rows per second
_UNKNOWN_BURST = 50.0


def _route_of(scope: Scope, routes: Sequence[BaseRoute]) -> tuple[str | None, dict[str, Any]]:
    """The route path template and path parameters of the request (matched here when
    routing has not run, e.g. the authentication middleware refused it)."""
    route = scope.get("route")
    if route is not None and hasattr(route, "path"):
        return str(route.path), dict(scope.get("path_params") or {})
    partial: tuple[str | None, dict[str, Any]] = (None, {})
    for candidate in routes:
        match, child = candidate.matches(scope)
        if match == Match.FULL and hasattr(candidate, "path"):
            return str(candidate.path), dict(child.get("path_params") or {})
        if match == Match.PARTIAL and partial[0] is None and hasattr(candidate, "path"):
            partial = (str(candidate.path), dict(child.get("path_params") or {}))
    return partial


def _bearer(scope: Scope) -> str | None:
    value = Headers(scope=scope).get("authorization")
    if value is None:
        return None
    scheme, _, token = value.strip().partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def _error_code(body: bytes) -> str | None:
    try:
        error = json.loads(body)["error"]
        code = error["code"]
    except (ValueError, KeyError, TypeError):
        return None
    return code if isinstance(code, str) else None


class _Budget:
    """A token bucket: how many rows of unknown callers may be written now."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.stamp = time.monotonic()
        self.dropped = 0

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        self.dropped += 1
        return False


class AuditMiddleware:
    """Records refused (401/403) and failed write requests in the audit log."""

    def __init__(
        self, app: ASGIApp, record: RecordAudit, routes: Callable[[], Sequence[BaseRoute]]
    ) -> None:
        self.app = app
        self.record = record
        self.routes = routes
        self._unknown = _Budget(_UNKNOWN_RATE, _UNKNOWN_BURST)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        complete = False

        async def tee() -> Message:
            nonlocal complete
            message = await receive()
            if message["type"] == "http.request":
                chunks.append(message.get("body", b""))
                complete = not message.get("more_body", False)
            return message

        held: list[Message] = []
        status = 0
        holding = False
        answered = False  # a response started going out, or its row was written

        async def audited_send(message: Message) -> None:
            nonlocal status, holding, answered
            if message["type"] == "http.response.start":
                status = int(message["status"])
                holding = self._wants(scope, status)
                if not holding:
                    answered = True
                    await send(message)
                else:
                    held.append(message)
                return
            if holding and message["type"] == "http.response.body":
                held.append(message)
                if not message.get("more_body", False):
                    holding, answered = False, True
                    body = b"".join(m.get("body", b"") for m in held[1:])
                    raw = b"".join(chunks) if complete else None
                    if await self._write(scope, status, _error_code(body[:_MAX_ERROR_BODY]), raw):
                        for m in held:
                            await send(m)
                    else:
                        await error_response(500, "InternalError", "internal server error")(
                            scope, receive, send
                        )
                return
            await send(message)

        try:
            await self.app(scope, tee, audited_send)
        except Exception:
            if not answered and self._wants(scope, 500):
                raw = b"".join(chunks) if complete else None
                await self._write(scope, 500, "InternalError", raw)
            raise

    def _context(self, scope: Scope) -> AuditContext | None:
        context = (scope.get("state") or {}).get("audit")
        return context if isinstance(context, AuditContext) else None

    def _wants(self, scope: Scope, status: int) -> bool:
        if status in _REFUSALS:
            return True
        if status < 400 or status in _NOT_RECORDED:
            # 429: a row each would undo the rate limit; 405: no such operation
            return False
        context = self._context(scope)
        if context is not None and context.final:
            return False  # the request's own failure row is in
        route_path, _params = _route_of(scope, self.routes())
        _action, write = action_for(scope.get("method", ""), route_path)
        return write

    async def _write(self, scope: Scope, status: int, code: str | None, raw: bytes | None) -> bool:
        """Write the row; False when that failed (the answer becomes a 500)."""
        method = str(scope.get("method", ""))
        route_path, params = _route_of(scope, self.routes())
        action, _write = action_for(method, route_path)
        target = str(list(params.values())[-1]) if params else None
        context = self._context(scope) or self._build(scope, method, raw)
        details: dict[str, Any] | None = None
        if context.actor == ACTOR_UNKNOWN:
            if not self._unknown.take():
                return True  # over budget: counted, not written
            if self._unknown.dropped:
                details = {"unrecorded": self._unknown.dropped}
                self._unknown.dropped = 0
        result = REFUSED if status in _REFUSALS else FAILURE
        try:
            await self.record(context, action, target, result, status, code, details)
        except Exception as exc:
            logger.error(
                "could not write the audit row of %s %s (%d): %s",
                method,
                scope.get("path", ""),
                status,
                type(exc).__name__,
            )
            return False
        return True

    def _build(self, scope: Scope, method: str, raw: bytes | None) -> AuditContext:
        """The context of a request no route dependency described."""
        path = safe_path(str(scope.get("path", "")))
        headers = Headers(scope=scope)
        if (
            raw is None
            and headers.get("content-length", "0") == "0"
            and ("transfer-encoding" not in headers)
        ):
            raw = b""  # nothing was sent, so nothing was left unread
        digest = request_hash(method, path, raw) if raw is not None else None
        principal: Principal | None = principal_of_scope(scope)
        user_action = (scope.get("state") or {}).get("user_action")
        if principal is not None:
            return AuditContext(
                org_id=principal.org_id,
                actor=ACTOR_USER,
                user_id=principal.user_id,
                token_id=principal.token_id,
                credential_id=getattr(user_action, "credential_id", None),
                method=method,
                path=path,
                request_hash=digest,
            )
        token = _bearer(scope)
        return AuditContext(
            org_id=NO_ORG,
            actor=ACTOR_UNKNOWN,
            token_hash_prefix=token_hash_prefix(token) if token is not None else None,
            method=method,
            path=path,
            request_hash=digest,
        )
