"""Signature requesters: ``signatures`` gains ``requester_user_id`` and
``requester_token_id`` (both nullable: rows stored before have none), shown as the
Dfns ``requester {userId, tokenId}`` of the signature.

Revision ID: 0009
Revises: 0004
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("signatures") as batch:
        batch.add_column(sa.Column("requester_user_id", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("requester_token_id", sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("signatures") as batch:
        batch.drop_column("requester_token_id")
        batch.drop_column("requester_user_id")
