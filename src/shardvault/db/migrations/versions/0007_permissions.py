"""Permissions and export controls: the ``permissions`` and ``permission_assignments``
tables; ``orgs`` gains the setting ``sign_after_export`` (default false) and ``keys``
the flag ``exportable`` (default true: every existing key stays exportable).

Revision ID: 0007
Revises: 0004
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "permissions",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("operations", sa.JSON(), nullable=False),
        sa.Column("is_immutable", sa.Boolean(), nullable=False),
        sa.Column("is_archived", sa.Boolean(), nullable=False),
        sa.Column("date_created", sa.DateTime(), nullable=False),
        sa.Column("date_updated", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["orgs.id"], name=op.f("fk_permissions_org_id_orgs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_permissions")),
    )
    op.create_index(op.f("ix_permissions_org_id_id"), "permissions", ["org_id", "id"], unique=False)
    op.create_table(
        "permission_assignments",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("permission_id", sa.String(length=40), nullable=False),
        sa.Column("identity_id", sa.String(length=40), nullable=False),
        sa.Column("is_immutable", sa.Boolean(), nullable=False),
        sa.Column("date_created", sa.DateTime(), nullable=False),
        sa.Column("date_updated", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("fk_permission_assignments_org_id_orgs")
        ),
        sa.ForeignKeyConstraint(
            ["permission_id"],
            ["permissions.id"],
            name=op.f("fk_permission_assignments_permission_id_permissions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_permission_assignments")),
        sa.UniqueConstraint(
            "permission_id",
            "identity_id",
            name=op.f("uq_permission_assignments_permission_id_identity_id"),
        ),
    )
    op.create_index(
        op.f("ix_permission_assignments_org_id_identity_id"),
        "permission_assignments",
        ["org_id", "identity_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_permission_assignments_permission_id"),
        "permission_assignments",
        ["permission_id"],
        unique=False,
    )
    # Plain ADD COLUMN (a constant default): a batch copy of ``orgs`` on SQLite would
    # drop a table that other rows reference.
    op.add_column(
        "orgs",
        sa.Column("sign_after_export", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.add_column(
        "keys",
        sa.Column("exportable", sa.Boolean(), server_default=sa.true(), nullable=False),
    )


def downgrade() -> None:
    with op.batch_alter_table("keys") as batch:
        batch.drop_column("exportable")
    with op.batch_alter_table("orgs") as batch:
        batch.drop_column("sign_after_export")
    op.drop_index(
        op.f("ix_permission_assignments_permission_id"), table_name="permission_assignments"
    )
    op.drop_index(
        op.f("ix_permission_assignments_org_id_identity_id"),
        table_name="permission_assignments",
    )
    op.drop_table("permission_assignments")
    op.drop_index(op.f("ix_permissions_org_id_id"), table_name="permissions")
    op.drop_table("permissions")
