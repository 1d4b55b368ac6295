"""Approval policies: ``policies``, ``policy_approvals`` and ``policy_decisions``;
``signatures`` gains ``approval_id`` and ``date_policy_resolved``. The in-flight
claim status becomes ``Executing`` (``Pending`` now means waiting for an approval,
as in Dfns): rows left ``Pending`` by earlier revisions are in-flight claims.

Revision ID: 0008
Revises: 0004
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "policies",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("activity_kind", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("rule", sa.JSON(), nullable=False),
        sa.Column("action", sa.JSON(), nullable=False),
        sa.Column("filters", sa.JSON(), nullable=True),
        sa.Column("date_created", sa.DateTime(), nullable=False),
        sa.Column("date_updated", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["orgs.id"], name=op.f("fk_policies_org_id_orgs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policies")),
    )
    op.create_index(
        op.f("ix_policies_org_id_activity_kind_status"),
        "policies",
        ["org_id", "activity_kind", "status"],
        unique=False,
    )
    op.create_table(
        "policy_approvals",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("initiator_id", sa.String(length=40), nullable=False),
        sa.Column("activity_kind", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("entity_id", sa.String(length=40), nullable=False),
        sa.Column("change", sa.JSON(), nullable=True),
        sa.Column("groups", sa.JSON(), nullable=False),
        sa.Column("policy_evaluations", sa.JSON(), nullable=False),
        sa.Column("expiration_date", sa.DateTime(), nullable=True),
        sa.Column("date_created", sa.DateTime(), nullable=False),
        sa.Column("date_updated", sa.DateTime(), nullable=False),
        sa.Column("date_resolved", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("fk_policy_approvals_org_id_orgs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_approvals")),
    )
    op.create_index(
        op.f("ix_policy_approvals_org_id_status_id"),
        "policy_approvals",
        ["org_id", "status", "id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_policy_approvals_entity_id"), "policy_approvals", ["entity_id"], unique=False
    )
    op.create_table(
        "policy_decisions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("approval_id", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("value", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=1024), nullable=True),
        sa.Column("date", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["approval_id"],
            ["policy_approvals.id"],
            name=op.f("fk_policy_decisions_approval_id_policy_approvals"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_decisions")),
        sa.UniqueConstraint(
            "approval_id", "user_id", name=op.f("uq_policy_decisions_approval_id_user_id")
        ),
    )
    with op.batch_alter_table("signatures") as batch:
        batch.add_column(sa.Column("approval_id", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("date_policy_resolved", sa.DateTime(), nullable=True))
        batch.create_index(batch.f("ix_signatures_approval_id"), ["approval_id"], unique=False)
    op.execute("UPDATE signatures SET status = 'Executing' WHERE status = 'Pending'")


def downgrade() -> None:
    op.execute("UPDATE signatures SET status = 'Rejected' WHERE status = 'Pending'")
    op.execute("UPDATE signatures SET status = 'Pending' WHERE status = 'Executing'")
    with op.batch_alter_table("signatures") as batch:
        batch.drop_index(batch.f("ix_signatures_approval_id"))
        batch.drop_column("date_policy_resolved")
        batch.drop_column("approval_id")
    op.drop_table("policy_decisions")
    op.drop_index(op.f("ix_policy_approvals_entity_id"), table_name="policy_approvals")
    op.drop_index(op.f("ix_policy_approvals_org_id_status_id"), table_name="policy_approvals")
    op.drop_table("policy_approvals")
    op.drop_index(op.f("ix_policies_org_id_activity_kind_status"), table_name="policies")
    op.drop_table("policies")
