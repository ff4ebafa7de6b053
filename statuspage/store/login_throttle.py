"""Login throttling in the database: admit or refuse an attempt before its password is checked.

A login is three steps. :func:`login_check` is the admission: in one transaction it locks the
address's and the account's throttle rows (always in that order, so two logins cannot
deadlock), refuses a blocked address or a slowed-down account, and otherwise counts the attempt
as a failure *before* the password is verified. The slow argon2 check then runs outside any
transaction (:func:`check_password`), and :func:`record_login` refunds the count on success.

Counting first is what makes the limit hold under concurrency: thirty parallel attempts are
admitted one at a time by the row lock (``SELECT ... FOR UPDATE`` on PostgreSQL; on SQLite the
upsert that starts the transaction takes the database's write lock), and each sees the ones
before it, so at most ``account_free`` wrong passwords are ever checked in a burst, and a right
password arriving after them waits like any other attempt. The rules are in
``statuspage.auth.ThrottlePolicy``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from argon2 import PasswordHasher
from sqlalchemy.orm import Session

from statuspage.auth import ThrottlePolicy, hash_password, verify_password
from statuspage.models import utcnow
from statuspage.models.operators import LoginThrottle, Operator

__all__ = [
    "LoginCheck",
    "account_key",
    "address_key",
    "check_password",
    "login_check",
    "operator_for",
    "refund",
    "throttle_row",
]


def account_key(email: str) -> str:
    """The throttle key of an account (``email`` already normalised)."""
    return f"account:{email}"


def address_key(address: str | None) -> str:
    """The throttle key of a client address."""
    return f"address:{address or '-'}"


@dataclass(frozen=True)
class LoginCheck:
    """The admission of one attempt: refused (and why), or admitted with the stored hash."""

    email: str
    #: None when admitted; "address" (blocked) or "account" (slowed down) when refused
    refused: str | None
    password_hash: str | None  # None: unknown or inactive account (or refused)
    retry_after_s: int = 0
    #: this attempt's count started a block or slowdown (for the audit entry)
    started_lockout: bool = False

    @property
    def locked(self) -> bool:
        """Whether the attempt was refused before any password check."""
        return self.refused is not None


def throttle_row(session: Session, key: str, now: datetime) -> LoginThrottle:
    """The throttle row for ``key``, created if missing and locked for this transaction."""
    dialect = session.get_bind().dialect.name
    values = {"key": key, "failures": 0, "window_start": now, "updated_at": now}
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        session.execute(pg_insert(LoginThrottle).values(**values).on_conflict_do_nothing())
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        # a write statement: on SQLite it takes the database write lock for the transaction
        session.execute(sqlite_insert(LoginThrottle).values(**values).on_conflict_do_nothing())
    row = session.scalars(sa.select(LoginThrottle).where(LoginThrottle.key == key)
                          .with_for_update().execution_options(populate_existing=True)).one()
    if now - row.window_start > ThrottlePolicy.window and not _waiting(row, now):
        row.failures, row.window_start = 0, now
    return row


def _waiting(row: LoginThrottle, now: datetime) -> bool:
    return row.locked_until is not None and row.locked_until > now


def _seconds(delta: timedelta) -> int:
    return max(1, int(delta.total_seconds() + 0.999))


def login_check(session: Session, email: str, *, address: str | None,
                policy: ThrottlePolicy | None = None, now: datetime | None = None
                ) -> LoginCheck:
    """Admit or refuse one attempt for ``email`` from ``address``; count it when admitted.

    The caller commits this transaction before checking the password.
    """
    from statuspage.store.operators import find_operator, normalise_email

    policy = policy or ThrottlePolicy()
    now = now or utcnow()
    email = normalise_email(email)[:320]
    by_address = throttle_row(session, address_key(address), now)
    if _waiting(by_address, now):
        assert by_address.locked_until is not None
        return LoginCheck(email, "address", None, _seconds(by_address.locked_until - now))
    fresh_address = by_address.failures == 0
    account = throttle_row(session, account_key(email), now)
    if _waiting(account, now) and not fresh_address:
        assert account.locked_until is not None
        return LoginCheck(email, "account", None, _seconds(account.locked_until - now))
    # admitted: counted as a failure now, refunded by record_login if the password is right
    started = False
    by_address.failures += 1
    by_address.updated_at = now
    if by_address.failures >= policy.address_failures:
        by_address.locked_until = now + policy.lockout
        started = True
    account.failures += 1
    account.updated_at = now
    wait = policy.account_wait(account.failures)
    if wait:
        started |= not _waiting(account, now)
        account.locked_until = max(account.locked_until or now, now + wait)
    operator = find_operator(session, email)
    stored = operator.password_hash if operator is not None and operator.active else None
    return LoginCheck(email, None, stored, started_lockout=started)


def refund(session: Session, check: LoginCheck, address: str | None, now: datetime) -> None:
    """A right password: the address gets its attempt back, the account starts afresh."""
    by_address = throttle_row(session, address_key(address), now)
    by_address.failures = max(0, by_address.failures - 1)
    account = throttle_row(session, account_key(check.email), now)
    account.failures, account.locked_until, account.updated_at = 0, None, now


def check_password(hasher: PasswordHasher, check: LoginCheck, password: str
                   ) -> tuple[bool, str | None]:
    """The slow middle step (no database): whether it matches, and a rehash when due."""
    if check.locked:
        return False, None  # refused without spending CPU
    ok = verify_password(hasher, check.password_hash, password)
    if ok and check.password_hash and hasher.check_needs_rehash(check.password_hash):
        return True, hash_password(hasher, password)
    return ok, None


def operator_for(session: Session, check: LoginCheck) -> Operator | None:
    """The active operator of an admitted attempt (None if deactivated meanwhile)."""
    from statuspage.store.operators import find_operator

    operator = find_operator(session, check.email)
    return operator if operator is not None and operator.active else None
