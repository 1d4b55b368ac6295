"""Bearer-token authentication.

API tokens are JWTs signed by the server (EdDSA, ``crypto/jwt.py``) carrying
``iss``, ``sub`` (the user id), ``iat``, ``exp``, ``jti`` (the token id) and the Dfns
claim ``"https://custom/app_metadata": {"orgId", "userId", "tokenId"}`` (the TS SDK
reads it to check the org). The signing key is the ``server_keys`` row of purpose
``jwt``, created by the first process that needs it and shared by every API process
on the database. The database keeps only each token's SHA-256 digest: a token is
live while its row is (not revoked, not expired, its account active), whatever its
signature. Tokens of the ``sv_`` + 43 urlsafe characters form issued before 0005
still work (no expiry) until revoked.

Authentication runs as ASGI middleware, before the body is parsed, so an
unauthenticated caller learns nothing from validation errors. Only ``GET /health``
and ``/openapi.json`` are public.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from shardvault.api.audit import AuditContext, append
from shardvault.api.errors import ApiError, error_response
from shardvault.crypto import jwt
from shardvault.db.ids import new_id
from shardvault.db.models import ApiToken, ServerKeyRow, ServiceAccount, utcnow

__all__ = [
    "APP_METADATA_CLAIM",
    "DEFAULT_TOKEN_DAYS",
    "PRINCIPAL_SCOPE_KEY",
    "PUBLIC_PATHS",
    "AuthMiddleware",
    "Principal",
    "current_principal",
    "is_well_formed_token",
    "issue_token",
    "lookup_principal",
    "new_token",
    "principal_of",
    "principal_of_scope",
    "server_signing_key",
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
APP_METADATA_CLAIM = "https://custom/app_metadata"
TOKEN_ISSUER = "shardvault"  # noqa: S105 (the JWT iss, not a secret)
DEFAULT_TOKEN_DAYS = 365
_JWT_PURPOSE = "jwt"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a service account of an org, through one of its tokens.
    ``user_id`` is the Dfns userId (for a service account, its own id)."""

    org_id: str
    service_account_id: str
    token_id: str
    is_admin: bool
    user_id: str = ""

    def __post_init__(self) -> None:
        if not self.user_id:
            object.__setattr__(self, "user_id", self.service_account_id)


def new_token() -> str:
    """A legacy (pre-0005) API token: ``sv_`` + 43 urlsafe characters. Kept for tests
    of old databases; :func:`issue_token` issues JWTs."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def server_signing_key(session: Session) -> tuple[str, Ed25519PrivateKey]:
    """The JWT signing key (kid, key), created in its own row if there is none yet
    (two processes racing: the loser reads the winner's)."""
    for _attempt in range(2):
        row = session.scalars(
            select(ServerKeyRow).where(ServerKeyRow.purpose == _JWT_PURPOSE)
        ).one_or_none()
        if row is not None:
            key = serialization.load_pem_private_key(row.private_key.encode(), password=None)
            assert isinstance(key, Ed25519PrivateKey)
            return row.id, key
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode("ascii")
        kid = new_id("sk")
        try:
            with session.begin_nested():
                session.add(
                    ServerKeyRow(
                        id=kid, purpose=_JWT_PURPOSE, private_key=pem, date_created=utcnow()
                    )
                )
        except IntegrityError:
            continue
        return kid, key
    raise RuntimeError("could not create the JWT signing key")


def server_public_keys(session: Session) -> dict[str, Ed25519PublicKey]:
    """kid -> public key of the JWT signing keys."""
    out = {}
    for row in session.scalars(select(ServerKeyRow).where(ServerKeyRow.purpose == _JWT_PURPOSE)):
        key = serialization.load_pem_private_key(row.private_key.encode(), password=None)
        assert isinstance(key, Ed25519PrivateKey)
        out[row.id] = key.public_key()
    return out


def is_well_formed_token(token: str) -> bool:
    return _TOKEN_RE.fullmatch(token) is not None


def token_digest(token: str) -> str:
    """What the database stores: SHA-256 of the token, lowercase hex."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(
    session: Session,
    org_id: str,
    service_account_id: str,
    *,
    audit: AuditContext | None = None,
    days_valid: int = DEFAULT_TOKEN_DAYS,
    kind: str = "ServiceAccount",
    credential_id: str | None = None,
    name: str | None = None,
) -> str:
    """Add a new token (a JWT) for the service account to ``session`` (audited
    ``Auth:Tokens:Create`` in the same transaction under ``audit``); returns it."""
    return issue_token_row(
        session,
        org_id,
        service_account_id,
        audit=audit,
        days_valid=days_valid,
        kind=kind,
        credential_id=credential_id,
        name=name,
    )[0]


def issue_token_row(
    session: Session,
    org_id: str,
    service_account_id: str,
    *,
    audit: AuditContext | None = None,
    days_valid: int = DEFAULT_TOKEN_DAYS,
    kind: str = "ServiceAccount",
    credential_id: str | None = None,
    name: str | None = None,
) -> tuple[str, ApiToken]:
    """:func:`issue_token`, also returning the row."""
    kid, key = server_signing_key(session)
    token_id = new_id("to")
    now = utcnow()
    expires = now + timedelta(days=days_valid)
    claims: dict[str, Any] = {
        "iss": TOKEN_ISSUER,
        "sub": service_account_id,
        "aud": TOKEN_ISSUER,
        "iat": int(now.timestamp()),
        "exp": int(expires.timestamp()),
        "jti": token_id,
        APP_METADATA_CLAIM: {
            "orgId": org_id,
            "userId": service_account_id,
            "tokenId": token_id,
        },
    }
    token = jwt.encode(claims, key, kid)
    row = ApiToken(
        id=token_id,
        service_account_id=service_account_id,
        org_id=org_id,
        token_sha256=token_digest(token),
        date_created=now,
        expires_at=expires,
        kind=kind,
        credential_id=credential_id,
        name=name,
    )
    session.add(row)
    if audit is not None:
        session.flush()
        append(
            session,
            audit.in_org(org_id),
            action="Auth:Tokens:Create",
            target_id=token_id,
            details={"serviceAccountId": service_account_id, "kind": kind},
        )
    return token, row


class TokenKeys:
    """The JWT public keys by kid, read once from the database, and again for an
    unknown kid at most every ``reload_seconds`` (a stream of tokens with made-up kids
    does not make every request re-read and re-parse the keys)."""

    def __init__(self, reload_seconds: float = 5.0, clock: Callable[[], float] = time.monotonic):
        self._keys: dict[str, Ed25519PublicKey] = {}
        self._loaded_at: float | None = None
        self._reload_seconds = reload_seconds
        self._clock = clock

    def get(self, session: Session, kid: str) -> Ed25519PublicKey | None:
        now = self._clock()
        stale = (
            not self._keys
            or self._loaded_at is None
            or now - self._loaded_at >= self._reload_seconds
        )
        if kid not in self._keys and stale:
            self._keys = server_public_keys(session)
            self._loaded_at = now
        return self._keys.get(kid)


def lookup_principal(
    factory: sessionmaker[Session], token: str, keys: TokenKeys | None = None
) -> Principal | None:
    """The principal of a live token of an active service account, else ``None``."""
    legacy = is_well_formed_token(token)
    if not legacy and not jwt.looks_like_jwt(token):
        return None
    with factory() as session:
        if not legacy:
            try:
                kid = jwt.header_kid(token)
                public = (keys or TokenKeys()).get(session, kid)
                if public is None:
                    return None
                jwt.decode(token, public)
            except jwt.JwtError:
                return None
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
    if tok.expires_at is not None and tok.expires_at <= datetime.now(UTC):
        return None
    return Principal(tok.org_id, account.id, tok.id, account.is_admin, account.id)


def token_is_live(session: Session, token: str) -> ApiToken | None:
    """The row of ``token`` if it is live (not revoked or expired), else None."""
    if not (is_well_formed_token(token) or jwt.looks_like_jwt(token)):
        return None
    row = session.scalars(
        select(ApiToken).where(
            ApiToken.token_sha256 == token_digest(token), ApiToken.date_revoked.is_(None)
        )
    ).one_or_none()
    if row is None:
        return None
    if row.expires_at is not None and row.expires_at.timestamp() <= time.time():
        return None
    return row


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


_bearer = HTTPBearer(auto_error=False, bearerFormat="JWT")


def principal_of(request: Request) -> Principal | None:
    """The caller the auth middleware set on ``request`` (None on public paths)."""
    return principal_of_scope(request.scope)


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
