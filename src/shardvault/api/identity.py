"""The identity tables' operations (:class:`IdentityRepository`): service accounts,
their credentials and tokens, and the user-action challenges and tokens
(protocols/user_action.py has the construction, docs/governance.md the flow).

Short synchronous transactions, run in worker threads by the routes. Every change
of a service account, credential or token takes an
:class:`~shardvault.api.audit.AuditContext` and appends its audit row
(``Auth:ServiceAccounts:*``, ``Auth:Creds:*``, ``Auth:Tokens:*``) in its
transaction; the user-action bookkeeping (challenges, user-action tokens) is not
audited: it changes nothing of the org. Every refusal
is a typed error: :class:`~shardvault.protocols.user_action.UserActionError` (401)
with the code that names the reason, ``NotFound`` (404) or ``InvalidParameters``.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Engine, Table, delete, event, select, text, update
from sqlalchemy.orm import Session

from shardvault.api.audit import AuditContext, append
from shardvault.api.auth import DEFAULT_TOKEN_DAYS, issue_token_row
from shardvault.crypto.credentials import CredentialError, parse_public_key
from shardvault.db.engine import make_engine, read_sessionmaker, write_sessionmaker
from shardvault.db.ids import is_id, new_id
from shardvault.db.models import (
    ApiToken,
    CredentialRow,
    ServiceAccount,
    UserActionChallengeRow,
    UserActionTokenRow,
    utcnow,
)
from shardvault.errors import Conflict, InvalidParameters, NotFound
from shardvault.protocols.user_action import (
    UserActionCommitment,
    UserActionError,
    b64url_decode,
    b64url_encode,
    check_client_data,
)

__all__ = [
    "USER_ACTION_TOKEN_PREFIX",
    "Account",
    "IdentityRepository",
    "IssuedChallenge",
    "VerifiedUserAction",
]

#: User-action tokens: ``ua_`` + 43 urlsafe characters (32 random bytes).
USER_ACTION_TOKEN_PREFIX = "ua_"  # noqa: S105 (a prefix, not a secret)
_MAX_TOKEN = 128
#: ``init_challenge`` purges expired rows once in this many calls (on average).
_PURGE_ONE_IN = 64


@dataclass(frozen=True, slots=True)
class VerifiedUserAction:
    """A user action verified for the request it came with (``request.state.user_action``)."""

    user_id: str
    credential_id: str
    challenge_identifier: str
    method: str
    path: str
    #: hex SHA-256 of the canonical JSON payload (protocols/user_action.py).
    payload_sha256: str


@dataclass(frozen=True, slots=True)
class IssuedChallenge:
    challenge: str
    challenge_identifier: str
    credential_ids: list[str]


@dataclass(frozen=True, slots=True)
class Account:
    """A service account with its credentials and tokens (for the API's views)."""

    account: ServiceAccount
    credentials: list[CredentialRow]
    tokens: list[ApiToken]


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


def _refuse(code: str, message: str) -> UserActionError:
    return UserActionError(message, code=code)


def _consume_engine(engine: Engine) -> Engine:
    """The engine that takes user-action tokens: its commits are not flushed to disk
    on their own (SQLite ``synchronous = NORMAL`` in WAL mode; PostgreSQL
    ``synchronous_commit = off`` per transaction). The log is sequential, so the
    taking is durable with the next flushed commit of anyone, which for a request
    that changes anything is its own. A power cut between the two can only revive
    a token whose request changed nothing (docs/governance.md)."""
    if engine.dialect.name == "sqlite" and engine.url.database in (None, "", ":memory:"):
        return engine  # an in-memory database exists once: share its engine
    url = engine.url.render_as_string(hide_password=False)
    consume = make_engine(url, pool_size=4) if engine.dialect.name != "sqlite" else make_engine(url)
    if consume.dialect.name == "sqlite":

        def _normal(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute("PRAGMA synchronous = NORMAL")
            finally:
                cursor.close()

        event.listen(consume, "connect", _normal)
    return consume


class IdentityRepository:
    """Service accounts, credentials, user-action challenges and tokens."""

    def __init__(
        self,
        engine: Engine,
        *,
        challenge_seconds: float = 300.0,
        token_seconds: float = 300.0,
    ) -> None:
        self._engine = engine
        self._read = read_sessionmaker(engine)
        self._write = write_sessionmaker(engine)
        self._consume_engine = _consume_engine(engine)
        self._fast = write_sessionmaker(self._consume_engine)
        self.challenge_lifetime = timedelta(seconds=challenge_seconds)
        self.token_lifetime = timedelta(seconds=token_seconds)

    def close(self) -> None:
        if self._consume_engine is not self._engine:
            self._consume_engine.dispose()

    @contextmanager
    def _unflushed(self) -> Iterator[Session]:
        """A write transaction whose commit is not flushed on its own (see
        :func:`_consume_engine`): challenges and user-action tokens, which a power
        cut may lose (the client signs again) but never forge."""
        with self._fast.begin() as s:
            if s.get_bind().dialect.name == "postgresql":
                s.execute(text("SET LOCAL synchronous_commit TO OFF"))
            yield s

    # -- user actions --------------------------------------------------------------
    def init_challenge(
        self, org_id: str, user_id: str, method: str, path: str, payload_sha256: str
    ) -> IssuedChallenge:
        """A fresh challenge for this request (``POST /auth/action/init``)."""
        expires = utcnow() + self.challenge_lifetime
        commitment = UserActionCommitment.new(
            org_id=org_id,
            user_id=user_id,
            method=method,
            path=path,
            payload_sha256=payload_sha256,
            expires_at=int(expires.timestamp()),
        )
        challenge_id = new_id("ch")
        challenge = commitment.challenge()
        with self._unflushed() as s:
            credentials = list(
                s.scalars(
                    select(CredentialRow.id)
                    .where(CredentialRow.user_id == user_id, CredentialRow.is_active.is_(True))
                    .order_by(CredentialRow.id)
                )
            )
            s.add(
                UserActionChallengeRow(
                    id=challenge_id,
                    org_id=org_id,
                    user_id=user_id,
                    method=commitment.method,
                    path=path,
                    payload_sha256=payload_sha256,
                    nonce=b64url_encode(commitment.nonce),
                    challenge=challenge,
                    # the commitment binds whole seconds
                    expires_at=datetime.fromtimestamp(commitment.expires_at, UTC),
                )
            )
        if secrets.randbelow(_PURGE_ONE_IN) == 0:
            self.purge_expired()
        return IssuedChallenge(challenge, challenge_id, credentials)

    def purge_expired(self, grace: timedelta = timedelta(hours=1)) -> int:
        """Delete challenges and user-action tokens expired more than ``grace`` ago
        (an expired token is refused anyway; once deleted, as unknown). Run now and
        then by ``init_challenge``; returns the number of rows deleted."""
        cutoff = utcnow() - grace
        tokens = cast(Table, UserActionTokenRow.__table__)
        challenges = cast(Table, UserActionChallengeRow.__table__)
        with self._unflushed() as s:
            first = s.execute(delete(tokens).where(tokens.c.expires_at < cutoff))
            second = s.execute(
                delete(challenges).where(
                    challenges.c.expires_at < cutoff,
                    ~challenges.c.id.in_(select(tokens.c.challenge_id)),
                )
            )
        return int(cast(CursorResult[Any], first).rowcount) + int(
            cast(CursorResult[Any], second).rowcount
        )

    def sign_challenge(
        self,
        org_id: str,
        user_id: str,
        challenge_identifier: str,
        cred_id: str,
        client_data_b64: str,
        signature_b64: str,
        allowed_origins: tuple[str, ...],
    ) -> str:
        """Verify a credential assertion for a challenge; returns a user-action token
        (``POST /auth/action``). The challenge is taken (single use) only by an
        assertion that passes every check."""
        try:
            client_data = b64url_decode(client_data_b64)
            signature = b64url_decode(signature_b64)
        except ValueError:
            raise _refuse(
                "InvalidClientData", "clientData and signature must be base64url"
            ) from None
        with self._unflushed() as s:
            ch = (
                s.get(UserActionChallengeRow, challenge_identifier)
                if is_id(challenge_identifier, "ch")
                else None
            )
            if ch is None or ch.org_id != org_id:
                raise _refuse("UnknownChallenge", "no such challenge")
            if ch.user_id != user_id:
                raise _refuse("ChallengeOfAnotherUser", "the challenge was issued to another user")
            if ch.used_at is not None:
                raise _refuse("ChallengeAlreadyUsed", "the challenge was already used")
            if ch.expires_at <= _now():
                raise _refuse("ChallengeExpired", "the challenge has expired")
            cred = s.get(CredentialRow, cred_id) if is_id(cred_id, "cr") else None
            if cred is None or cred.org_id != org_id:
                raise _refuse("UnknownCredential", "no such credential")
            if cred.user_id != user_id:
                raise _refuse("CredentialOfAnotherUser", "the credential belongs to another user")
            if not cred.is_active:
                raise _refuse("CredentialInactive", "the credential is deactivated")
            try:
                parse_public_key(cred.public_key).verify(signature, client_data)
            except CredentialError:
                raise _refuse(
                    "InvalidSignature", "the signature does not verify with this credential"
                ) from None
            check_client_data(client_data, ch.challenge, allowed_origins)
            taken = s.execute(
                update(UserActionChallengeRow)
                .where(UserActionChallengeRow.id == ch.id, UserActionChallengeRow.used_at.is_(None))
                .values(used_at=utcnow())
            )
            if taken.rowcount != 1:  # type: ignore[attr-defined]
                raise _refuse("ChallengeAlreadyUsed", "the challenge was already used")
            token = USER_ACTION_TOKEN_PREFIX + secrets.token_urlsafe(32)
            now = utcnow()
            s.add(
                UserActionTokenRow(
                    id=new_id("ua"),
                    token_sha256=_digest(token),
                    org_id=org_id,
                    user_id=user_id,
                    credential_id=cred.id,
                    challenge_id=ch.id,
                    method=ch.method,
                    path=ch.path,
                    payload_sha256=ch.payload_sha256,
                    date_created=now,
                    expires_at=min(now + self.token_lifetime, ch.expires_at),
                )
            )
        return token

    def consume(
        self, org_id: str, user_id: str, token: str, method: str, path: str, payload_sha256: str
    ) -> VerifiedUserAction:
        """Take a user-action token for this request. The accepting path is one
        statement: an ``UPDATE ... RETURNING`` of the token's row (found by its digest,
        a unique index) that matches every condition and is unused; only a refusal
        reads the row again to name its reason."""
        if not token.startswith(USER_ACTION_TOKEN_PREFIX) or len(token) > _MAX_TOKEN:
            raise _refuse("UnknownUserAction", "unknown user action token")
        digest = _digest(token)
        t = cast(Table, UserActionTokenRow.__table__)
        now = utcnow()
        with self._unflushed() as s:
            taken = s.execute(
                update(t)
                .where(
                    t.c.token_sha256 == digest,
                    t.c.used_at.is_(None),
                    t.c.org_id == org_id,
                    t.c.user_id == user_id,
                    t.c.method == method.upper(),
                    t.c.path == path,
                    t.c.payload_sha256 == payload_sha256,
                    t.c.expires_at > now,
                    t.c.credential_id.in_(
                        select(CredentialRow.id).where(CredentialRow.is_active.is_(True))
                    ),
                )
                .values(used_at=now)
                .returning(t.c.credential_id, t.c.challenge_id)
            ).one_or_none()
            if taken is not None:
                return VerifiedUserAction(
                    user_id, taken[0], taken[1], method.upper(), path, payload_sha256
                )
        raise self._refusal(org_id, user_id, digest, method, path, payload_sha256)

    def _refusal(
        self, org_id: str, user_id: str, digest: str, method: str, path: str, payload: str
    ) -> UserActionError:
        """Why a token was not taken (read after the fact)."""
        with self._read() as s:
            row = s.execute(
                select(UserActionTokenRow, CredentialRow.is_active)
                .join(CredentialRow, UserActionTokenRow.credential_id == CredentialRow.id)
                .where(UserActionTokenRow.token_sha256 == digest)
            ).one_or_none()
        if row is None or row[0].org_id != org_id:
            return _refuse("UnknownUserAction", "unknown user action token")
        ua, credential_active = row
        if ua.used_at is not None:
            return _refuse("UserActionReplayed", "the user action token was already used")
        if ua.expires_at <= _now():
            return _refuse("UserActionExpired", "the user action token has expired")
        if ua.user_id != user_id:
            return _refuse("UserActionOfAnotherUser", "the user action was signed by another user")
        if ua.method != method.upper() or ua.path != path:
            return _refuse(
                "UserActionWrongRequest", f"the user action was signed for {ua.method} {ua.path}"
            )
        if ua.payload_sha256 != payload:
            return _refuse(
                "UserActionPayloadMismatch", "the request body is not the signed payload"
            )
        if not credential_active:
            return _refuse("CredentialInactive", "the credential is deactivated")
        return _refuse("UserActionReplayed", "the user action token was already used")

    # -- credentials ---------------------------------------------------------------
    @staticmethod
    def add_credential(
        s: Session, org_id: str, user_id: str, public_key_pem: str, name: str
    ) -> CredentialRow:
        try:
            key = parse_public_key(public_key_pem)
        except CredentialError as exc:
            raise InvalidParameters(exc.message, code=exc.code) from None
        taken = s.scalars(
            select(CredentialRow.id).where(
                CredentialRow.org_id == org_id, CredentialRow.public_key == key.pem
            )
        ).first()
        if taken is not None:
            raise Conflict("this public key is already a credential", code="DuplicateCredential")
        row = CredentialRow(
            id=new_id("cr"),
            org_id=org_id,
            user_id=user_id,
            kind="Key",
            public_key=key.pem,
            algorithm=key.algorithm,
            name=name,
            is_active=True,
            date_created=utcnow(),
        )
        s.add(row)
        s.flush()
        return row

    def create_credential(
        self, org_id: str, user_id: str, public_key_pem: str, name: str, *, audit: AuditContext
    ) -> CredentialRow:
        """A new Key credential of ``user_id``, audited ``Auth:Creds:Create``."""
        with self._write.begin() as s:
            row = self.add_credential(s, org_id, user_id, public_key_pem, name)
            _append_credential(s, audit, row)
            return row

    def list_credentials(self, org_id: str, user_id: str) -> list[CredentialRow]:
        with self._read() as s:
            return list(
                s.scalars(
                    select(CredentialRow)
                    .where(CredentialRow.org_id == org_id, CredentialRow.user_id == user_id)
                    .order_by(CredentialRow.id)
                )
            )

    def set_credential_active(
        self, org_id: str, user_id: str, credential_id: str, active: bool, *, audit: AuditContext
    ) -> CredentialRow:
        """Activate or deactivate a credential of ``user_id``, audited ``Auth:Creds:Update``."""
        with self._write.begin() as s:
            row = s.get(CredentialRow, credential_id) if is_id(credential_id, "cr") else None
            if row is None or row.org_id != org_id or row.user_id != user_id:
                raise NotFound(f"credential {credential_id} not found", code="CredentialNotFound")
            previous = row.is_active
            row.is_active = active
            row.date_deactivated = None if active else utcnow()
            s.flush()
            append(
                s,
                audit,
                action="Auth:Creds:Update",
                target_id=row.id,
                details={"userId": user_id, "isActive": active, "previous": {"isActive": previous}},
            )
            return row

    # -- service accounts ----------------------------------------------------------
    def create_service_account(
        self,
        org_id: str,
        name: str,
        public_key_pem: str,
        *,
        external_id: str | None = None,
        days_valid: int = DEFAULT_TOKEN_DAYS,
        is_admin: bool = False,
        audit: AuditContext,
    ) -> tuple[Account, str]:
        """A new service account with its credential and first token; returns the
        account and the token (shown once). Audited ``Auth:ServiceAccounts:Create``,
        ``Auth:Creds:Create`` and ``Auth:Tokens:Create`` in the one transaction."""
        with self._write.begin() as s:
            account = ServiceAccount(
                id=new_id("sa"),
                org_id=org_id,
                name=name,
                is_admin=is_admin,
                is_active=True,
                date_created=utcnow(),
                external_id=external_id,
            )
            s.add(account)
            s.flush()
            cred = self.add_credential(s, org_id, account.id, public_key_pem, name)
            append(
                s,
                audit,
                action="Auth:ServiceAccounts:Create",
                target_id=account.id,
                details={"name": name, "externalId": external_id, "isAdmin": is_admin},
            )
            _append_credential(s, audit, cred)
            token, row = issue_token_row(
                s,
                org_id,
                account.id,
                audit=audit,
                days_valid=days_valid,
                credential_id=cred.id,
                name=name,
            )
            s.flush()
            return Account(account, [cred], [row]), token

    @staticmethod
    def _account(s: Session, org_id: str, account_id: str) -> Account:
        account = s.get(ServiceAccount, account_id) if is_id(account_id, "sa") else None
        if account is None or account.org_id != org_id:
            raise NotFound(f"service account {account_id} not found", code="ServiceAccountNotFound")
        creds = list(
            s.scalars(
                select(CredentialRow)
                .where(CredentialRow.user_id == account.id)
                .order_by(CredentialRow.id)
            )
        )
        tokens = list(
            s.scalars(
                select(ApiToken)
                .where(ApiToken.service_account_id == account.id)
                .order_by(ApiToken.id)
            )
        )
        return Account(account, creds, tokens)

    def get_service_account(self, org_id: str, account_id: str) -> Account:
        with self._read() as s:
            return self._account(s, org_id, account_id)

    def list_service_accounts(self, org_id: str) -> list[Account]:
        with self._read() as s:
            ids = list(
                s.scalars(
                    select(ServiceAccount.id)
                    .where(ServiceAccount.org_id == org_id)
                    .order_by(ServiceAccount.id)
                )
            )
            return [self._account(s, org_id, i) for i in ids]

    def update_service_account(
        self,
        org_id: str,
        account_id: str,
        name: str | None,
        external_id: str | None,
        *,
        audit: AuditContext,
    ) -> Account:
        """Rename or set the external id, audited ``Auth:ServiceAccounts:Update`` with
        the fields changed and their previous values."""
        with self._write.begin() as s:
            found = self._account(s, org_id, account_id)
            self._check_not_archived(found.account)
            changed: dict[str, str] = {}
            previous: dict[str, str | None] = {}
            if name is not None:
                previous["name"] = found.account.name
                found.account.name = changed["name"] = name
            if external_id is not None:
                previous["externalId"] = found.account.external_id
                found.account.external_id = changed["externalId"] = external_id
            s.flush()
            append(
                s,
                audit,
                action="Auth:ServiceAccounts:Update",
                target_id=account_id,
                details={**changed, "previous": previous},
            )
            return found

    @staticmethod
    def _check_not_archived(account: ServiceAccount) -> None:
        if account.date_archived is not None:
            raise Conflict("the service account is archived", code="ServiceAccountArchived")

    def set_service_account_state(
        self,
        org_id: str,
        account_id: str,
        *,
        active: bool,
        archive: bool = False,
        audit: AuditContext,
    ) -> Account:
        """Activate, deactivate or archive (inactive for good; its tokens revoked),
        audited ``Auth:ServiceAccounts:Activate``, ``...:Deactivate`` or ``...:Delete``
        (the archive, naming the tokens it revoked)."""
        with self._write.begin() as s:
            found = self._account(s, org_id, account_id)
            self._check_not_archived(found.account)
            previous = found.account.is_active
            found.account.is_active = active
            details: dict[str, Any] = {"isActive": active, "previous": {"isActive": previous}}
            if archive:
                action = "Auth:ServiceAccounts:Delete"
                found.account.date_archived = utcnow()
                revoked = []
                for tok in found.tokens:
                    if tok.date_revoked is None:
                        tok.date_revoked = utcnow()
                        revoked.append(tok.id)
                details["revokedTokenIds"] = revoked
            else:
                action = f"Auth:ServiceAccounts:{'Activate' if active else 'Deactivate'}"
            s.flush()
            append(s, audit, action=action, target_id=account_id, details=details)
            return found

    def revoke_token(self, org_id: str, token_id: str, *, audit: AuditContext) -> ApiToken:
        """Revoke an API token, audited ``Auth:Tokens:Revoke`` (also when it was
        revoked already: ``alreadyRevoked``)."""
        with self._write.begin() as s:
            row = s.get(ApiToken, token_id) if is_id(token_id, "to") else None
            if row is None or row.org_id != org_id:
                raise NotFound(f"token {token_id} not found", code="TokenNotFound")
            already = row.date_revoked is not None
            if not already:
                row.date_revoked = utcnow()
            s.flush()
            append(
                s,
                audit,
                action="Auth:Tokens:Revoke",
                target_id=token_id,
                details={"serviceAccountId": row.service_account_id, "alreadyRevoked": already},
            )
            return row


def _append_credential(s: Session, audit: AuditContext, row: CredentialRow) -> None:
    append(
        s,
        audit,
        action="Auth:Creds:Create",
        target_id=row.id,
        details={"userId": row.user_id, "kind": row.kind, "name": row.name},
    )
