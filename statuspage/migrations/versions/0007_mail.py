"""email subscriptions: subscribers, their deliveries, the email fan-out's progress

Events already in the outbox are marked fanned out for email: subscribers who arrive later
are told of what happens from now on.

Revision ID: 0007_mail
Revises: 0006_local_days
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_mail"
down_revision = "0006_local_days"
branch_labels = None
depends_on = None

_BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create the three tables; existing events count as done."""
    op.create_table(
        "mail_subscribers",
        sa.Column("id", sa.String(16), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("component_ids", sa.JSON(), nullable=True),
        sa.Column("deadline_ids", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("confirm_nonce", sa.String(24), nullable=False),
        sa.Column("requested_at", sa.DateTime(), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(), nullable=True),
        sa.Column("disabled_at", sa.DateTime(), nullable=True),
        sa.Column("disabled_reason", sa.String(300), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_subscribers")),
        sa.UniqueConstraint("email", name=op.f("uq_mail_subscribers_email")),
    )
    op.create_index(op.f("ix_mail_subscribers_state"), "mail_subscribers", ["state"])
    op.create_index(op.f("ix_mail_subscribers_requested_at"), "mail_subscribers",
                    ["requested_at"])
    op.create_table(
        "mail_deliveries",
        sa.Column("id", _BIG, autoincrement=True, nullable=False),
        sa.Column("subscriber_id", sa.String(16), nullable=False),
        sa.Column("event_id", _BIG, nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.String(300), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["subscriber_id"], ["mail_subscribers.id"], ondelete="CASCADE",
                                name=op.f("fk_mail_deliveries_subscriber_id_mail_subscribers")),
        sa.ForeignKeyConstraint(["event_id"], ["webhook_events.id"], ondelete="CASCADE",
                                name=op.f("fk_mail_deliveries_event_id_webhook_events")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_deliveries")),
        sa.UniqueConstraint("subscriber_id", "event_id", name="uq_mail_deliveries_pair"),
    )
    op.create_index("ix_mail_deliveries_due", "mail_deliveries", ["state", "next_attempt_at"])
    op.create_index(op.f("ix_mail_deliveries_subscriber_id"), "mail_deliveries",
                    ["subscriber_id"])
    op.create_index(op.f("ix_mail_deliveries_event_id"), "mail_deliveries", ["event_id"])
    op.create_table(
        "mail_fanouts",
        sa.Column("event_id", _BIG, nullable=False),
        sa.Column("cursor", sa.String(16), nullable=True),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.Column("done_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["event_id"], ["webhook_events.id"], ondelete="CASCADE",
                                name=op.f("fk_mail_fanouts_event_id_webhook_events")),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_mail_fanouts")),
    )
    op.create_index(op.f("ix_mail_fanouts_done_at"), "mail_fanouts", ["done_at"])
    op.execute("INSERT INTO mail_fanouts (event_id, recipients, done_at) "
               "SELECT id, 0, occurred_at FROM webhook_events")


def downgrade() -> None:
    """Drop the email tables (every subscriber is forgotten)."""
    op.drop_table("mail_fanouts")
    op.drop_table("mail_deliveries")
    op.drop_table("mail_subscribers")
