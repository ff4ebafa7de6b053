"""Persistence verbs of the stamping service.

Every verb takes the session first; the caller (``Database.write``/``read``) owns the
transaction.  Quota moves only through conditional UPDATEs (``... WHERE available > 0``), so
concurrent requests can never spend more than an account holds, on SQLite or PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from stamping.models import (
    Account,
    ApiToken,
    FaultRow,
    Order,
    OtpMessage,
    PaymentEvent,
    Stamp,
    StampedDocument,
)
from stamping.rules import hash_token, new_token, order_amount

__all__ = [
    "AccountView", "OrderView", "StampView", "StoreError", "account_for_token", "apply_payment",
    "complete_stamp", "create_order", "create_verified_account", "expire_orders", "get_order",
    "issue_token", "latest_otp", "load_faults", "login_hash", "order_by_payment_ref", "quota",
    "prune_documents", "quota_probe", "recent_documents",
    "register", "release_stale", "release_stamp", "reserve_stamp", "save_faults",
    "stamp_for_key", "stamp_record", "stamped_document", "stats", "verify_otp",
]


class StoreError(Exception):
    """A refused operation: ``code`` is the stable error name, ``status`` the HTTP status."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(code, message)
        self.code, self.message, self.status = code, message, status


@dataclass(frozen=True)
class AccountView:
    """What a request handler needs to know about the caller."""

    id: int
    phone: str
    name: str
    is_probe: bool
    available: int
    spent: int


@dataclass(frozen=True)
class OrderView:
    """An order as the API shows it."""

    id: str
    quantity: int
    amount: int
    status: str
    payment_ref: str
    is_probe: bool
    created_at: dt.datetime
    expires_at: dt.datetime
    paid_at: dt.datetime | None


@dataclass(frozen=True)
class StampView:
    """A ledger entry."""

    serial: str
    status: str
    stamped_at: dt.datetime | None
    sha256_before: str | None
    sha256_after: str | None
    account_id: int = 0
    placement: dict[str, Any] | None = None


def _update(model: type[Any]) -> Any:
    # Conditional UPDATEs are decided by the database; don't let the ORM re-evaluate
    # them in Python against loaded objects (SQLite hands back naive datetimes).
    return sa.update(model).execution_options(synchronize_session=False)


def _delete(model: type[Any]) -> Any:
    return sa.delete(model).execution_options(synchronize_session=False)


def utc(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite returns naive datetimes; everything stored is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.UTC)


def _otp_hash(phone: str, code: str) -> str:
    return hashlib.sha256(f"{phone}:{code}".encode()).hexdigest()


def _account_view(a: Account) -> AccountView:
    return AccountView(a.id, a.phone, a.name, a.is_probe, a.available, a.spent)


# --- accounts -------------------------------------------------------------------------

def register(session: Session, phone: str, name: str, password_hash: str, otp_code: str,
             otp_ttl: dt.timedelta, now: dt.datetime) -> dt.datetime:
    """Create (or refresh, while unverified) an account and queue its OTP; returns expiry."""
    account = session.scalar(sa.select(Account).where(Account.phone == phone).with_for_update())
    if account is not None and account.verified_at is not None:
        raise StoreError("phone_taken", "this phone number is already registered", 409)
    expires = now + otp_ttl
    if account is None:
        account = Account(phone=phone, name=name, password_hash=password_hash, is_probe=False,
                          otp_attempts=0, available=0, spent=0, created_at=now)
        session.add(account)
    account.name, account.password_hash = name, password_hash
    account.otp_hash, account.otp_expires_at, account.otp_attempts = (
        _otp_hash(phone, otp_code), expires, 0)
    session.add(OtpMessage(phone=phone, code=otp_code, created_at=now,
                           message=f"Kode OTP meterai elektronik Anda: {otp_code}. "
                                   "Jangan berikan kode ini kepada siapa pun."))
    session.flush()
    return expires


def verify_otp(session: Session, phone: str, code: str, max_attempts: int,
               now: dt.datetime,
               issue: Callable[[Session, int, dt.datetime], str] | None = None
               ) -> str | StoreError:
    """Check an OTP; on success mark the account verified and return a new credential:
    an API token, or what ``issue`` makes (a web session for the pages).

    A wrong code is *returned* as a StoreError rather than raised, so that the caller's
    transaction commits the incremented attempt counter.
    """
    account = session.scalar(sa.select(Account).where(Account.phone == phone).with_for_update())
    if account is None or account.otp_hash is None:
        raise StoreError("invalid_otp", "no pending verification for this phone number", 400)
    if account.otp_attempts >= max_attempts:
        raise StoreError("too_many_attempts",
                         "too many wrong codes; register again to get a new code", 429)
    expires = utc(account.otp_expires_at)
    if expires is None or expires < now:
        raise StoreError("otp_expired", "the code has expired; register again for a new one")
    if not secrets.compare_digest(account.otp_hash, _otp_hash(phone, code)):
        account.otp_attempts += 1
        return StoreError("invalid_otp", "the code is wrong", 400)
    account.verified_at, account.otp_hash, account.otp_expires_at = now, None, None
    return (issue or issue_token)(session, account.id, now)


def issue_token(session: Session, account_id: int, now: dt.datetime) -> str:
    """Create and return a new bearer token for the account."""
    token = new_token()
    session.add(ApiToken(account_id=account_id, token_hash=hash_token(token), created_at=now))
    return token


def create_verified_account(session: Session, phone: str, name: str, password_hash: str,
                            is_probe: bool, now: dt.datetime) -> str:
    """Create an already verified account (operator CLI) and return its token."""
    if session.scalar(sa.select(Account.id).where(Account.phone == phone)) is not None:
        raise StoreError("phone_taken", "this phone number is already registered", 409)
    account = Account(phone=phone, name=name, password_hash=password_hash, is_probe=is_probe,
                      verified_at=now, otp_attempts=0, available=0, spent=0, created_at=now)
    session.add(account)
    session.flush()
    return issue_token(session, account.id, now)


def login_hash(session: Session, phone: str) -> tuple[int, str] | None:
    """The id and password hash of a verified account, for a password login."""
    row = session.execute(sa.select(Account.id, Account.password_hash)
                          .where(Account.phone == phone, Account.verified_at.is_not(None))).first()
    return (row[0], row[1]) if row else None


def account_for_token(session: Session, token_hash: str) -> AccountView | None:
    """The verified account a bearer token belongs to."""
    account = session.scalar(sa.select(Account).join(ApiToken)
                             .where(ApiToken.token_hash == token_hash))
    return _account_view(account) if account is not None else None


def latest_otp(session: Session, phone: str) -> str | None:
    """The last OTP queued for a phone (for tests and the log-only sender)."""
    return session.scalar(sa.select(OtpMessage.code).where(OtpMessage.phone == phone)
                          .order_by(OtpMessage.id.desc()).limit(1))


def quota(session: Session, account_id: int) -> tuple[int, int]:
    """(available, spent) of an account."""
    row = session.execute(sa.select(Account.available, Account.spent)
                          .where(Account.id == account_id)).one()
    return int(row[0]), int(row[1])


# --- orders and payments ---------------------------------------------------------------

def _order_view(o: Order, now: dt.datetime | None = None) -> OrderView:
    status = o.status
    expires = utc(o.expires_at)
    assert expires is not None
    if status == "pending" and now is not None and expires <= now:
        status = "expired"  # the sweeper persists it; readers must not wait for that
    created = utc(o.created_at)
    assert created is not None
    return OrderView(o.id, o.quantity, o.amount, status, o.payment_ref, o.is_probe,
                     created, expires, utc(o.paid_at))


def _credit(session: Session, account_id: int, quantity: int) -> None:
    session.execute(_update(Account).where(Account.id == account_id)
                    .values(available=Account.available + quantity))


def create_order(session: Session, account: AccountView, key: str, quantity: int,
                 stamp_price: int, service_fee: int, ttl: dt.timedelta,
                 now: dt.datetime) -> tuple[OrderView, bool]:
    """Create an order once per idempotency key; returns (order, created)."""
    def existing() -> tuple[OrderView, bool]:
        order = session.scalar(sa.select(Order).where(Order.account_id == account.id,
                                                      Order.idempotency_key == key))
        assert order is not None
        if order.quantity != quantity:
            raise StoreError("idempotency_conflict",
                             "this Idempotency-Key was used for a different order", 409)
        return _order_view(order, now), False

    if session.scalar(sa.select(Order.id).where(Order.account_id == account.id,
                                                Order.idempotency_key == key)) is not None:
        return existing()
    order = Order(id=uuid.uuid4().hex, account_id=account.id, idempotency_key=key,
                  quantity=quantity, unit_price=stamp_price, service_fee=service_fee,
                  amount=order_amount(quantity, stamp_price, service_fee),
                  status="pending", payment_ref="QR" + secrets.token_hex(12).upper(),
                  is_probe=account.is_probe, created_at=now, expires_at=now + ttl)
    try:
        with session.begin_nested():
            session.add(order)
    except IntegrityError:  # a concurrent request with the same key won the race
        return existing()
    if account.is_probe:  # probe accounts exercise the real path without paying
        order.status, order.paid_at = "paid", now
        _credit(session, account.id, quantity)
    return _order_view(order, now), True


def get_order(session: Session, account_id: int, order_id: str,
              now: dt.datetime) -> OrderView | None:
    """One of the account's orders."""
    order = session.scalar(sa.select(Order).where(Order.id == order_id,
                                                  Order.account_id == account_id))
    return _order_view(order, now) if order is not None else None


def order_by_payment_ref(session: Session, payment_ref: str,
                         now: dt.datetime) -> OrderView | None:
    """The order a QRIS payment reference belongs to."""
    order = session.scalar(sa.select(Order).where(Order.payment_ref == payment_ref))
    return _order_view(order, now) if order is not None else None


def apply_payment(session: Session, event_id: str, order_id: str, amount: int,
                  now: dt.datetime) -> tuple[OrderView, bool]:
    """Apply a verified gateway notification; returns (order, credited_now)."""
    order = session.scalar(sa.select(Order).where(Order.id == order_id))
    if order is None:
        raise StoreError("unknown_order", "no such order", 404)
    if amount != order.amount:
        raise StoreError("amount_mismatch", "the paid amount does not match the order", 400)
    try:
        with session.begin_nested():
            session.add(PaymentEvent(event_id=event_id, order_id=order_id, received_at=now))
    except IntegrityError:
        raise StoreError("replayed", "this notification was already processed", 409) from None
    paid = session.execute(
        _update(Order)
        .where(Order.id == order_id, Order.status == "pending", Order.expires_at > now)
        .values(status="paid", paid_at=now)
    ).rowcount  # type: ignore[attr-defined]
    session.refresh(order)
    if paid == 1:
        _credit(session, order.account_id, order.quantity)
        return _order_view(order, now), True
    if order.status == "paid":
        return _order_view(order, now), False
    raise StoreError("order_expired", "the order expired before it was paid", 409)


def expire_orders(session: Session, now: dt.datetime) -> int:
    """Mark unpaid orders past their deadline as expired."""
    return int(session.execute(_update(Order).where(Order.status == "pending",
                                                      Order.expires_at <= now)
                               .values(status="expired")).rowcount)  # type: ignore[attr-defined]


# --- stamps ---------------------------------------------------------------------------

def reserve_stamp(session: Session, account: AccountView, serial: str, now: dt.datetime,
                  idempotency_key: str | None = None, sha256_before: str | None = None) -> bool:
    """Take one unit of quota and hold ``serial`` for it; False when the quota is empty.

    With ``idempotency_key``, a second reservation under the same key fails on the unique
    constraint (IntegrityError) and the whole transaction, quota debit included, rolls back.
    """
    taken = session.execute(_update(Account)
                            .where(Account.id == account.id, Account.available > 0)
                            .values(available=Account.available - 1)).rowcount  # type: ignore[attr-defined]
    if taken != 1:
        return False
    session.add(Stamp(serial=serial, account_id=account.id, status="reserved",
                      is_probe=account.is_probe, reserved_at=now,
                      idempotency_key=idempotency_key, sha256_before=sha256_before))
    session.flush()
    return True


def stamp_for_key(session: Session, account_id: int,
                  key: str) -> tuple[str, str, str | None] | None:
    """(serial, status, sha256 of the uploaded document) of the account's stamp made under
    ``key``, if any."""
    row = session.execute(sa.select(Stamp.serial, Stamp.status, Stamp.sha256_before)
                          .where(Stamp.account_id == account_id,
                                 Stamp.idempotency_key == key)).first()
    return None if row is None else (str(row[0]), str(row[1]), row[2])


def complete_stamp(session: Session, serial: str, sha256_before: str, sha256_after: str,
                   now: dt.datetime, document: bytes | None = None,
                   placement: dict[str, Any] | None = None) -> None:
    """Turn a reservation into a ledger entry and count the unit as spent.

    ``document`` (the stamped PDF) is kept in the same transaction for later downloads;
    ``placement`` (where the stamp went, what it covers) is kept for the stamp status.
    """
    stamp = session.get(Stamp, serial, with_for_update=True)
    if stamp is None or stamp.status != "reserved":
        raise StoreError("reservation_lost", "the quota reservation is gone", 500)
    stamp.status, stamp.stamped_at = "issued", now
    stamp.sha256_before, stamp.sha256_after = sha256_before, sha256_after
    stamp.placement = json.dumps(placement) if placement else None
    session.execute(_update(Account).where(Account.id == stamp.account_id)
                    .values(spent=Account.spent + 1))
    if document is not None:
        session.add(StampedDocument(serial=serial, pdf=document, stored_at=now))


def stamped_document(session: Session, serial: str, account_id: int) -> bytes | None:
    """The kept stamped PDF of one of ``account_id``'s serials (None: unknown or pruned)."""
    row = session.execute(
        sa.select(StampedDocument.pdf)
        .join(Stamp, Stamp.serial == StampedDocument.serial)
        .where(StampedDocument.serial == serial, Stamp.account_id == account_id)
    ).first()
    return None if row is None else bytes(row[0])


def recent_documents(session: Session, account_id: int, limit: int = 10
                     ) -> list[tuple[str, dt.datetime | None]]:
    """The account's newest kept stamped documents: (serial, stored_at), newest first."""
    rows = session.execute(
        sa.select(Stamp.serial, StampedDocument.stored_at)
        .join(StampedDocument, StampedDocument.serial == Stamp.serial)
        .where(Stamp.account_id == account_id)
        .order_by(StampedDocument.stored_at.desc()).limit(limit))
    return [(serial, utc(at)) for serial, at in rows]


def prune_documents(session: Session, older_than: dt.datetime) -> int:
    """Drop kept documents stored before ``older_than`` (the ledger entries stay)."""
    return int(session.execute(_delete(StampedDocument)
                               .where(StampedDocument.stored_at < older_than))
               .rowcount)  # type: ignore[attr-defined]


def release_stamp(session: Session, serial: str) -> None:
    """Give back a reservation whose document was not produced."""
    deleted = session.execute(_delete(Stamp).where(Stamp.serial == serial,
                                                     Stamp.status == "reserved")
                              .returning(Stamp.account_id)).first()
    if deleted is not None:
        _credit(session, deleted[0], 1)


def release_stale(session: Session, older_than: dt.datetime) -> int:
    """Release reservations orphaned by a crashed process."""
    serials = session.scalars(sa.select(Stamp.serial).where(Stamp.status == "reserved",
                                                            Stamp.reserved_at < older_than))
    count = 0
    for serial in list(serials):
        release_stamp(session, serial)
        count += 1
    return count


def stamp_record(session: Session, serial: str) -> StampView | None:
    """The ledger entry of a serial."""
    stamp = session.get(Stamp, serial)
    if stamp is None:
        return None
    return StampView(stamp.serial, stamp.status, utc(stamp.stamped_at), stamp.sha256_before,
                     stamp.sha256_after, stamp.account_id,
                     json.loads(stamp.placement) if stamp.placement else None)


def quota_probe(session: Session) -> int:
    """A trivial query for readiness checks."""
    return int(session.execute(sa.select(1)).scalar_one())


def stats(session: Session) -> dict[str, int]:
    """Totals for /metrics after a restart: issued stamps by kind."""
    rows = session.execute(sa.select(Stamp.is_probe, sa.func.count())
                           .where(Stamp.status == "issued").group_by(Stamp.is_probe))
    return {("probe" if p else "real"): int(n) for p, n in rows}


# --- faults ---------------------------------------------------------------------------

def load_faults(session: Session) -> dict[str, Any]:
    """The active fault specification ({} when none)."""
    row = session.get(FaultRow, 1)
    return dict(json.loads(row.spec)) if row is not None else {}


def save_faults(session: Session, spec: dict[str, Any], now: dt.datetime) -> None:
    """Replace the active fault specification."""
    row = session.get(FaultRow, 1, with_for_update=True)
    if row is None:
        session.add(FaultRow(id=1, spec=json.dumps(spec), updated_at=now))
    else:
        row.spec, row.updated_at = json.dumps(spec), now
