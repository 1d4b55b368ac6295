"""The API's tables (SQLAlchemy 2, typed). Public metadata only: no key share or
token ever lands here (API and user-action tokens are stored as SHA-256 digests,
key shares live in the signers' own stores). One exception: ``server_keys`` holds
the API's JWT signing key, shared by the API processes of one database; a token
is live only while its digest row is, so reading that key forges no token.

Schema changes go through Alembic (``shardvault/db/migrations``); a test checks
that the migrations produce exactly this metadata.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "ApiToken",
    "Base",
    "CredentialRow",
    "ImportContextRow",
    "KeyRow",
    "Org",
    "ServerKeyRow",
    "ServiceAccount",
    "SignatureRow",
    "UTCDateTime",
    "UserActionChallengeRow",
    "UserActionTokenRow",
    "WalletRow",
    "utcnow",
]

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: Key statuses (Dfns).
KEY_ACTIVE = "Active"
KEY_ARCHIVED = "Archived"
#: Signature statuses. ``Pending`` is the claim taken before the signers are asked.
SIG_PENDING = "Pending"
SIG_SIGNED = "Signed"
SIG_FAILED = "Failed"
#: Wallet statuses (Dfns).
WALLET_ACTIVE = "Active"


def utcnow() -> datetime:
    """Now, in UTC, truncated to the millisecond (what the API shows)."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes, stored as naive UTC on every database."""

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not accepted; use UTC-aware ones")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012 (SQLAlchemy reads it as a class attribute)
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
        dict[str, str]: JSON(),
        list[str]: JSON(),
    }


class Org(Base):
    __tablename__ = "orgs"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    #: Org setting ``keyExport``: POST /keys/{id}/export is refused unless on.
    key_export_enabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    date_created: Mapped[datetime]


class ServiceAccount(Base):
    __tablename__ = "service_accounts"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    date_created: Mapped[datetime]
    #: Dfns ``externalId`` (0005).
    external_id: Mapped[str | None] = mapped_column(String(255))
    #: Set by ``DELETE /auth/service-accounts/{id}`` (archived: inactive for good; 0005).
    date_archived: Mapped[datetime | None]


class ApiToken(Base):
    """A bearer token; only its SHA-256 digest (hex) is kept. Tokens issued since
    0005 are JWTs (api/tokens.py) with an expiry."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    service_account_id: Mapped[str] = mapped_column(ForeignKey("service_accounts.id"), index=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    date_created: Mapped[datetime]
    date_revoked: Mapped[datetime | None]
    #: 0005: the JWT's ``exp`` (None: a pre-0005 ``sv_`` token, no expiry).
    expires_at: Mapped[datetime | None]
    #: 0005: ``ServiceAccount`` or ``Pat``; the credential it was created with, its name.
    kind: Mapped[str] = mapped_column(
        String(16), default="ServiceAccount", server_default="ServiceAccount"
    )
    credential_id: Mapped[str | None] = mapped_column(String(40))
    name: Mapped[str | None] = mapped_column(String(255))


class CredentialRow(Base):
    """A credential (0005): a public key of a user (a service account) that signs its
    user actions. ``id`` (``cr-...``) is both Dfns's ``credentialUuid`` and the
    ``credId`` clients put in their assertions."""

    __tablename__ = "credentials"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("service_accounts.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="Key")
    #: Canonical PEM (SubjectPublicKeyInfo).
    public_key: Mapped[str] = mapped_column(Text)
    #: crypto/credentials.py ``Algorithm``.
    algorithm: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    date_created: Mapped[datetime]
    date_deactivated: Mapped[datetime | None]


class UserActionChallengeRow(Base):
    """A challenge of ``POST /auth/action/init`` (0005): the commitment's fields
    (protocols/user_action.py); taken once by ``POST /auth/action``."""

    __tablename__ = "user_action_challenges"

    #: The ``challengeIdentifier``.
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("service_accounts.id"))
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(1024))
    payload_sha256: Mapped[str] = mapped_column(String(64))
    #: base64url of the 32-byte nonce.
    nonce: Mapped[str] = mapped_column(String(64))
    challenge: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class UserActionTokenRow(Base):
    """A user-action token (0005), stored as its SHA-256: single use, bound to the
    user, method, path and payload hash of its challenge."""

    __tablename__ = "user_action_tokens"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("service_accounts.id"))
    credential_id: Mapped[str] = mapped_column(ForeignKey("credentials.id"))
    challenge_id: Mapped[str] = mapped_column(ForeignKey("user_action_challenges.id"))
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(1024))
    payload_sha256: Mapped[str] = mapped_column(String(64))
    date_created: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class ServerKeyRow(Base):
    """The API's JWT signing key (0005), shared by every API process on the database.
    PKCS#8 PEM of an Ed25519 key (see docs/governance.md on why it lives here)."""

    __tablename__ = "server_keys"

    #: The JWT ``kid``.
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(16), unique=True)
    private_key: Mapped[str] = mapped_column(Text)
    date_created: Mapped[datetime]


class KeyRow(Base):
    __tablename__ = "keys"
    __table_args__ = (Index(None, "org_id", "id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"))
    scheme: Mapped[str] = mapped_column(String(32))
    curve: Mapped[str] = mapped_column(String(32))
    protocol: Mapped[str] = mapped_column(String(32))
    #: Lowercase hex of the encoded group public key.
    public_key: Mapped[str] = mapped_column(String(132))
    name: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default=KEY_ACTIVE)
    imported: Mapped[bool] = mapped_column(Boolean, default=False)
    exported: Mapped[bool] = mapped_column(Boolean, default=False)
    date_exported: Mapped[datetime | None]
    date_created: Mapped[datetime]
    date_archived: Mapped[datetime | None]
    #: True once the signers confirmed they erased their shares (DELETE finished).
    shares_erased: Mapped[bool] = mapped_column(Boolean, default=False)
    min_signers: Mapped[int] = mapped_column(Integer)
    #: Signer ids in party-index order (index i + 1 is signer_ids[i]).
    signer_ids: Mapped[list[str]]
    #: signer id -> lowercase hex of its verifying share.
    verifying_shares: Mapped[dict[str, str]]


class SignatureRow(Base):
    __tablename__ = "signatures"
    __table_args__ = (
        # NULLs are distinct on SQLite and PostgreSQL: only requests that carry an
        # externalId take part in idempotency.
        UniqueConstraint("key_id", "external_id"),
        Index(None, "key_id", "id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    key_id: Mapped[str] = mapped_column(ForeignKey("keys.id"))
    status: Mapped[str] = mapped_column(String(16))
    #: The request as the API understood it (camelCase, normalised hex).
    request_body: Mapped[dict[str, Any]]
    external_id: Mapped[str | None] = mapped_column(String(255))
    sig_r: Mapped[bytes | None] = mapped_column(LargeBinary)
    sig_s: Mapped[bytes | None] = mapped_column(LargeBinary)
    sig_recid: Mapped[int | None] = mapped_column(Integer)
    sig_encoded: Mapped[bytes | None] = mapped_column(LargeBinary)
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(String(1024))
    date_requested: Mapped[datetime]
    date_signed: Mapped[datetime | None]
    #: Set when the request came through POST /wallets/{walletId}/signatures (0002).
    wallet_id: Mapped[str | None] = mapped_column(ForeignKey("wallets.id"))
    #: The signed payload (signed transaction, PSBT, BIP 322 witness) for chain kinds (0002).
    signed_data: Mapped[bytes | None] = mapped_column(LargeBinary)
    #: Extra result fields of chain kinds (``signedInputs``, ``skippedInputs``; 0002).
    result_details: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    #: The claim's lease while Pending (0004): which API process signs the row, and
    #: until when; a Pending row whose lease expired was left by a process that died.
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_expires: Mapped[datetime | None]


class WalletRow(Base):
    """A wallet: a key bound to a network, with the address derived from it (0002).
    One key may back several wallets (the same ECDSA key on every EVM network)."""

    __tablename__ = "wallets"
    __table_args__ = (
        # NULLs are distinct: only wallets created with an externalId are unique.
        UniqueConstraint("org_id", "external_id"),
        Index(None, "org_id", "id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"))
    key_id: Mapped[str] = mapped_column(ForeignKey("keys.id"), index=True)
    network: Mapped[str] = mapped_column(String(32))
    address: Mapped[str] = mapped_column(String(128))
    name: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default=WALLET_ACTIVE)
    tags: Mapped[list[str]]
    external_id: Mapped[str | None] = mapped_column(String(255))
    date_created: Mapped[datetime]


class ImportContextRow(Base):
    """A one-time import context (``POST /keys/import/context``, 0003): issued to one
    org, accepted by ``POST /keys/import`` once and before it expires. The signers
    check it again themselves (docs/import-export-format.md section 3)."""

    __tablename__ = "import_contexts"

    #: Lowercase hex of the 16 random bytes of the import id.
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"), index=True)
    #: Whole seconds (the issue time is bound into the import's AAD as Unix seconds).
    issued_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    #: Set when POST /keys/import took it (whether or not the import then succeeded).
    used_at: Mapped[datetime | None]
