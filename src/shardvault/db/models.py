"""The API's tables (SQLAlchemy 2, typed). Public metadata only: no secret ever
lands here (API tokens are stored as SHA-256 digests, key shares live in the
signers' own stores).

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
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "ApiToken",
    "Base",
    "ImportContextRow",
    "KeyRow",
    "Org",
    "ServiceAccount",
    "SignatureRow",
    "UTCDateTime",
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


class ApiToken(Base):
    """A bearer token; only its SHA-256 digest (hex) is kept."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    service_account_id: Mapped[str] = mapped_column(ForeignKey("service_accounts.id"), index=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    date_created: Mapped[datetime]
    date_revoked: Mapped[datetime | None]


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
    #: Who asked (0009): the Dfns user id (a service account's id) and the API token;
    #: NULL on rows stored before.
    requester_user_id: Mapped[str | None] = mapped_column(String(40))
    requester_token_id: Mapped[str | None] = mapped_column(String(40))


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
