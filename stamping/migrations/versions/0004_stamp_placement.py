"""Where each stamp was placed and what it covers, for the stamp status answer.

Revision ID: 0004_stamp_placement
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_stamp_placement"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("stamps") as batch:
        batch.add_column(sa.Column("placement", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("stamps") as batch:
        batch.drop_column("placement")
