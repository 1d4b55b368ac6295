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
    BigInteger,
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
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "ApiToken",
    "AuditHead",
    "AuditRow",
    "Base",
    "CredentialRow",
    "DecisionRow",
    "ImportContextRow",
    "KeyRow",
    "Org",
    "PermissionAssignmentRow",
    "PermissionRow",
    "PolicyApprovalRow",
    "PolicyRow",
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
#: Signature statuses (Dfns): ``Pending`` waits for a policy approval (0008);
#: ``Executing`` is the claim taken before the signers are asked (it carries a lease);
#: a denied or expired approval leaves the request ``Rejected``.
SIG_PENDING = "Pending"
SIG_EXECUTING = "Executing"
SIG_SIGNED = "Signed"
SIG_FAILED = "Failed"
SIG_REJECTED = "Rejected"
#: Policy statuses (Dfns).
POLICY_ACTIVE = "Active"
POLICY_ARCHIVED = "Archived"
#: Approval statuses (Dfns).
APPROVAL_PENDING = "Pending"
APPROVAL_APPROVED = "Approved"
APPROVAL_DENIED = "Denied"
APPROVAL_EXPIRED = "Expired"
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
    #: Org setting ``signAfterExport`` (0007): an exported key may still sign.
    sign_after_export: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


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
    #: Whether the key may ever be exported (0007): set at create or import, can be
    #: switched off, never back on.
    exportable: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
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
    #: The claim's lease while Executing (0004): which API process signs the row, and
    #: until when; an Executing row whose lease expired was left by a process that died.
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_expires: Mapped[datetime | None]
    #: The approval a triggered policy opened for this request (0008), and when it was
    #: resolved (approved, denied or expired).
    approval_id: Mapped[str | None] = mapped_column(String(40), index=True)
    date_policy_resolved: Mapped[datetime | None]
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


class PermissionRow(Base):
    """A permission (Dfns: a "role"): a named set of operation names (0007)."""

    __tablename__ = "permissions"
    __table_args__ = (Index(None, "org_id", "id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"))
    name: Mapped[str] = mapped_column(String(255))
    #: Dfns operation names (``Keys:Create``, ...), in the order given.
    operations: Mapped[list[str]]
    is_immutable: Mapped[bool] = mapped_column(Boolean, default=False)
    is_archived: Mapped[bool] = mapped_column(Boolean, default=False)
    date_created: Mapped[datetime]
    date_updated: Mapped[datetime]


class PermissionAssignmentRow(Base):
    """A permission assigned to an identity (a service account or user id; 0007).
    Deleting an assignment deletes the row."""

    __tablename__ = "permission_assignments"
    __table_args__ = (
        UniqueConstraint("permission_id", "identity_id"),
        Index(None, "org_id", "identity_id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"))
    permission_id: Mapped[str] = mapped_column(ForeignKey("permissions.id"), index=True)
    identity_id: Mapped[str] = mapped_column(String(40))
    is_immutable: Mapped[bool] = mapped_column(Boolean, default=False)
    date_created: Mapped[datetime]
    date_updated: Mapped[datetime]


class PolicyRow(Base):
    """An approval policy (``/v2/policies``, 0008): which activity it gates, the rule
    that triggers it, the action then taken and the filters narrowing its scope, as
    the API validated them (Dfns's camelCase shapes)."""

    __tablename__ = "policies"
    __table_args__ = (Index(None, "org_id", "activity_kind", "status"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"))
    name: Mapped[str] = mapped_column(String(255))
    activity_kind: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default=POLICY_ACTIVE)
    rule: Mapped[dict[str, Any]]
    action: Mapped[dict[str, Any]]
    filters: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    date_created: Mapped[datetime]
    date_updated: Mapped[datetime]


class PolicyApprovalRow(Base):
    """An approval a triggered ``RequestApproval`` policy opened (0008). ``groups``: the
    approval groups of every triggered policy, copied when it opened (a later policy
    edit changes nothing here). The activity it holds back is a signature
    or a change request (``change``: a policy update or archive)."""

    __tablename__ = "policy_approvals"
    __table_args__ = (Index(None, "org_id", "status", "id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"))
    initiator_id: Mapped[str] = mapped_column(String(40))
    activity_kind: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default=APPROVAL_PENDING)
    #: What it holds back: the signature (``Wallets:Sign``) or the policy
    #: (``Policies:Modify``) it is about.
    entity_id: Mapped[str] = mapped_column(String(40), index=True)
    change: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    groups: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    policy_evaluations: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    expiration_date: Mapped[datetime | None]
    date_created: Mapped[datetime]
    date_updated: Mapped[datetime]
    date_resolved: Mapped[datetime | None]


class DecisionRow(Base):
    """One user's decision on an approval (0008); UNIQUE: a user decides once."""

    __tablename__ = "policy_decisions"
    __table_args__ = (UniqueConstraint("approval_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    approval_id: Mapped[str] = mapped_column(ForeignKey("policy_approvals.id"))
    user_id: Mapped[str] = mapped_column(String(40))
    value: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(1024))
    date: Mapped[datetime]


class AuditRow(Base):
    """One row of the append-only, hash-chained audit log (0006; docs/governance-audit.md).

    Each org has its own chain (``org_id``; requests whose org is unknown, e.g. an
    unknown bearer token, go to the pseudo-org chain ``"-"``): ``seq`` counts 1, 2, 3,
    ... and ``hash`` is SHA-256 over the canonical encoding of the row, which includes
    ``prev_hash``, the hash of row ``seq - 1`` (64 zeros for the first row)."""

    __tablename__ = "audit_log"
    __table_args__ = (
        UniqueConstraint("org_id", "seq"),
        Index(None, "org_id", "target_id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    #: The chain: an org id, or "-" (no FK: that pseudo-org is not an org).
    org_id: Mapped[str] = mapped_column(String(40))
    seq: Mapped[int] = mapped_column(BigInteger)
    date: Mapped[datetime]
    #: "User" (an API caller), "System" (the vault itself), "Operator" (the CLI on the
    #: database), "Unknown" (a caller whose bearer token was not recognised).
    actor: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[str | None] = mapped_column(String(64))
    token_id: Mapped[str | None] = mapped_column(String(64))
    credential_id: Mapped[str | None] = mapped_column(String(255))
    #: First 16 hex digits of SHA-256 of an unrecognised bearer token (never the token).
    token_hash_prefix: Mapped[str | None] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(64))
    target_id: Mapped[str | None] = mapped_column(String(255))
    method: Mapped[str | None] = mapped_column(String(16))
    path: Mapped[str | None] = mapped_column(String(1024))
    #: SHA-256 (hex) of the method, path and canonical JSON body of the request.
    request_hash: Mapped[str | None] = mapped_column(String(64))
    #: "Success", "Failure", "Refused" (401/403) or "Pending" (a step of a longer action).
    result: Mapped[str] = mapped_column(String(16))
    status: Mapped[int | None] = mapped_column(Integer)
    error_code: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The last row of each audit chain (0006): appends lock it (``SELECT ... FOR
    UPDATE``), so appends to one chain are serialised across API processes; and
    ``shardvault audit verify`` compares it with the chain's last row (a deleted
    tail shows)."""

    __tablename__ = "audit_heads"

    org_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
