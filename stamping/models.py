"""SQLAlchemy models of the stamping service (its own database)."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = ["Account", "ApiToken", "Base", "FaultRow", "Order", "OtpMessage", "PaymentEvent",
           "RateCounter", "Stamp", "WebSession"]


class Base(DeclarativeBase):
    """Declarative base of the stamping models."""


class Account(Base):
    """A buyer of stamps; ``available`` is the unspent, unreserved quota."""

    __tablename__ = "accounts"
    __table_args__ = (sa.CheckConstraint("available >= 0", name="ck_accounts_available"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(sa.String(20), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    password_hash: Mapped[str] = mapped_column(sa.String(200))
    is_probe: Mapped[bool] = mapped_column(default=False)
    verified_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    otp_hash: Mapped[str | None] = mapped_column(sa.String(64))
    otp_expires_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    otp_attempts: Mapped[int] = mapped_column(default=0)
    available: Mapped[int] = mapped_column(default=0)
    spent: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))


class ApiToken(Base):
    """A bearer token; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts.id"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))


class OtpMessage(Base):
    """The outbox of the default OTP sender (what would go out over WhatsApp)."""

    __tablename__ = "otp_outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(sa.String(20), index=True)
    code: Mapped[str] = mapped_column(sa.String(6))
    message: Mapped[str] = mapped_column(sa.String(500))
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))


class Order(Base):
    """A purchase of ``quantity`` stamps; credited once when paid."""

    __tablename__ = "orders"
    __table_args__ = (sa.UniqueConstraint("account_id", "idempotency_key",
                                          name="uq_orders_idempotency"),)

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts.id"), index=True)
    idempotency_key: Mapped[str] = mapped_column(sa.String(200))
    quantity: Mapped[int]
    unit_price: Mapped[int]
    service_fee: Mapped[int]
    amount: Mapped[int]
    status: Mapped[str] = mapped_column(sa.String(16))  # pending | paid | expired
    payment_ref: Mapped[str] = mapped_column(sa.String(40), unique=True)
    is_probe: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))
    expires_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))
    paid_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))


class PaymentEvent(Base):
    """A processed gateway notification; the primary key makes replays detectable."""

    __tablename__ = "payment_events"

    event_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    order_id: Mapped[str] = mapped_column(sa.String(32), index=True)
    received_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))


class Stamp(Base):
    """The ledger: one row per serial; ``reserved`` until the signed document exists."""

    __tablename__ = "stamps"
    __table_args__ = (sa.Index("ix_stamps_status_reserved", "status", "reserved_at"),
                      sa.UniqueConstraint("account_id", "idempotency_key",
                                          name="uq_stamps_account_idempotency_key"))

    serial: Mapped[str] = mapped_column(sa.String(22), primary_key=True)
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts.id"), index=True)
    status: Mapped[str] = mapped_column(sa.String(16))  # reserved | issued
    is_probe: Mapped[bool] = mapped_column(default=False)
    sha256_before: Mapped[str | None] = mapped_column(sa.String(64))
    sha256_after: Mapped[str | None] = mapped_column(sa.String(64))
    reserved_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))
    stamped_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    #: The client's ``Idempotency-Key``: a retried request gets this stamp, not a second one.
    idempotency_key: Mapped[str | None] = mapped_column(sa.String(100))
    #: JSON: the stamp's box, whether the service chose it, and what it covers.
    placement: Mapped[str | None] = mapped_column(sa.Text)


class StampedDocument(Base):
    """The stamped PDF of an issued serial, kept for a while for downloads after a lost response.

    Written in the same transaction that issues the serial and spends the unit, so a spent
    unit always has its document.
    """

    __tablename__ = "stamped_documents"

    serial: Mapped[str] = mapped_column(sa.ForeignKey("stamps.serial", ondelete="CASCADE"),
                                        primary_key=True)
    pdf: Mapped[bytes] = mapped_column(sa.LargeBinary)
    stored_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), index=True)


class FaultRow(Base):
    """The active fault injection (a single row, id 1), shared by every web process."""

    __tablename__ = "faults"

    id: Mapped[int] = mapped_column(primary_key=True)
    spec: Mapped[str] = mapped_column(sa.Text)  # JSON
    updated_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))


class RateCounter(Base):
    """How many times ``key`` did ``scope`` (a login, an OTP...) in the window starting at
    ``window_start``: shared by every web process through the database."""

    __tablename__ = "rate_counters"

    scope: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(128), primary_key=True)
    window_start: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True),
                                                      primary_key=True, index=True)
    count: Mapped[int]


class WebSession(Base):
    """A login on the HTML pages: its own token (only the SHA-256 stored), revoked at logout.

    Distinct from API tokens, so that a cookie is never a permanent API credential.
    """

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts.id"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))
    expires_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
