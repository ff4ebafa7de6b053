"""probe agents' tokens and worker marks

Revision ID: 0002_probes
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_probes"
down_revision = "0001"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "agent_tokens",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("location", sa.String(length=64), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_used_at", sa.DateTime(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_tokens")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_agent_tokens_token_sha256")),
    )
    with op.batch_alter_table("agent_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_agent_tokens_location"), ["location"], unique=False)
    op.create_table(
        "probe_marks",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_probe_marks")),
    )
    # rollup reads select one period over a recent range; see statuspage.models.agents
    with op.batch_alter_table("probe_rollups", schema=None) as batch_op:
        batch_op.create_index("ix_probe_rollups_period_bucket", ["period", "bucket_start"],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table("probe_rollups", schema=None) as batch_op:
        batch_op.drop_index("ix_probe_rollups_period_bucket")
    op.drop_table("probe_marks")
    with op.batch_alter_table("agent_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agent_tokens_location"))
    op.drop_table("agent_tokens")
