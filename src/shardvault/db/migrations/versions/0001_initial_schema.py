"""Initial schema: orgs, service accounts, API tokens, keys, signatures.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "orgs",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("key_export_enabled", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("date_created", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orgs")),
    )
    op.create_table(
        "service_accounts",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("is_admin", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("date_created", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("fk_service_accounts_org_id_orgs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_accounts")),
    )
    op.create_index(
        op.f("ix_service_accounts_org_id"), "service_accounts", ["org_id"], unique=False
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("service_account_id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("date_created", sa.DateTime(), nullable=False),
        sa.Column("date_revoked", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["org_id"], ["orgs.id"], name=op.f("fk_api_tokens_org_id_orgs")),
        sa.ForeignKeyConstraint(
            ["service_account_id"],
            ["service_accounts.id"],
            name=op.f("fk_api_tokens_service_account_id_service_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_api_tokens_token_sha256")),
    )
    op.create_index(op.f("ix_api_tokens_org_id"), "api_tokens", ["org_id"], unique=False)
    op.create_index(
        op.f("ix_api_tokens_service_account_id"),
        "api_tokens",
        ["service_account_id"],
        unique=False,
    )
    op.create_table(
        "keys",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("scheme", sa.String(length=32), nullable=False),
        sa.Column("curve", sa.String(length=32), nullable=False),
        sa.Column("protocol", sa.String(length=32), nullable=False),
        sa.Column("public_key", sa.String(length=132), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("imported", sa.Boolean(), nullable=False),
        sa.Column("exported", sa.Boolean(), nullable=False),
        sa.Column("date_exported", sa.DateTime(), nullable=True),
        sa.Column("date_created", sa.DateTime(), nullable=False),
        sa.Column("date_archived", sa.DateTime(), nullable=True),
        sa.Column("shares_erased", sa.Boolean(), nullable=False),
        sa.Column("min_signers", sa.Integer(), nullable=False),
        sa.Column("signer_ids", sa.JSON(), nullable=False),
        sa.Column("verifying_shares", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["orgs.id"], name=op.f("fk_keys_org_id_orgs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_keys")),
    )
    op.create_index(op.f("ix_keys_org_id_id"), "keys", ["org_id", "id"], unique=False)
    op.create_table(
        "signatures",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("key_id", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("request_body", sa.JSON(), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=True),
        sa.Column("sig_r", sa.LargeBinary(), nullable=True),
        sa.Column("sig_s", sa.LargeBinary(), nullable=True),
        sa.Column("sig_recid", sa.Integer(), nullable=True),
        sa.Column("sig_encoded", sa.LargeBinary(), nullable=True),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("error_message", sa.String(length=1024), nullable=True),
        sa.Column("date_requested", sa.DateTime(), nullable=False),
        sa.Column("date_signed", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["key_id"], ["keys.id"], name=op.f("fk_signatures_key_id_keys")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signatures")),
        sa.UniqueConstraint("key_id", "external_id", name=op.f("uq_signatures_key_id_external_id")),
    )
    op.create_index(op.f("ix_signatures_key_id_id"), "signatures", ["key_id", "id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_signatures_key_id_id"), table_name="signatures")
    op.drop_table("signatures")
    op.drop_index(op.f("ix_keys_org_id_id"), table_name="keys")
    op.drop_table("keys")
    op.drop_index(op.f("ix_api_tokens_service_account_id"), table_name="api_tokens")
    op.drop_index(op.f("ix_api_tokens_org_id"), table_name="api_tokens")
    op.drop_table("api_tokens")
    op.drop_index(op.f("ix_service_accounts_org_id"), table_name="service_accounts")
    op.drop_table("service_accounts")
    op.drop_table("orgs")
