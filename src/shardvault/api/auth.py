"""Bearer-token authentication.

Tokens are ``sv_`` + 43 urlsafe characters (256 bits from :mod:`secrets`); the
database keeps only their SHA-256 digest. Authentication runs as ASGI middleware,
before the body is parsed, so an unauthenticated caller learns nothing from
validation errors. Only ``GET /health`` and ``/openapi.json`` are public.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from shardvault.api.audit import AuditContext, append
from shardvault.api.errors import ApiError, error_response
from shardvault.db.ids import new_id
from shardvault.db.models import ApiToken, ServiceAccount, utcnow

__all__ = [
    "PRINCIPAL_SCOPE_KEY",
    "PUBLIC_PATHS",
    "AuthMiddleware",
    "Principal",
    "current_principal",
    "is_well_formed_token",
    "issue_token",
    "lookup_principal",
    "new_token",
    "principal_of_scope",
    "token_digest",
]

TOKEN_PREFIX = "sv_"  # noqa: S105 (a prefix, not a secret)
_TOKEN_RE = re.compile(r"sv_[A-Za-z0-9_-]{43}")
_SCOPE_KEY = "shardvault.principal"
#: Where :class:`AuthMiddleware` puts the caller in the ASGI scope (for inner
#: middleware such as the rate limiter).
PRINCIPAL_SCOPE_KEY = _SCOPE_KEY
PUBLIC_PATHS = frozenset({"/health", "/openapi.json"})
_UNAUTHORIZED_MESSAGE = "missing or invalid bearer token"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a service account of an org, through one of its tokens."""

    org_id: str
    service_account_id: str
    token_id: str
    is_admin: bool


def new_token() -> str:
    """A fresh API token: ``sv_`` + 43 characters of urlsafe base64 (32 random bytes)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def is_well_formed_token(token: str) -> bool:
    return _TOKEN_RE.fullmatch(token) is not None


def token_digest(token: str) -> str:
    """What the database stores: SHA-256 of the token, lowercase hex."""
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def issue_token(
    session: Session, org_id: str, service_account_id: str, *, audit: AuditContext
) -> str:
    """Add a new token for the service account to ``session`` (audited
    ``Auth:Tokens:Create`` in the same transaction); returns the token."""
    token = new_token()
    token_id = new_id("to")
    session.add(
        ApiToken(
            id=token_id,
            service_account_id=service_account_id,
            org_id=org_id,
            token_sha256=token_digest(token),
            date_created=utcnow(),
        )
    )
    session.flush()
    append(
        session,
        audit.in_org(org_id),
        action="Auth:Tokens:Create",
        target_id=token_id,
        details={"serviceAccountId": service_account_id},
    )
    return token


def lookup_principal(factory: sessionmaker[Session], token: str) -> Principal | None:
    """The principal of a live token of an active service account, else ``None``."""
    if not is_well_formed_token(token):
        return None
    with factory() as session:
        row = session.execute(
            select(ApiToken, ServiceAccount)
            .join(ServiceAccount, ApiToken.service_account_id == ServiceAccount.id)
            .where(ApiToken.token_sha256 == token_digest(token))
        ).one_or_none()
    if row is None:
        return None
    tok, account = row
    if tok.date_revoked is not None or not account.is_active:
        return None
    return Principal(tok.org_id, account.id, tok.id, account.is_admin)


def _bearer_token(scope: Scope) -> str | None:
    value = Headers(scope=scope).get("authorization")
    if value is None:
        return None
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


class AuthMiddleware:
    """Requires a valid bearer token on every path but :data:`PUBLIC_PATHS`."""

    def __init__(self, app: ASGIApp, lookup: Callable[[str], Awaitable[Principal | None]]) -> None:
        self.app = app
        self.lookup = lookup

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in PUBLIC_PATHS:
            await self.app(scope, receive, send)
            return
        token = _bearer_token(scope)
        principal = await self.lookup(token) if token is not None else None
        if principal is None:
            response = error_response(
                401,
                "Unauthorized",
                _UNAUTHORIZED_MESSAGE,
                headers={"WWW-Authenticate": "Bearer"},
            )
            await response(scope, receive, send)
            return
        scope[_SCOPE_KEY] = principal
        await self.app(scope, receive, send)


def principal_of_scope(scope: Scope) -> Principal | None:
    """The principal :class:`AuthMiddleware` put on the request's scope, if any."""
    principal = scope.get(_SCOPE_KEY)
    return principal if isinstance(principal, Principal) else None


_bearer = HTTPBearer(auto_error=False, bearerFormat="sv_ token")


def current_principal(
    request: Request,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """FastAPI dependency: the caller (set by :class:`AuthMiddleware`). Declaring the
    bearer scheme here also documents it in the OpenAPI schema."""
    principal = request.scope.get(_SCOPE_KEY)
    if not isinstance(principal, Principal):
        raise ApiError(
            401, "Unauthorized", _UNAUTHORIZED_MESSAGE, headers={"WWW-Authenticate": "Bearer"}
        )
    return principal
