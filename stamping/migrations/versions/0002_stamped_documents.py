"""Keep stamped documents for downloads after a lost response.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stamped_documents",
        sa.Column("serial", sa.String(22), sa.ForeignKey("stamps.serial", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("pdf", sa.LargeBinary(), nullable=False),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_stamped_documents_stored_at", "stamped_documents", ["stored_at"])


def downgrade() -> None:
    op.drop_index("ix_stamped_documents_stored_at", table_name="stamped_documents")
    op.drop_table("stamped_documents")
