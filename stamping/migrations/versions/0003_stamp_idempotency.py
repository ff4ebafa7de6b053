"""Idempotency keys on stamp requests: a retry after a lost response spends nothing.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("stamps") as batch:
        batch.add_column(sa.Column("idempotency_key", sa.String(100), nullable=True))
        batch.create_unique_constraint("uq_stamps_account_idempotency_key",
                                       ["account_id", "idempotency_key"])


def downgrade() -> None:
    with op.batch_alter_table("stamps") as batch:
        batch.drop_constraint("uq_stamps_account_idempotency_key", type_="unique")
        batch.drop_column("idempotency_key")
