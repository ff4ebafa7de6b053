"""Persistence verbs of the stamping service: accounts, their tokens and quota, and faults.

Every verb takes the session first; the caller (``Database.write``/``read``) owns the
transaction.  Quota moves only through conditional UPDATEs (``... WHERE available > 0``), so
concurrent requests can never spend more than an account holds, on SQLite or PostgreSQL.
Orders and payments are ``stamping.orders``; the stamp ledger and kept documents are
``stamping.ledger``; both use the shared pieces here (``StoreError``, ``AccountView``, ``utc``,
``conditional_update``, ``credit``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from stamping.models import Account, ApiToken, FaultRow, OtpMessage
from stamping.rules import hash_token, new_token

__all__ = [
    "AccountView", "StoreError", "account_for_token", "conditional_update",
    "create_verified_account", "credit", "issue_token", "latest_otp", "load_faults", "login_hash",
    "quota", "quota_probe", "register", "save_faults", "utc", "verify_otp",
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


def conditional_update(model: type[Any]) -> Any:
    """An UPDATE of ``model`` that the database alone decides.

    The ORM must not re-evaluate a conditional UPDATE in Python against loaded objects
    (SQLite hands back naive datetimes).
    """
    return sa.update(model).execution_options(synchronize_session=False)


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


def credit(session: Session, account_id: int, quantity: int) -> None:
    """Add ``quantity`` units to the account's available quota."""
    session.execute(conditional_update(Account).where(Account.id == account_id)
                    .values(available=Account.available + quantity))


def quota_probe(session: Session) -> int:
    """A trivial query for readiness checks."""
    return int(session.execute(sa.select(1)).scalar_one())


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
