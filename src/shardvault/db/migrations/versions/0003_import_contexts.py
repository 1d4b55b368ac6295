"""Import contexts: the ``import_contexts`` table (one-time contexts a client seals
an import under; issue 12).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "import_contexts",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("issued_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("fk_import_contexts_org_id_orgs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_contexts")),
    )
    op.create_index(op.f("ix_import_contexts_org_id"), "import_contexts", ["org_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_import_contexts_org_id"), table_name="import_contexts")
    op.drop_table("import_contexts")
