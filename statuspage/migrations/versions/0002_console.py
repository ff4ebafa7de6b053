"""operator console: operators, sessions, API tokens, login throttles, audit log, templates

Revision ID: 0002_console
Revises: 0001
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0002_console"
down_revision = "0001"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

#: Templates for the incidents operators post most often (component ids of the default config;
#: ids missing from a page's config are ignored when a template is used).
SEED_TEMPLATES = [
    ("Pembelian e-meterai lambat", "investigating", "minor", {"pembelian": "degraded_performance"},
     "Pembelian kuota e-meterai sedang lambat karena permintaan tinggi. Pembayaran yang sudah "
     "berhasil tetap tercatat dan kuota akan masuk; mohon jangan membayar dua kali. "
     "Kami sedang menambah kapasitas dan akan memberi kabar berikutnya dalam 30 menit."),
    ("Layanan pembubuhan tidak tersedia", "investigating", "critical",
     {"pembubuhan": "major_outage"},
     "Pembubuhan e-meterai saat ini gagal. Kuota yang sudah dibeli tidak hilang dan dapat "
     "dipakai setelah layanan pulih. Kami sedang menangani gangguan ini."),
    ("Antrean pembelian karena lonjakan permintaan", "identified", "minor",
     {"pembelian": "degraded_performance"},
     "Permintaan sangat tinggi sehingga pembelian masuk antrean. Halaman akan memproses "
     "pesanan sesuai urutan; mohon tidak memuat ulang berulang kali."),
    ("Gangguan login akun", "investigating", "major", {"akun": "partial_outage"},
     "Sebagian pengguna gagal masuk atau tidak menerima OTP. Kami sedang menyelidiki."),
    ("Verifikasi dokumen terganggu", "investigating", "minor",
     {"verifikasi": "partial_outage"},
     "Pemeriksaan dokumen bermeterai sedang terganggu. Dokumen yang sudah dibubuhi tetap sah."),
]


def upgrade() -> None:
    op.create_table(
        "operators",
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("last_login_at", sa.DateTime(), nullable=True),
        sa.Column("password_changed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operators")),
        sa.UniqueConstraint("email", name=op.f("uq_operators_email")),
    )
    op.create_table(
        "operator_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("operator_id", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(["operator_id"], ["operators.id"], ondelete="CASCADE",
                                name=op.f("fk_operator_sessions_operator_id_operators")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operator_sessions")),
    )
    op.create_index(op.f("ix_operator_sessions_operator_id"), "operator_sessions",
                    ["operator_id"])
    op.create_index(op.f("ix_operator_sessions_expires_at"), "operator_sessions", ["expires_at"])
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("operator_id", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=320), nullable=True),
        sa.Column("last_used_at", sa.DateTime(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["operator_id"], ["operators.id"], ondelete="CASCADE",
                                name=op.f("fk_api_tokens_operator_id_operators")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_api_tokens_token_sha256")),
    )
    op.create_index(op.f("ix_api_tokens_operator_id"), "api_tokens", ["operator_id"])
    op.create_table(
        "login_throttles",
        sa.Column("key", sa.String(length=400), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_start", sa.DateTime(), nullable=False),
        sa.Column("locked_until", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_throttles")),
    )
    op.create_index(op.f("ix_login_throttles_locked_until"), "login_throttles",
                    ["locked_until"])
    op.create_table(
        "audit_log",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(length=320), nullable=True),
        sa.Column("actor_kind", sa.String(length=16), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_at"), "audit_log", ["at"])
    op.create_index(op.f("ix_audit_log_action"), "audit_log", ["action"])
    templates = op.create_table(
        "incident_templates",
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("impact", sa.String(length=16), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("components", sa.JSON(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_templates")),
    )
    now = datetime.now(UTC).replace(tzinfo=None)  # stored naive UTC, like UTCDateTime
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    op.bulk_insert(templates, [
        {"id": "".join(secrets.choice(alphabet) for _ in range(12)), "name": name,
         "status": status, "impact": impact, "body": body, "components": components,
         "position": position, "created_at": now}
        for position, (name, status, impact, components, body) in enumerate(SEED_TEMPLATES)
    ])


def downgrade() -> None:
    op.drop_table("incident_templates")
    op.drop_index(op.f("ix_audit_log_action"), table_name="audit_log")
    op.drop_index(op.f("ix_audit_log_at"), table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_index(op.f("ix_login_throttles_locked_until"), table_name="login_throttles")
    op.drop_table("login_throttles")
    op.drop_index(op.f("ix_api_tokens_operator_id"), table_name="api_tokens")
    op.drop_table("api_tokens")
    op.drop_index(op.f("ix_operator_sessions_expires_at"), table_name="operator_sessions")
    op.drop_index(op.f("ix_operator_sessions_operator_id"), table_name="operator_sessions")
    op.drop_table("operator_sessions")
    op.drop_table("operators")
