"""deadlines as data, deadline notices with their history, the source of imported results

Revision ID: 0005_deadlines
Revises: 0004_webhooks
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_deadlines"
down_revision = "0004_webhooks"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "deadlines",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("agency", sa.String(length=200), nullable=False),
        sa.Column("name_id", sa.String(length=300), nullable=False),
        sa.Column("name_en", sa.String(length=300), nullable=False),
        sa.Column("closes_at", sa.DateTime(), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("opened_at", sa.DateTime(), nullable=True),
        sa.Column("legal_min_days", sa.Integer(), nullable=True),
        sa.Column("components", sa.JSON(), nullable=False),
        sa.Column("window_days", sa.Integer(), nullable=False),
        sa.Column("patience_s", sa.Float(), nullable=False),
        sa.Column("demand_profile", sa.JSON(), nullable=True),
        sa.Column("contact", sa.String(length=320), nullable=False),
        sa.Column("extended_to", sa.DateTime(), nullable=True),
        sa.Column("decision", sa.Text(), nullable=True),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("level", sa.String(length=32), nullable=False),
        sa.Column("evaluated_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deadlines")),
    )
    op.create_table(
        "deadline_notices",
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("deadline_id", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("level", sa.String(length=32), nullable=False),
        sa.Column("statement_id", sa.Text(), nullable=False),
        sa.Column("statement_en", sa.Text(), nullable=False),
        sa.Column("figures", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("published_at", sa.DateTime(), nullable=True),
        sa.Column("final_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["deadline_id"], ["deadlines.id"], ondelete="CASCADE",
                                name=op.f("fk_deadline_notices_deadline_id_deadlines")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deadline_notices")),
        sa.UniqueConstraint("deadline_id", name=op.f("uq_deadline_notices_deadline_id")),
    )
    op.create_index(op.f("ix_deadline_notices_state"), "deadline_notices", ["state"])
    op.create_table(
        "deadline_notice_updates",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("notice_id", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("level", sa.String(length=32), nullable=False),
        sa.Column("body_id", sa.Text(), nullable=False),
        sa.Column("body_en", sa.Text(), nullable=False),
        sa.Column("figures", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("author", sa.String(length=320), nullable=True),
        sa.ForeignKeyConstraint(["notice_id"], ["deadline_notices.id"], ondelete="CASCADE",
                                name=op.f("fk_deadline_notice_updates_notice_id_deadline_notices")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deadline_notice_updates")),
    )
    op.create_index(op.f("ix_deadline_notice_updates_notice_id"), "deadline_notice_updates",
                    ["notice_id"])
    # measurements imported from elsewhere keep their source label (NULL: this page's probes)
    with op.batch_alter_table("probe_results", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("probe_results", schema=None) as batch_op:
        batch_op.drop_column("source")
    op.drop_index(op.f("ix_deadline_notice_updates_notice_id"),
                  table_name="deadline_notice_updates")
    op.drop_table("deadline_notice_updates")
    op.drop_index(op.f("ix_deadline_notices_state"), table_name="deadline_notices")
    op.drop_table("deadline_notices")
    op.drop_table("deadlines")
