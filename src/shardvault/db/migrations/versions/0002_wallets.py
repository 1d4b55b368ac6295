"""Wallets: the ``wallets`` table; signatures gain ``wallet_id``,
``signed_data`` and ``result_details`` (all nullable).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "wallets",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("key_id", sa.String(length=40), nullable=False),
        sa.Column("network", sa.String(length=32), nullable=False),
        sa.Column("address", sa.String(length=128), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=True),
        sa.Column("date_created", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["key_id"], ["keys.id"], name=op.f("fk_wallets_key_id_keys")),
        sa.ForeignKeyConstraint(["org_id"], ["orgs.id"], name=op.f("fk_wallets_org_id_orgs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wallets")),
        sa.UniqueConstraint("org_id", "external_id", name=op.f("uq_wallets_org_id_external_id")),
    )
    op.create_index(op.f("ix_wallets_key_id"), "wallets", ["key_id"], unique=False)
    op.create_index(op.f("ix_wallets_org_id_id"), "wallets", ["org_id", "id"], unique=False)
    with op.batch_alter_table("signatures") as batch:
        batch.add_column(sa.Column("wallet_id", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("signed_data", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("result_details", sa.JSON(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_signatures_wallet_id_wallets"), "wallets", ["wallet_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("signatures") as batch:
        batch.drop_constraint(op.f("fk_signatures_wallet_id_wallets"), type_="foreignkey")
        batch.drop_column("result_details")
        batch.drop_column("signed_data")
        batch.drop_column("wallet_id")
    op.drop_index(op.f("ix_wallets_org_id_id"), table_name="wallets")
    op.drop_index(op.f("ix_wallets_key_id"), table_name="wallets")
    op.drop_table("wallets")
