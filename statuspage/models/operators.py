"""Operator console tables: accounts, sessions, API tokens, login throttles, audit, templates.

Everything security-relevant lives here, in the database, because several web processes share
one PostgreSQL: a lockout, a revoked token or a "log out everywhere" must hold in every process
at once. Session ids and API tokens are stored as SHA-256 digests of long random strings, so a
copy of the database does not let anyone log in; passwords are argon2 hashes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from statuspage.models.base import Base, BigId, new_id, utcnow

__all__ = [
    "ApiToken",
    "AuditEntry",
    "IncidentTemplate",
    "LoginThrottle",
    "Operator",
    "OperatorSession",
    "ROLES",
]

#: Operator roles: admins also manage accounts, API tokens and read the audit log.
ROLES: tuple[str, ...] = ("admin", "operator")


class Operator(Base):
    """A person who may post incidents (``role`` operator) or also manage the console (admin)."""

    __tablename__ = "operators"
    id: Mapped[str] = mapped_column(sa.String(16), primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(sa.String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    role: Mapped[str] = mapped_column(sa.String(16), default="operator")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    last_login_at: Mapped[datetime | None]
    password_changed_at: Mapped[datetime] = mapped_column(default=utcnow)


class OperatorSession(Base):
    """A logged-in browser. ``id`` is the SHA-256 of the cookie value; deleting rows logs out."""

    __tablename__ = "operator_sessions"
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    operator_id: Mapped[str] = mapped_column(
        sa.ForeignKey("operators.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    address: Mapped[str | None] = mapped_column(sa.String(64))
    user_agent: Mapped[str | None] = mapped_column(sa.String(300))


class ApiToken(Base):
    """A bearer token for the automation API, acting as its operator; shown once, kept hashed."""

    __tablename__ = "api_tokens"
    id: Mapped[str] = mapped_column(sa.String(16), primary_key=True, default=new_id)
    operator_id: Mapped[str] = mapped_column(
        sa.ForeignKey("operators.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(sa.String(100))
    token_sha256: Mapped[str] = mapped_column(sa.String(64), unique=True)
    prefix: Mapped[str] = mapped_column(sa.String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str | None] = mapped_column(sa.String(320))
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class LoginThrottle(Base):
    """Failed-login counter for one key: ``account:<email>`` or ``address:<ip>``.

    ``locked_until`` in the future refuses logins for that key before any password is checked.
    """

    __tablename__ = "login_throttles"
    key: Mapped[str] = mapped_column(sa.String(400), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    window_start: Mapped[datetime] = mapped_column(default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEntry(Base):
    """One operator action: who, when, from where, what, and what changed."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str | None] = mapped_column(sa.String(320))
    actor_kind: Mapped[str] = mapped_column(sa.String(16), default="operator")
    address: Mapped[str | None] = mapped_column(sa.String(64))
    action: Mapped[str] = mapped_column(sa.String(64), index=True)
    target: Mapped[str | None] = mapped_column(sa.String(200))
    detail: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)


class IncidentTemplate(Base):
    """Pre-filled text for a common incident (title, status, impact, components, message)."""

    __tablename__ = "incident_templates"
    id: Mapped[str] = mapped_column(sa.String(16), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(sa.String(300))
    status: Mapped[str] = mapped_column(sa.String(32), default="investigating")
    impact: Mapped[str] = mapped_column(sa.String(16), default="minor")
    body: Mapped[str] = mapped_column(sa.Text, default="")
    components: Mapped[dict[str, str]] = mapped_column(sa.JSON, default=dict)
    position: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
