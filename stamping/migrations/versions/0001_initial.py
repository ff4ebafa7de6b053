"""Initial schema of the stamping service.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create every table."""
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("phone", sa.String(20), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("is_probe", sa.Boolean, nullable=False),
        sa.Column("verified_at", TS),
        sa.Column("otp_hash", sa.String(64)),
        sa.Column("otp_expires_at", TS),
        sa.Column("otp_attempts", sa.Integer, nullable=False),
        sa.Column("available", sa.Integer, nullable=False),
        sa.Column("spent", sa.Integer, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.CheckConstraint("available >= 0", name="ck_accounts_available"),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id"), nullable=False,
                  index=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "otp_outbox",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("phone", sa.String(20), nullable=False, index=True),
        sa.Column("code", sa.String(6), nullable=False),
        sa.Column("message", sa.String(500), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "orders",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id"), nullable=False,
                  index=True),
        sa.Column("idempotency_key", sa.String(200), nullable=False),
        sa.Column("quantity", sa.Integer, nullable=False),
        sa.Column("unit_price", sa.Integer, nullable=False),
        sa.Column("service_fee", sa.Integer, nullable=False),
        sa.Column("amount", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("payment_ref", sa.String(40), nullable=False, unique=True),
        sa.Column("is_probe", sa.Boolean, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("paid_at", TS),
        sa.UniqueConstraint("account_id", "idempotency_key", name="uq_orders_idempotency"),
    )
    op.create_table(
        "payment_events",
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("order_id", sa.String(32), nullable=False, index=True),
        sa.Column("received_at", TS, nullable=False),
    )
    op.create_table(
        "stamps",
        sa.Column("serial", sa.String(22), primary_key=True),
        sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id"), nullable=False,
                  index=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("is_probe", sa.Boolean, nullable=False),
        sa.Column("sha256_before", sa.String(64)),
        sa.Column("sha256_after", sa.String(64)),
        sa.Column("reserved_at", TS, nullable=False),
        sa.Column("stamped_at", TS),
    )
    op.create_index("ix_stamps_status_reserved", "stamps", ["status", "reserved_at"])
    op.create_table(
        "faults",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("spec", sa.Text, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )


def downgrade() -> None:
    """Drop every table."""
    for table in ["faults", "stamps", "payment_events", "orders", "otp_outbox", "api_tokens",
                  "accounts"]:
        op.drop_table(table)
